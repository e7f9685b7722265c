// Seeds that once found a real bug (in the core or in the simulator). seeds.test.ts runs
// them all; add one whenever a failure is fixed, with what it found.

import type { PlantedBugs } from '../../src/raft/index.ts';
import type { ClusterShape, FaultKind } from './scenario.ts';

export interface RegressionSeed {
  seed: number;
  nodes: ClusterShape;
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
  // Issue 7 item 9: a single voter counted its own entries at append time (every 1+2 seed
  // failed Quorum Durability at once); after the fix, a restarted single voter answered a read
  // from a stale commit index before its no-op committed (927); a single voter's leadership
  // in a term it never persisted was taken for a second leader (checker, 1539).
  { seed: 1, nodes: '1+2', found: 'core: single voter commits an entry not on its disk' },
  { seed: 927, nodes: '1+2', found: 'core: restarted single voter reads from a stale commit' },
  { seed: 1539, nodes: '1+2', found: 'checker: unpersisted single-voter leadership' },
  // Two voters, one removed: the node that applied the removal restarted with an older commit
  // index (a commit-only HardState is not fsynced) and was back in the two-voter configuration
  // (2024, 2704, 3804, 7976): a Ready that applies a ConfChange is now synced. A leader that
  // left the voters stepped down on CheckQuorum before the survivor knew (8872).
  { seed: 2024, nodes: '2+1', found: 'core: applied conf change forgotten after a restart' },
  { seed: 7976, nodes: '2+1', found: 'core: applied conf change forgotten after a restart' },
  { seed: 8872, nodes: '2+1', found: 'core: leaving leader stepped down on CheckQuorum' },
  // Sim: a learner applied the removal of the leader before the survivor did, and the removed
  // node stopped at once: the survivor stayed in {1,4}. Removed nodes now all leave only once
  // the voters' disks vouch for the removal.
  { seed: 9527, nodes: '1+2', found: 'sim: a removed node stopped before the survivor knew' },
  { seed: 727, nodes: '1+2', found: 'sim: a leaving node waits until the voters\' disks vouch for its removal' },
  // Voters {2,5}; leader 5 removes itself; CheckQuorum deposes it just before it applies the
  // removal. Then 5 (not a voter in its own configuration) cannot campaign, and 2 (still in
  // {2,5}, lacking entry 93 that 5 has) cannot win 5's vote: wedged (3752); the same after the
  // leaving leader crashed and restarted as a follower (2439). Vote answers now carry the
  // voter's commit index, so 2 learns from 5's refusal that the removal committed.
  { seed: 3752, nodes: '2+1', found: 'core: survivor never learned the removal of the other voter' },
  { seed: 2439, nodes: '1+2', found: 'core: survivor never learned the removal after a crash' },
  // A candidate that learned a commit from a vote answer applied its own removal mid-campaign,
  // then won and became leader without a progress of its own: it now gives the campaign up.
  { seed: 6657, nodes: 3, found: 'core: candidate removed by a commit learned mid-campaign' },
];

/** Seeds that fail because of an open bug in the core; seeds.test.ts runs them as todo tests
 *  (reported, not failing the suite). Move them to REGRESSION_SEEDS once fixed. */
export const KNOWN_CORE_FAILURES: (RegressionSeed & { invariant: string })[] = [
];
