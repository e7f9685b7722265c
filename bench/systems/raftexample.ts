// Go raftexample (etcd 3.4's contrib/raftexample, from Debian's golang-etcd-server-dev)
// for the benchmark: built once into a cache dir, three nodes as its Procfile runs them,
// each in a temp dir of its own (it writes ./raftexample-<id>/ into its working directory).
// It answers a PUT before the write commits, which the commit-visibility check measures.

import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { http, freePort, until } from '../../test/e2e/cluster.ts';
import { BenchProcess } from '../processes.ts';
import { readBody, type Availability, type SystemFactory, type SystemUnderTest } from './system.ts';

export const RAFTEXAMPLE_GOPATH = '/usr/share/gocode';
const RAFTEXAMPLE_PACKAGE = 'go.etcd.io/etcd/contrib/raftexample';

export function raftexampleFactory(cacheDir: string): SystemFactory {
  const binary = join(cacheDir, 'raftexample');
  return {
    name: 'raftexample',
    check: () => buildOnce(cacheDir, binary),
    start: () => startRaftexample(binary),
  };
}

/** Build raftexample into cacheDir unless it is there already. */
async function buildOnce(cacheDir: string, binary: string): Promise<Availability> {
  if (await exists(binary)) return { available: true };
  if (!(await exists(join(RAFTEXAMPLE_GOPATH, 'src', RAFTEXAMPLE_PACKAGE)))) {
    return { available: false, reason: `no raftexample source under ${RAFTEXAMPLE_GOPATH} (Debian: apt-get install golang-etcd-server-dev golang-go)` };
  }
  await mkdir(cacheDir, { recursive: true });
  const env = { ...process.env, GOPATH: RAFTEXAMPLE_GOPATH, GO111MODULE: 'off', GOCACHE: join(cacheDir, 'go-build') };
  try {
    await promisify(execFile)('go', ['build', '-o', binary, RAFTEXAMPLE_PACKAGE], { cwd: cacheDir, env });
    return { available: true };
  } catch (e) {
    const detail = (e as { code?: string; stderr?: string }).code === 'ENOENT' ? 'no go in PATH (Debian: apt-get install golang-go)' : String((e as { stderr?: string }).stderr ?? e).slice(-500);
    return { available: false, reason: `could not build raftexample: ${detail}` };
  }
}

async function startRaftexample(binary: string): Promise<SystemUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'raftexample-bench-go-'));
  const peerUrls: string[] = [];
  const nodeUrls: string[] = [];
  for (let i = 1; i <= 3; i++) {
    peerUrls.push(`http://127.0.0.1:${await freePort()}`);
    nodeUrls.push(`http://127.0.0.1:${await freePort()}`);
  }
  const procs: BenchProcess[] = [];
  for (let i = 1; i <= 3; i++) {
    const cwd = join(dir, `node-${i}`);
    await mkdir(cwd);
    const port = new URL(nodeUrls[i - 1]!).port;
    procs.push(new BenchProcess(`raftexample ${i}`, binary, ['--id', String(i), '--cluster', peerUrls.join(','), '--port', port], cwd));
  }
  const system: SystemUnderTest = {
    name: 'raftexample',
    nodeUrls,
    readModes: ['local'],
    pids: () => procs.map((p) => p.pid),
    leaderIndex: () => until('a raftexample leader', async () => electedLeader(procs.map((p) => p.output)), 30_000),
    writeRequest: (key, value) => ({ method: 'PUT', path: `/${key}`, body: Buffer.from(value) }),
    isWriteOk: (status) => status === 204,
    readRequest: (key) => ({ method: 'GET', path: `/${key}` }),
    reader: (i) => ({ name: `raftexample ${i + 1}`, read: (key) => readBody(`${nodeUrls[i]}/${key}`) }),
    logTail: () => procs.map((p) => p.tail()).join('\n'),
    stop: async () => {
      await Promise.all(procs.map((p) => p.kill()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitServing(system);
  } catch (e) {
    const tail = system.logTail();
    await system.stop();
    throw new Error(`raftexample did not come up: ${String(e)}\n${tail}`);
  }
  return system;
}

/** A probe write through the leader, visible on every node: elected, connected, applying. */
async function waitServing(system: SystemUnderTest): Promise<void> {
  const leader = system.nodeUrls[await system.leaderIndex()]!;
  await until('raftexample accepting writes', async () => ((await http('PUT', `${leader}/bench-probe`, 'up')).status === 204 ? true : undefined), 30_000);
  for (let i = 0; i < system.nodeUrls.length; i++) {
    await until(`raftexample node ${i + 1} applying`, async () => ((await system.reader(i).read('bench-probe')) === 'up' ? true : undefined), 30_000);
  }
}

/**
 * The leader (as an index into the nodes) from raft's log lines "raft.node: 2 elected leader 1
 * at term 3" (ids in hex), the highest term seen; undefined before any election.
 */
export function electedLeader(outputs: string[]): number | undefined {
  let best: { term: number; leader: number } | undefined;
  for (const output of outputs) {
    for (const m of output.matchAll(/elected leader ([0-9a-f]+) at term (\d+)/g)) {
      const term = Number(m[2]);
      if (best === undefined || term > best.term) best = { term, leader: parseInt(m[1]!, 16) };
    }
  }
  return best === undefined ? undefined : best.leader - 1;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
