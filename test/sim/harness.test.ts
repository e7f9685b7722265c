// Tests of the simulator's own parts: PRNG determinism, event order, the fake disk's
// durability rules and the network's partitions.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry } from '../../src/raft/index.ts';
import { SimDisk } from './disk.ts';
import { EventQueue } from './event_queue.ts';
import { SimNetwork } from './network.ts';
import { Prng } from './prng.ts';

const ent = (index: number, term: number): Entry => ({ index, term, type: 0, data: new Uint8Array([index]) });

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

test('the disk keeps only synced writes across a crash', () => {
  const d = new SimDisk();
  d.write({ snapshot: null, entries: [ent(1, 1), ent(2, 1)], hardState: { term: 1, vote: 1, commit: 0 } });
  const upTo = d.lastSeq();
  d.write({ snapshot: null, entries: [ent(3, 1)], hardState: { term: 2, vote: 0, commit: 2 } });
  d.synced(upTo);
  d.crash(new Prng(1), false);
  const s = d.read();
  assert.deepEqual(s.entries.map((e) => e.index), [1, 2]);
  assert.deepEqual(s.hardState, { term: 1, vote: 1, commit: 0 });
});

test('a torn crash keeps a prefix of the unsynced records, never a later one alone', () => {
  const kept = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    const d = new SimDisk();
    // Each Ready: one entry, then a HardState committing the entry before it.
    for (let i = 1; i <= 5; i++) d.write({ snapshot: null, entries: [ent(i, 1)], hardState: { term: 1, vote: 0, commit: i - 1 } });
    d.crash(new Prng(seed), true);
    const s = d.read();
    const n = s.entries.length;
    assert.deepEqual(s.entries.map((e) => e.index), Array.from({ length: n }, (_, i) => i + 1));
    // The last HardState kept is from this Ready or the one before (a cut between the two records).
    assert.ok(s.hardState.commit === Math.max(0, n - 1) || s.hardState.commit === Math.max(0, n - 2), `n=${n} commit=${s.hardState.commit}`);
    kept.add(n * 10 + s.hardState.commit);
  }
  assert.ok(kept.size > 3, 'torn crashes should keep prefixes of different lengths');
});

test('the disk truncates overwritten entries and compacts under snapshots', () => {
  const d = new SimDisk();
  d.write({ snapshot: null, entries: [ent(1, 1), ent(2, 1), ent(3, 1)], hardState: null });
  d.write({ snapshot: null, entries: [ent(2, 2)], hardState: null });
  d.synced(d.lastSeq());
  assert.deepEqual(d.read().entries.map((e) => `${e.index}/${e.term}`), ['1/1', '2/2']);
  const cs = { voters: [1], learners: [] };
  d.write({ snapshot: { snap: { metadata: { index: 1, term: 1, confState: cs }, data: new Uint8Array() }, kind: 'app' }, entries: [], hardState: null });
  d.synced(d.lastSeq());
  assert.deepEqual(d.read().entries.map((e) => e.index), [2]);
  d.write({ snapshot: { snap: { metadata: { index: 9, term: 3, confState: cs }, data: new Uint8Array() }, kind: 'raft' }, entries: [ent(10, 3)], hardState: null });
  d.synced(d.lastSeq());
  assert.deepEqual(d.read().entries.map((e) => e.index), [10]);
  assert.throws(() => {
    d.write({ snapshot: null, entries: [ent(12, 3)], hardState: null });
    d.synced(d.lastSeq());
  }, /gap/);
});

test('partitions cut the right links', () => {
  const n = new SimNetwork(new Prng(1), [1, 2, 3, 4, 5]);
  n.partition([[1, 2], [3, 4, 5]]);
  assert.equal(n.canReach(1, 2), true);
  assert.equal(n.canReach(1, 3), false);
  assert.equal(n.canReach(4, 2), false);
  n.cutOneWay([1], [2, 3]);
  assert.equal(n.canReach(1, 2), false);
  assert.equal(n.canReach(2, 1), true);
  n.bridge([1, 2], 3, [4, 5]);
  assert.equal(n.canReach(1, 3), true);
  assert.equal(n.canReach(3, 5), true);
  assert.equal(n.canReach(2, 4), false);
  assert.equal(n.canReach(5, 1), false);
  n.heal();
  assert.equal(n.canReach(5, 1), true);
  assert.deepEqual(n.route(1, 2).length, 1);
});

test('the key-value state machine applies each request once and survives a snapshot', async () => {
  const { KvStateMachine, decodeWrite, encodeWrite } = await import('./kv.ts');
  const sm = new KvStateMachine();
  assert.equal(sm.apply(decodeWrite(encodeWrite({ reqId: 3, key: 'x', value: 'a' }))), true);
  assert.equal(sm.apply({ reqId: 900, key: 'x', value: 'b' }), true);
  assert.equal(sm.apply({ reqId: 3, key: 'x', value: 'a' }), false);
  assert.equal(sm.get('x'), 'b');
  const copy = KvStateMachine.restore(sm.serialize());
  assert.equal(copy.digest(), sm.digest());
  assert.equal(copy.hasApplied(900), true);
  assert.equal(copy.hasApplied(4), false);
});
