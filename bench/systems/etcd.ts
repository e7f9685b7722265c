// etcd 3.4 for the benchmark: a 3-member cluster on loopback, each member in a temp data
// dir, driven through the v2 keys API (PUT /v2/keys/<k> with a form body; GET reads the
// member's local state, etcd's v2 default).

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { freePort, until } from '../../test/e2e/cluster.ts';
import { BenchProcess } from '../processes.ts';
import type { SystemFactory, SystemUnderTest } from './system.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** etcd at `binary`, taking a snapshot every `snapshotCount` applied entries (the benchmark's --snapshot-count). */
export function etcdFactory(binary: string, snapshotCount: number): SystemFactory {
  return {
    name: 'etcd',
    check: async () => {
      try {
        const { stdout } = await promisify(execFile)(binary, ['--version']);
        return /etcd Version: 3\./.test(stdout) ? { available: true } : { available: false, reason: `${binary} is not etcd 3.x: ${stdout.split('\n')[0]}` };
      } catch {
        return { available: false, reason: `no etcd at ${binary} (Debian: apt-get install etcd-server; or --etcd PATH)` };
      }
    },
    start: () => startEtcd(binary, snapshotCount),
  };
}

async function startEtcd(binary: string, snapshotCount: number): Promise<SystemUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'raftexample-bench-etcd-'));
  const members = [];
  for (let i = 1; i <= 3; i++) members.push({ name: `m${i}`, peerUrl: `http://127.0.0.1:${await freePort()}`, clientUrl: `http://127.0.0.1:${await freePort()}` });
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const procs = members.map(
    (m) =>
      new BenchProcess(`etcd ${m.name}`, binary, [
        '--name', m.name, '--data-dir', join(dir, m.name), '--enable-v2',
        '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
        '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
        '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'bench',
        '--snapshot-count', String(snapshotCount), '--logger', 'zap', '--log-level', 'warn',
      ], dir),
  );
  const nodeUrls = members.map((m) => m.clientUrl);
  const system: SystemUnderTest = {
    name: 'etcd',
    nodeUrls,
    readModes: ['local'],
    pids: () => procs.map((p) => p.pid),
    leaderIndex: () => until('an etcd leader', async () => {
      const states = await Promise.all(nodeUrls.map((u) => memberState(u).catch(() => '')));
      const leader = states.indexOf('StateLeader');
      return leader >= 0 ? leader : undefined;
    }, 30_000),
    writeRequest: (key, value) => ({ method: 'PUT', path: `/v2/keys/${key}`, body: Buffer.from(`value=${encodeURIComponent(value)}`), headers: FORM }),
    isWriteOk: (status) => status === 200 || status === 201,
    readRequest: (key) => ({ method: 'GET', path: `/v2/keys/${key}` }),
    reader: (i) => ({ name: `etcd m${i + 1}`, read: (key) => v2Value(`${nodeUrls[i]}/v2/keys/${key}`) }),
    logTail: () => procs.map((p) => p.tail()).join('\n'),
    stop: async () => {
      await Promise.all(procs.map((p) => p.kill()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await system.leaderIndex();
  } catch (e) {
    const tail = system.logTail();
    await system.stop();
    throw new Error(`etcd did not elect a leader: ${String(e)}\n${tail}`);
  }
  return system;
}

async function memberState(clientUrl: string): Promise<string> {
  const res = await request(`${clientUrl}/v2/stats/self`, { headersTimeout: 2000, bodyTimeout: 2000 });
  return ((await res.body.json()) as { state?: string }).state ?? '';
}

async function v2Value(url: string): Promise<string | undefined> {
  const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
  const body = await res.body.text();
  if (res.statusCode === 404) return undefined;
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode}`);
  return (JSON.parse(body) as { node?: { value?: string } }).node?.value;
}
