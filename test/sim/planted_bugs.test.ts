// The simulator must catch each planted bug, the node's and the core's, within a small seed
// budget: proof that its faults and checks see the mistakes they claim to guard against.
// Catch rates over seeds 1..100 per cluster shape are in docs/sim.md
// (npm run sim -- --seeds 100 --nodes SHAPE --bug NAME).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BugName, type FaultKind, nodesForSeed, type NodesOption } from './scenario.ts';
import { runSimulation, type SimResult } from './simulator.ts';

interface PlantedCase {
  bug: BugName;
  nodes: NodesOption;
  /** A fault mix that reaches the bug's ground more often (null: the whole mix). */
  faults: FaultKind[] | null;
  /** Seeds 1..seeds: one of them must catch it... */
  seeds: number;
  /** ...with one of these checks. */
  caughtBy: string[];
}

const CASES: PlantedCase[] = [
  { bug: 'ackBeforeFsync', nodes: 'all', faults: null, seeds: 10, caughtBy: ['Quorum Durability'] },
  { bug: 'applyBeforeDurable', nodes: 'all', faults: null, seeds: 10, caughtBy: ['Apply after persist'] },
  { bug: 'readFromOlderRound', nodes: 'all', faults: null, seeds: 24, caughtBy: ['Linearizability'] },
  // A new member needed for a quorum ({1} + a voter) cannot install a snapshot that predates it.
  { bug: 'skipSnapshotAfterAddNode', nodes: '1+2', faults: null, seeds: 20, caughtBy: ['Liveness'] },
  // A deposed leader's log superseded by a snapshot, then a crash right after installing it.
  { bug: 'replayKeepsSuperseded', nodes: 'all', faults: ['isolateLeader', 'heal', 'crash', 'kill'], seeds: 30, caughtBy: ['Restart failed', 'Log Matching'] },
  { bug: 'grantTwoVotesPerTerm', nodes: 'all', faults: null, seeds: 20, caughtBy: ['Single Vote', 'Election Safety'] },
  { bug: 'readWithoutReadIndex', nodes: 'all', faults: null, seeds: 10, caughtBy: ['Linearizability'] },
  // Only where a follower catches up over several appends while the leader's own is on disk.
  { bug: 'commitOldTermByCount', nodes: '3', faults: ['crashLeader', 'kill', 'slowDisk'], seeds: 100, caughtBy: ['Leader commit rule'] },
  // Issue 7's fixes, reverted, each with the fault aimed at its ground (docs/sim.md).
  // Old snapshot files removed before the new marker is durable, then a crash: nothing vouched for is left.
  { bug: 'retainBeforeMarker', nodes: 'all', faults: ['crashAfterRetention'], seeds: 12, caughtBy: ['Restart failed'] },
  // A lagging leader-to-follower link across quick restarts: an earlier life's ReadIndex answer serves a later life's read.
  { bug: 'readEpochConstant', nodes: 'all', faults: ['lateReadAnswers'], seeds: 20, caughtBy: ['Linearizability'] },
  // Two requests for the same new member: the first entry applied answers both.
  { bug: 'confChangeByContent', nodes: 'all', faults: ['sameChangeTwice'], seeds: 6, caughtBy: ['Membership'] },
  // A survivor of a removal applies it before its fsync, tells the removed voter (410), and forgets it in a power cut.
  { bug: 'applyConfChangeEarly', nodes: 'all', faults: ['crashApplyingConfChange'], seeds: 12, caughtBy: ['Liveness'] },
  // The read lease outlasting the followers' promise: an isolated leader serves reads while the others elect and commit.
  { bug: 'leaseTooLong', nodes: 'all', faults: ['isolateLeaderReads'], seeds: 12, caughtBy: ['Linearizability'] },
];

async function firstFailure(c: PlantedCase): Promise<SimResult | undefined> {
  for (let seed = 1; seed <= c.seeds; seed++) {
    const r = await runSimulation({ seed, nodes: nodesForSeed(seed, c.nodes), bug: c.bug, onlyFaults: c.faults ?? undefined });
    if (!r.ok) return r;
  }
  return undefined;
}

for (const c of CASES) {
  const where = `${c.nodes === 'all' ? 'every shape' : c.nodes}${c.faults === null ? '' : `, faults ${c.faults.join(',')}`}`;
  test(`planted bug ${c.bug} is caught within ${c.seeds} seeds (${where})`, async () => {
    const r = await firstFailure(c);
    assert.ok(r !== undefined, `${c.bug} not caught in seeds 1..${c.seeds}`);
    assert.ok(c.caughtBy.includes(r.invariant!), `seed ${r.seed}: ${r.invariant}: ${r.detail}`);
  });
}
