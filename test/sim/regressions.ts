// Seeds that once found a real bug (in the core or in the simulator). seeds.test.ts runs
// them all; add one whenever a failure is fixed, with what it found.

import type { PlantedBugs } from '../../src/raft/index.ts';
import type { FaultKind } from './scenario.ts';

export interface RegressionSeed {
  seed: number;
  nodes: 3 | 5;
  found: string;
  /** Run with this planted bug: the seed may fail, but never with `wrongly`. */
  bug?: keyof PlantedBugs;
  wrongly?: string;
  /** Run with only these fault kinds (npm run sim -- --faults ...). */
  faults?: FaultKind[];
}

export const REGRESSION_SEEDS: RegressionSeed[] = [
  // Core bug (fixed in 0af3a95): with maxInflightMsgs 1, a heartbeat response unpaused a full
  // replicate window and the next append threw 'inflights: window is full'.
  { seed: 1, nodes: 3, found: 'core: inflight window overflow after a heartbeat response' },
  // Simulator bug: Leader Completeness was checked against the entry's term instead of the
  // term in which it was committed, flagging a stale leader of an intermediate term.
  { seed: 113, nodes: 3, found: 'checker: commit term vs entry term (Leader Completeness)' },
  { seed: 122, nodes: 5, found: 'checker: commit term vs entry term (Leader Completeness)' },
  // Simulator bug: a vote was counted when its Ready was handed out, though the node crashed
  // before the fsync and so never sent it (run with readWithoutReadIndex, which is harmless here).
  { seed: 139, nodes: 3, found: 'checker: Single Vote counted an unsent vote', bug: 'readWithoutReadIndex', wrongly: 'Single Vote' },
  // Service-level hazard: a member added after the leader's last snapshot cannot install that
  // snapshot (its ConfState lacks the node), so {1} -> {1,6} deadlocked. The simulated app now
  // snapshots right after applying a membership change (etcd instead sends a fresh snapshot).
  { seed: 141, nodes: 3, found: 'app: new member cannot catch up from a snapshot that predates it' },
  { seed: 195, nodes: 3, found: 'app: new member cannot catch up from a snapshot that predates it' },
  // Service-level hazard: a torn crash kept a received snapshot but lost the HardState written
  // after it in the same Ready; restarting with commit below the snapshot index made the core
  // throw. The simulated restart raises commit to the snapshot index (safe: it is committed).
  { seed: 6683, nodes: 3, found: 'app: WAL replay must raise commit to the snapshot index' },
  { seed: 4988, nodes: 5, found: 'app: WAL replay must raise commit to the snapshot index' },
  // Simulator bug: a follower forwards a leadership transfer with the transferee as sender.
  { seed: 2974, nodes: 5, found: 'checker: forwarded MsgTransferLeader keeps its sender' },
  // Core bug (fixed in 68baaca): preVote off, membership {1,2,3} -> +4 -> -2 -> -1: voter n3
  // lagged at the old config and campaigned only to the removed 1 and 2 at ever higher terms;
  // n4 (newest log, config {3,4}) asked n3 for its vote at a lower term, which n3 ignored
  // without answering, so n4 never learned the term it needed. Livelock.
  { seed: 1421, nodes: 3, faults: ['membership', 'partition', 'isolateLeader', 'crash'], found: 'core: lower-term MsgVote ignored, livelock' },
];

/** Seeds that fail because of an open bug in the core; seeds.test.ts runs them as todo tests
 *  (reported, not failing the suite). Move them to REGRESSION_SEEDS once fixed. */
export const KNOWN_CORE_FAILURES: (RegressionSeed & { invariant: string })[] = [];
