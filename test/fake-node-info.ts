// A NodeInfo for tests of the HTTP layer (buildApp().inject): fixed answers, each of which a
// test may override.

import type { NodeInfo, NodeStatus } from '../src/node/status.ts';

export function fakeNodeInfo(overrides: Partial<NodeInfo> = {}): NodeInfo {
  const status: NodeStatus = {
    id: 1, leader: 1, term: 1, commit: 1, applied: 1, raftState: 'StateLeader',
    snapshotIndex: 0, walBytes: 0, snapshotBytes: 0, members: [],
    lastIndex: 1, recentLogTerms: { firstIndex: 1, terms: [1] }, links: [],
  };
  return {
    status: async () => status,
    members: () => [],
    unhealthyReason: async () => null,
    notReadyReason: () => null,
    transferLeader: async (to) => to,
    ...overrides,
  };
}
