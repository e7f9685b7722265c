// A one-member cluster in this process: the real RaftNode and KvStore on a temp data dir,
// its peer listener open on a free port. Its only member is its own leader.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Chan } from '../../src/chan.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { KvStore } from '../../src/kvstore.ts';
import { createLogger } from '../../src/logger.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { worldWith } from '../../src/node/world.ts';
import type { ConfChangeRequest, Commit, Proposal } from '../../src/queues.ts';
import { nodeFs, type StorageFs } from '../../src/storage/index.ts';
import { freePort, until } from '../e2e/cluster.ts';

export interface OneNode {
  node: RaftNode;
  kv: KvStore;
  confChangeC: Chan<ConfChangeRequest>;
  config: Config;
  stop(): Promise<void>;
}

/** Started and leading; stopped and its data dir removed after the test. */
/** `appliedSeen` may stand between the node and the kvstore's applied index (to show a lagging apply). */
export async function startOneNode(
  t: TestContext,
  opts: { fs?: StorageFs; requestTimeoutMs?: number; appliedSeen?: (applied: number) => number } = {},
): Promise<OneNode> {
  const appliedSeen = opts.appliedSeen ?? ((applied: number) => applied);
  const dir = await mkdtemp(join(tmpdir(), 'one-node-'));
  const parsed = parseConfig([
    '--id', '1', '--cluster', `http://127.0.0.1:${await freePort()}`, '--port', String(await freePort()),
    '--data-dir', dir, '--tick-ms', '10', '--log-level', 'silent',
  ]);
  if (parsed.help) throw new Error('unreachable');
  const config = parsed.config;
  const proposeC = new Chan<Proposal>(64);
  const confChangeC = new Chan<ConfChangeRequest>(4);
  const commitC = new Chan<Commit>(16);
  const ref: { kv: KvStore | null } = { kv: null };
  const node = await RaftNode.open({
    config, log: createLogger('silent', 1), proposeC, confChangeC, commitC, world: worldWith({ fs: opts.fs ?? nodeFs }),
    kvSnapshot: () => ref.kv!.snapshot(), kvApplied: () => appliedSeen(ref.kv!.applied), kvApplying: () => true,
  });
  const kv = (ref.kv = new KvStore({ nodeId: 1, proposeC, commitC, readIndex: () => node.readIndex(), requestTimeoutMs: opts.requestTimeoutMs ?? 2000 }));
  const applying = kv.run();
  await node.listenPeers();
  node.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    proposeC.close();
    confChangeC.close();
    await node.stop().catch(() => undefined);
    kv.stop();
    commitC.close();
    await applying;
  };
  t.after(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });
  await until('leadership', async () => ((await node.status()).leader === 1 ? true : undefined));
  return { node, kv, confChangeC, config, stop };
}
