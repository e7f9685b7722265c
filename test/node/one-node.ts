// A one-member cluster in this process: the real RaftNode and KvStore on a temp data dir,
// its peer listener open on a free port. Its only member is its own leader.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Chan } from '../../src/chan.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { KvStore } from '../../src/kvstore.ts';
import type { NodeEvents } from '../../src/node/events.ts';
import type { NodeMetrics } from '../../src/node/metrics.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { worldWith } from '../../src/node/world.ts';
import type { ConfChangeRequest } from '../../src/queues.ts';
import { nodeFs, type StorageFs } from '../../src/storage/index.ts';
import { startInProcess } from './in-process.ts';
import { freePort, until } from '../e2e/cluster.ts';

export interface OneNode {
  node: RaftNode;
  kv: KvStore;
  confChangeC: Chan<ConfChangeRequest>;
  config: Config;
  stop(): Promise<void>;
}

/** Started and leading; stopped and its data dir removed after the test. */
/** `args`: more flags. `appliedSeen` may stand between the node and the kvstore's applied index (to show a lagging apply). */
export async function startOneNode(
  t: TestContext,
  opts: { fs?: StorageFs; args?: string[]; requestTimeoutMs?: number; appliedSeen?: (applied: number) => number; metrics?: NodeMetrics; events?: NodeEvents } = {},
): Promise<OneNode> {
  const dir = await mkdtemp(join(tmpdir(), 'one-node-'));
  const parsed = parseConfig([
    '--id', '1', '--cluster', `http://127.0.0.1:${await freePort()}`, '--port', String(await freePort()),
    '--data-dir', dir, '--tick-ms', '10', '--log-level', 'silent', '--request-timeout-ms', String(opts.requestTimeoutMs ?? 2000),
    ...(opts.args ?? []),
  ]);
  if (parsed.help) throw new Error('unreachable');
  const config = parsed.config;
  const { node, kv, confChangeC, stop } = await startInProcess(config, {
    world: worldWith({ fs: opts.fs ?? nodeFs }),
    ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
    ...(opts.events === undefined ? {} : { events: opts.events }),
    ...(opts.appliedSeen === undefined ? {} : { appliedSeen: opts.appliedSeen }),
  });
  t.after(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });
  await until('leadership', async () => ((await node.status()).leader === 1 ? true : undefined));
  return { node, kv, confChangeC, config, stop };
}
