// The checker's own tests: it must accept linearizable histories (including ones that need
// indeterminate writes placed late, or dropped) and reject stale or impossible reads.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryOp, OpKind, OpStatus } from './history.ts';
import { checkLinearizable } from './linearizability.ts';
import { Prng } from './prng.ts';

let nextId = 0;
/** An op from `start` to `end` (global event order); end undefined = indeterminate. */
function op(kind: OpKind, key: string, value: string | null, start: number, end?: number, status?: OpStatus): HistoryOp {
  return {
    id: nextId++,
    client: 0,
    node: 1,
    kind,
    key,
    value,
    status: status ?? (end === undefined ? 'info' : 'ok'),
    invokeSeq: start,
    completeSeq: end ?? Infinity,
    invokeTick: start,
    completeTick: end ?? Infinity,
  };
}
const w = (key: string, v: string, s: number, e?: number, st?: OpStatus) => op('write', key, v, s, e, st);
const r = (key: string, v: string | null, s: number, e?: number, st?: OpStatus) => op('read', key, v, s, e, st);

test('empty and trivially sequential histories are linearizable', () => {
  assert.deepEqual(checkLinearizable([]), { ok: true });
  assert.equal(checkLinearizable([r('x', null, 0, 1), w('x', 'a', 2, 3), r('x', 'a', 4, 5)]).ok, true);
});

test('a read after a completed write must not see the older value', () => {
  const res = checkLinearizable([w('x', 'a', 0, 1), w('x', 'b', 2, 3), r('x', 'a', 4, 5)]);
  assert.equal(res.ok, false);
  if (!res.ok) assert.equal(res.key, 'x');
});

test('a read may see a concurrent write or the value before it', () => {
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('x', 'b', 2, 10), r('x', 'a', 3, 4), r('x', 'b', 5, 6)]).ok, true);
  // ...but once one read saw the new value, a later read must not see the old one.
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('x', 'b', 2, 10), r('x', 'b', 3, 4), r('x', 'a', 5, 6)]).ok, false);
});

test('reading a never-written value, or absent after a write, is not linearizable', () => {
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), r('x', 'zzz', 2, 3)]).ok, false);
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), r('x', null, 2, 3)]).ok, false);
});

test('keys are independent', () => {
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('y', 'b', 2, 3), r('x', 'a', 4, 5), r('y', 'b', 6, 7)]).ok, true);
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('y', 'b', 2, 3), r('y', null, 4, 5)]).ok, false);
});

test('an indeterminate write may take effect long after its invocation', () => {
  // w(b) timed out; a much later read sees b: fine, it took effect late.
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('x', 'b', 2), r('x', 'a', 10, 11), r('x', 'b', 20, 21)]).ok, true);
  // ...and it may never take effect at all.
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('x', 'b', 2), r('x', 'a', 20, 21)]).ok, true);
  // but it cannot take effect before it was invoked.
  assert.equal(checkLinearizable([r('x', 'b', 0, 1), w('x', 'b', 2)]).ok, false);
  // and once it has been seen, a later read cannot see what it overwrote... unless rewritten.
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('x', 'b', 2), r('x', 'b', 3, 4), r('x', 'a', 5, 6)]).ok, false);
});

test('failed writes never took effect; incomplete reads say nothing', () => {
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('x', 'b', 2, 3, 'fail'), r('x', 'a', 4, 5)]).ok, true);
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), w('x', 'b', 2, 3, 'fail'), r('x', 'b', 4, 5)]).ok, false);
  assert.equal(checkLinearizable([w('x', 'a', 0, 1), r('x', 'zzz', 2, undefined, 'info')]).ok, true);
});

test('overlapping writes can be ordered either way, but consistently', () => {
  const ops = [w('x', 'a', 0, 5), w('x', 'b', 1, 6), r('x', 'b', 7, 8), r('x', 'b', 9, 10)];
  assert.equal(checkLinearizable(ops).ok, true);
  const bad = [w('x', 'a', 0, 5), w('x', 'b', 1, 6), r('x', 'a', 2, 3), r('x', 'b', 4, 7), r('x', 'a', 8, 9)];
  assert.equal(checkLinearizable(bad).ok, false);
});

test('a random sequential register history with concurrency noise stays linearizable', () => {
  // Generate a real sequential execution, then widen each op's interval around its
  // linearization point: the result must be accepted.
  const rng = new Prng(7);
  for (let round = 0; round < 20; round++) {
    const ops: HistoryOp[] = [];
    const value = new Map<string, string | null>();
    let t = 0;
    for (let i = 0; i < 300; i++) {
      const key = rng.pick(['x', 'y', 'z']);
      const point = (t += 10);
      const start = point - rng.int(40);
      const end = point + 1 + rng.int(40);
      if (rng.chance(0.5)) {
        const v = `v${round}-${i}`;
        value.set(key, v);
        ops.push(rng.chance(0.2) ? w(key, v, start) : w(key, v, start, end));
      } else {
        ops.push(r(key, value.get(key) ?? null, start, end));
      }
    }
    assert.equal(checkLinearizable(ops).ok, true, `round ${round}`);
    // Make one read stale: pick a read that saw a value overwritten well before it started.
    const reads = ops.filter((o) => o.kind === 'read' && o.status === 'ok');
    const victim = reads[reads.length - 1]!;
    const older = ops.find((o) => o.kind === 'write' && o.key === victim.key && o.status === 'ok' && o.completeSeq < victim.invokeSeq - 200);
    if (older !== undefined && older.value !== victim.value) {
      const laterWrite = ops.some((o) => o.kind === 'write' && o.key === victim.key && o !== older && o.status === 'ok' && o.invokeSeq > older.completeSeq && o.completeSeq < victim.invokeSeq);
      if (laterWrite) {
        victim.value = older.value;
        assert.equal(checkLinearizable(ops).ok, false, `round ${round} stale read`);
      }
    }
  }
});

test('a burst of concurrent writes nobody reads does not exhaust the search: their orders are one state (seed 147 of 1+2)', () => {
  const h: HistoryOp[] = [w('x', 'a', 0, 1)];
  for (let i = 0; i < 16; i++) h.push(w('x', `b${i}`, 2, 100));
  // Reads of the old value while the burst is in flight, then of its last write.
  for (let i = 0; i < 6; i++) h.push(r('x', 'a', 3 + 2 * i, 4 + 2 * i));
  h.push(r('x', 'b15', 50, 120), r('x', 'b15', 130, 131));
  assert.deepEqual(checkLinearizable(h, { maxSteps: 200_000 }), { ok: true });
  // And a stale read after it is still caught.
  const stale = [...h, r('x', 'a', 140, 141)];
  assert.equal(checkLinearizable(stale, { maxSteps: 5_000_000 }).ok, false);
});
