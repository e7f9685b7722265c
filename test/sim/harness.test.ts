// Tests of the simulator's own parts: PRNG determinism, event order, and the durable model
// the Quorum Durability check asks (durable.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryType, type Entry, type Ready } from '../../src/raftpb/index.ts';
import { DurableLog } from './durable.ts';
import { EventQueue } from './event_queue.ts';
import { Prng } from './prng.ts';

const ent = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array([index]) });

test('the PRNG is deterministic per seed and roughly uniform', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const sa = Array.from({ length: 8 }, () => a.u32());
  assert.deepEqual(sa, Array.from({ length: 8 }, () => b.u32()));
  assert.notDeepEqual(sa, Array.from({ length: 8 }, () => c.u32()));
  const r = new Prng(1);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 40000; i++) counts[r.int(4)]!++;
  for (const n of counts) assert.ok(n > 9000 && n < 11000, `bucket ${n}`);
  assert.notEqual(new Prng(2 ** 40).u32(), new Prng(0).u32());
});

test('events run in time order, ties in scheduling order', () => {
  const q = new EventQueue<string>();
  q.push(5, 'c');
  q.push(1, 'a');
  q.push(5, 'd');
  q.push(3, 'b');
  const out: string[] = [];
  while (q.size > 0) out.push(q.pop()!.value);
  assert.deepEqual(out, ['a', 'b', 'c', 'd']);
});

function persisted(entries: Entry[], mustSync = true): Ready {
  return { softState: null, hardState: null, readStates: [], entries, snapshot: null, committedEntries: [], messages: [], mustSync, changesTermOrVote: false };
}

test('the durable model: persisted entries are held, rewritten ones are reported dropped', () => {
  const d = new DurableLog();
  assert.equal(d.persisted(persisted([ent(1, 1), ent(2, 1), ent(3, 1)])), Infinity);
  assert.ok(d.holds(3, 1));
  assert.equal(d.persisted(persisted([ent(2, 2)])), 2); // Raft's truncation: 2 and 3 of term 1 are gone
  assert.ok(d.holds(2, 2) && !d.holds(3, 1) && d.holds(1, 1));
});

test('the durable model: after a kill -9, what a restart reads back counts only once an fsync covers it', () => {
  const d = new DurableLog();
  d.persisted(persisted([ent(1, 1), ent(2, 1)]));
  const hs = { term: 1, vote: 1, commit: 2 };
  assert.equal(d.restarted(null, [ent(1, 1), ent(2, 1), ent(3, 1)], hs, true), Infinity);
  assert.ok(d.holds(2, 1) && !d.holds(3, 1) && d.contains(3, 1));
  d.persisted(persisted([ent(4, 1)]));
  assert.ok(d.holds(3, 1) && d.holds(4, 1));
  // A power cut then loses 4: the restart reads back less than the model held.
  assert.equal(d.restarted(null, [ent(1, 1), ent(2, 1), ent(3, 1)], hs, false), 4);
});
