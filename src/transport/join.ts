// A --join member has no WAL yet and must learn the cluster id from a running member
// before it creates one: ask each listed peer in turn until one answers.

import { request } from 'undici';
import { PATH_CLUSTER } from './headers.ts';
import type { ClusterInfo } from './server.ts';

export async function fetchClusterInfo(peerUrls: readonly string[], timeoutMs: number): Promise<ClusterInfo> {
  const errors: string[] = [];
  for (const url of peerUrls) {
    try {
      const res = await request(url + PATH_CLUSTER, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      if (res.statusCode !== 200) {
        await res.body.dump();
        errors.push(`${url}: HTTP ${res.statusCode}`);
        continue;
      }
      const info = (await res.body.json()) as ClusterInfo;
      if (typeof info.clusterId !== 'string' || info.clusterId === '' || !Array.isArray(info.members)) {
        errors.push(`${url}: malformed answer`);
        continue;
      }
      return info;
    } catch (e) {
      errors.push(`${url}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no member answered with the cluster id (${errors.join('; ')})`);
}
