// A --join member has no WAL yet and must learn the cluster id from a running member
// before it creates one: ask each listed peer in turn until one answers.

import { PATH_CLUSTER } from './headers.ts';
import type { PeerNetwork } from './network.ts';
import type { ClusterInfo } from './server.ts';

export async function fetchClusterInfo(network: PeerNetwork, peerUrls: readonly string[], timeoutMs: number): Promise<ClusterInfo> {
  const errors: string[] = [];
  for (const url of peerUrls) {
    const conn = network.connect(url, { connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs, snapshotTimeoutMs: timeoutMs });
    try {
      const res = await conn.request({ method: 'GET', path: PATH_CLUSTER, headers: {}, body: new Uint8Array(0) });
      if (res.status !== 200) {
        errors.push(`${url}: ${res.status === 0 ? 'no answer' : `HTTP ${res.status}`}`);
        continue;
      }
      const info = parseClusterInfo(res.body);
      if (info === null) {
        errors.push(`${url}: malformed answer`);
        continue;
      }
      return info;
    } finally {
      await conn.close();
    }
  }
  throw new Error(`no member answered with the cluster id (${errors.join('; ')})`);
}

function parseClusterInfo(body: Uint8Array): ClusterInfo | null {
  let info: ClusterInfo;
  try {
    info = JSON.parse(new TextDecoder().decode(body)) as ClusterInfo;
  } catch {
    return null;
  }
  if (typeof info?.clusterId !== 'string' || info.clusterId === '' || !Array.isArray(info.members)) return null;
  return info;
}
