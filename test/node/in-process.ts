// A node as a process would run it, but in this one: the real RaftNode and KvStore joined by
// the three queues, started and stopped in src/main.ts's order. The tests' one-member cluster
// and the node under a scripted leader are both built on it.

import { Chan } from '../../src/chan.ts';
import type { Config } from '../../src/config.ts';
import { KvStore } from '../../src/kvstore.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import type { NodeEvents } from '../../src/node/events.ts';
import type { NodeMetrics } from '../../src/node/metrics.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import type { NodeWorld } from '../../src/node/world.ts';
import type { Commit, ConfChangeRequest, Proposal } from '../../src/queues.ts';

export interface InProcessNode {
  node: RaftNode;
  kv: KvStore;
  proposeC: Chan<Proposal>;
  confChangeC: Chan<ConfChangeRequest>;
  /** Idempotent: closes the queues, stops the node, then the kvstore. */
  stop(): Promise<void>;
}

export interface InProcessOptions {
  log?: Logger;
  world?: NodeWorld;
  metrics?: NodeMetrics;
  events?: NodeEvents;
  /** May stand between the node and the kvstore's applied index (to show a lagging apply). */
  appliedSeen?: (applied: number) => number;
}

export async function startInProcess(config: Config, opts: InProcessOptions = {}): Promise<InProcessNode> {
  const appliedSeen = opts.appliedSeen ?? ((applied: number) => applied);
  const proposeC = new Chan<Proposal>(4096);
  const confChangeC = new Chan<ConfChangeRequest>(4);
  const commitC = new Chan<Commit>(16);
  const ref: { kv: KvStore | null } = { kv: null };
  const node = await RaftNode.open({
    config, log: opts.log ?? createLogger('silent', config.id), proposeC, confChangeC, commitC,
    ...(opts.world === undefined ? {} : { world: opts.world }),
    ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
    ...(opts.events === undefined ? {} : { events: opts.events }),
    kvCapture: () => ref.kv!.captureState(), kvApplied: () => appliedSeen(ref.kv!.applied), kvApplying: () => true,
  });
  const kv = (ref.kv = new KvStore({ nodeId: config.id, proposeC, commitC, readIndex: () => node.readIndex(), requestTimeoutMs: config.requestTimeoutMs }));
  const restored = node.takeRestoredKv();
  if (restored !== null) kv.restore(restored.data, restored.index);
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
  return { node, kv, proposeC, confChangeC, stop };
}
