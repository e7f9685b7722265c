// The node and the key-value store joined as the service runs them: the three bounded queues,
// RaftNode.open, then the KvStore fed by commitC, restored from the node's snapshot. main.ts
// and the whole-node simulator (test/sim/member.ts) start the same pair through this.

import { Chan } from './chan.ts';
import { KvStore, type KvStoreOptions } from './kvstore.ts';
import { commitQueueCommitsMax, confChangeQueueChangesMax, proposeQueueBytesMax, proposeQueueProposalsMax } from './limits.ts';
import { RaftNode, type RaftNodeOptions } from './node/raft-node.ts';
import type { Commit, ConfChangeRequest, Proposal } from './queues.ts';

export interface NodeWithStore {
  node: RaftNode;
  kv: KvStore;
  proposeC: Chan<Proposal>;
  confChangeC: Chan<ConfChangeRequest>;
  commitC: Chan<Commit>;
}

type NodeOnly = Omit<RaftNodeOptions, 'proposeC' | 'confChangeC' | 'commitC' | 'kvCapture' | 'kvApplied' | 'kvApplying'>;

/** Open the node (replaying its disk), then the store beside it; neither is started yet. */
export async function openNodeWithStore(nodeOptions: NodeOnly, kvOptions: Pick<KvStoreOptions, 'testSwitches' | 'world' | 'restorePairsPerTurn'> = {}): Promise<NodeWithStore> {
  // Bounded by count and bytes (limits.ts): past these, senders wait or are refused.
  const proposeC = new Chan<Proposal>(proposeQueueProposalsMax, { bytesMax: proposeQueueBytesMax, sizeOf: (p) => p.data.length });
  const confChangeC = new Chan<ConfChangeRequest>(confChangeQueueChangesMax);
  const commitC = new Chan<Commit>(commitQueueCommitsMax);
  const ref: { kv: KvStore | null } = { kv: null };
  const node = await RaftNode.open({
    ...nodeOptions,
    proposeC,
    confChangeC,
    commitC,
    kvCapture: () => ref.kv!.captureState(),
    kvApplied: () => ref.kv?.applied ?? 0,
    kvApplying: () => ref.kv?.isApplying ?? false,
  });
  const cfg = nodeOptions.config;
  const kv = new KvStore({ ...kvOptions, nodeId: cfg.id, proposeC, commitC, readIndex: () => node.readIndex(), requestTimeoutMs: cfg.requestTimeoutMs });
  ref.kv = kv;
  const restored = node.takeRestoredKv();
  if (restored !== null) kv.restore(restored.data, restored.index);
  return { node, kv, proposeC, confChangeC, commitC };
}
