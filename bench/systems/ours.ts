// Our cluster for the benchmark: three real nodes on loopback in a temp dir (the e2e
// TestCluster), 100 ms ticks as the other two use, fsync on, a snapshot every
// `snapshotCount` applied entries (the benchmark gives etcd the same).

import { http, TestCluster, type NodeOptions } from '../../test/e2e/cluster.ts';
import { parseLeaderCounters } from '../commit-rounds.ts';
import { readBody, type SystemFactory, type SystemUnderTest } from './system.ts';

export interface OursOptions {
  /** Extra flags for node itself, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** --snapshot-count for every node; the node's own default (10,000) when absent. */
  snapshotCount?: number;
}

export function oursFactory(opts: OursOptions = {}): SystemFactory {
  return {
    name: 'ours',
    check: async () => ({ available: true }),
    start: async () => ours(await TestCluster.start(3, oursNodeOptions(opts))),
  };
}

/** How the benchmark starts each of our nodes. */
export function oursNodeOptions(opts: OursOptions): NodeOptions {
  return {
    tickMs: 100,
    logLevel: 'warn',
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
    ...(opts.snapshotCount !== undefined ? { extraArgs: ['--snapshot-count', String(opts.snapshotCount)] } : {}),
  };
}

const OCTETS = { 'content-type': 'application/octet-stream' };

/** The adapter over a started cluster; exported for --profile, which stops it its own way. */
export function ours(cluster: TestCluster): SystemUnderTest & { cluster: TestCluster } {
  const nodeUrls = cluster.nodes.map((n) => n.url);
  return {
    name: 'ours',
    cluster,
    nodeUrls,
    readModes: ['linearizable', 'serializable'],
    pids: () => cluster.nodes.map((n) => n.proc?.pid),
    leaderIndex: async () => (await cluster.waitLeader()) - 1,
    writeRequest: (key, value) => ({ method: 'PUT', path: `/${key}`, body: Buffer.from(value), headers: OCTETS }),
    isWriteOk: (status) => status === 204,
    readRequest: (key, mode) => ({ method: 'GET', path: mode === 'serializable' ? `/${key}?serializable` : `/${key}` }),
    reader: (i) => ({ name: `node ${i + 1}`, read: (key) => readBody(`${nodeUrls[i]}/${key}?serializable`) }),
    leaderCounters: async (i) => parseLeaderCounters((await http('GET', `${nodeUrls[i]}/-/metrics`)).body),
    logTail: () => cluster.dumpLogs(),
    stop: () => cluster.destroy(),
  };
}
