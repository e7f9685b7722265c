// src/histogram.ts: the lean histogram is exposed exactly as prom-client's Histogram, for the same observations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { LeanHistogram } from '../src/histogram.ts';

const BUCKETS = [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016];

function pair(labelNames: string[]) {
  const ours = new Registry();
  const theirs = new Registry();
  const opts = { name: 'x_seconds', help: 'A test histogram.', buckets: BUCKETS };
  return {
    ours,
    theirs,
    lean: new LeanHistogram({ ...opts, labelNames, registers: [ours] }),
    prom: new Histogram({ ...opts, labelNames, registers: [theirs] }),
  };
}

test('two labels: the same text as prom-client for any observations, bounds and beyond included', async () => {
  const value = fc.oneof(fc.constantFrom(0, ...BUCKETS, 1, 1e9), fc.double({ min: 0, max: 0.05, noNaN: true }));
  const label = fc.constantFrom('key_put', 'key_get', 'other');
  const status = fc.constantFrom('200', '204', '404', '503');
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(value, label, status), { maxLength: 60 }), async (obs) => {
      const { ours, theirs, lean, prom } = pair(['route', 'status']);
      for (const [v, route, st] of obs) {
        lean.observe(v, route, st);
        prom.observe({ route, status: st }, v);
      }
      assert.equal(await ours.metrics(), await theirs.metrics());
      assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
    }),
    { numRuns: 200 },
  );
});

test('one label, and a reset, as prom-client', async () => {
  const { ours, theirs, lean, prom } = pair(['peer']);
  for (const [v, peer] of [[0.003, '2'], [0.0005, '3'], [0.2, '2']] as const) {
    lean.observe(v, peer);
    prom.observe({ peer }, v);
  }
  const text = await ours.metrics();
  assert.equal(text, await theirs.metrics());
  assert.match(text, /^x_seconds_bucket\{le="0.004",peer="2"\} 1$/m);
  assert.match(text, /^x_seconds_bucket\{le="\+Inf",peer="2"\} 2$/m);
  assert.match(text, /^x_seconds_count\{peer="3"\} 1$/m);
  ours.resetMetrics();
  theirs.resetMetrics();
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.doesNotMatch(await ours.metrics(), /x_seconds_count/);
});

test('refuses a value that is not a finite number (as prom-client does), a wrong number of label values, and bounds out of order', () => {
  const { lean } = pair(['route', 'status']);
  assert.throws(() => lean.observe(Number.NaN, 'a', 'b'), TypeError);
  assert.throws(() => lean.observe(Number.POSITIVE_INFINITY, 'a', 'b'), TypeError);
  assert.throws(() => lean.observe(1, 'a'), /2 label values expected/);
  assert.throws(() => new LeanHistogram({ name: 'y', help: 'h', labelNames: ['a'], buckets: [1, 1], registers: [] }), /bounds must increase/);
});
