// The ready plan: what may be applied while a Ready is persisted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planReady } from '../../src/node/ready-plan.ts';
import { EntryType, type Entry, type Ready } from '../../src/raftpb/index.ts';

const entry = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(`e${index}.${term}`) });

function ready(parts: Partial<Ready>): Ready {
  return { softState: null, hardState: null, readStates: [], entries: [], snapshot: null, committedEntries: [], messages: [], mustSync: false, changesTermOrVote: false, ...parts };
}

test('committed entries already on disk are applied early, the rest after the persist', () => {
  const rd = ready({ entries: [entry(11, 2)], committedEntries: [entry(9, 2), entry(10, 2), entry(11, 2)], mustSync: true });
  const plan = planReady(rd, [], false, 10);
  assert.deepEqual(plan.applyEarly.map((e) => e.index), [9, 10]);
  assert.deepEqual(plan.applyAfterPersist.map((e) => e.index), [11]);
});

// Found by the simulator (seed 1, 3 voters): a follower's disk held entry 10 of term 5; the new
// leader's append replaced it with entry 10 of term 7, committed in the same Ready. Judged by
// index alone, entry 10 was "on disk" and was applied before the write that put it there.
test('a committed entry that the same Ready rewrites is not on disk yet: applied only after the persist', () => {
  const rd = ready({ entries: [entry(10, 7), entry(11, 7)], committedEntries: [entry(9, 5), entry(10, 7)], mustSync: true });
  const plan = planReady(rd, [], false, 10);
  assert.deepEqual(plan.applyEarly.map((e) => e.index), [9]);
  assert.deepEqual(plan.applyAfterPersist.map((e) => e.index), [10]);
});
