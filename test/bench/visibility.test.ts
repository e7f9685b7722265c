// The commit-visibility check: an acknowledged write counts as committed only if every
// node shows its value; fake nodes stand in for the clusters.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkVisibility, sampleWrites, type AcknowledgedWrite, type NodeReader } from '../../bench/visibility.ts';

const writes: AcknowledgedWrite[] = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
const quick = { sampleMax: 1000, concurrency: 4, settleMs: 300, settleMsMax: 60_000, retryDelayMs: 10 };

/** A node whose state is `store`; reads are answered from it at the time of the read. */
function fakeNode(name: string, store: Map<string, string>): NodeReader {
  return { name, read: async (key) => store.get(key) };
}

const fullStore = () => new Map(writes.map((w) => [w.key, w.value]));

test('every node showing every value: nothing missing, all committed', async () => {
  const nodes = [fakeNode('a', fullStore()), fakeNode('b', fullStore()), fakeNode('c', fullStore())];
  const r = await checkVisibility(writes, nodes, quick);
  assert.deepEqual(r, { acknowledged: 10, checked: 10, missing: 0, missingPerNode: [0, 0, 0], missingExamples: [], lostEstimate: 0, committedEstimate: 10 });
});

test('a key missing on one node is reported as missing and not committed', async () => {
  const partial = fullStore();
  partial.delete('k3');
  const r = await checkVisibility(writes, [fakeNode('a', fullStore()), fakeNode('b', partial), fakeNode('c', fullStore())], quick);
  assert.equal(r.missing, 1);
  assert.deepEqual(r.missingPerNode, [0, 1, 0]);
  assert.deepEqual(r.missingExamples, ['k3']);
  assert.equal(r.lostEstimate, 1);
  assert.equal(r.committedEstimate, 9);
});

test('a stale value, or a read that fails, counts as not shown; one key missing on two nodes counts once', async () => {
  const stale = fullStore();
  stale.set('k5', 'old');
  stale.delete('k7');
  const alsoMissing = fullStore();
  alsoMissing.delete('k7');
  const failing: NodeReader = { name: 'down', read: async (key) => (key === 'k1' ? Promise.reject(new Error('ECONNREFUSED')) : `v${key.slice(1)}`) };
  const r = await checkVisibility(writes, [fakeNode('a', stale), fakeNode('b', alsoMissing), failing], quick);
  assert.deepEqual(r.missingPerNode, [2, 1, 1]);
  assert.equal(r.missing, 3);
  assert.deepEqual([...r.missingExamples].sort(), ['k1', 'k5', 'k7']);
});

test('a follower that catches up during the settle time is not counted as missing', async () => {
  const lagging = new Map<string, string>();
  let reads = 0;
  const catchingUp: NodeReader = {
    name: 'lagging',
    read: async (key) => {
      if (++reads === writes.length) for (const w of writes) lagging.set(w.key, w.value); // applied after its first pass
      return lagging.get(key);
    },
  };
  const r = await checkVisibility(writes, [fakeNode('a', fullStore()), catchingUp], { ...quick, settleMs: 10_000 });
  assert.equal(r.missing, 0);
  assert.ok(reads > writes.length, 'the missing keys were read again');
});

test('a follower still catching up is waited for past the settle time, as long as it keeps showing more', async () => {
  // It applies one more write every 300 ms; the settle time is 2 s, and all 10 take 3 s.
  const shown = new Map<string, string>();
  const reveal = setInterval(() => {
    const next = writes.find((w) => !shown.has(w.key));
    if (next !== undefined) shown.set(next.key, next.value);
  }, 300);
  try {
    const r = await checkVisibility(writes, [fakeNode('slow', shown)], { ...quick, settleMs: 2000, retryDelayMs: 50 });
    assert.equal(r.missing, 0);
  } finally {
    clearInterval(reveal);
  }
});

test('a sample is an even stride over all writes and the loss is scaled up from it', async () => {
  const many: AcknowledgedWrite[] = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
  const sample = sampleWrites(many, 100);
  assert.equal(sample.length, 100);
  assert.equal(sample[0]!.key, 'k0');
  assert.equal(sample[99]!.key, 'k990');
  // Every twentieth write lost on the node: the sample (every tenth write) holds 50 of them.
  const store = new Map(many.filter((_, i) => i % 20 !== 0).map((w) => [w.key, w.value]));
  const r = await checkVisibility(many, [fakeNode('a', store)], { ...quick, sampleMax: 100 });
  assert.equal(r.checked, 100);
  assert.equal(r.missing, 50);
  assert.equal(r.lostEstimate, 500);
  assert.equal(r.committedEstimate, 500);
});

test('no acknowledged writes: nothing to check, nothing lost', async () => {
  const r = await checkVisibility([], [fakeNode('a', new Map())], quick);
  assert.deepEqual(r, { acknowledged: 0, checked: 0, missing: 0, missingPerNode: [0], missingExamples: [], lostEstimate: 0, committedEstimate: 0 });
});
