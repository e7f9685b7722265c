// The benchmark's arithmetic: nearest-rank percentiles and the 250 ms buckets of a phase.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketize, median, percentileSorted, SampleLog, summarizeLatency } from '../../bench/stats.ts';

test('p50, p99 and max of 1..100 in any order are 50, 99 and 100', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.deepEqual(summarizeLatency(values), { count: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 });
});

test('percentiles of a single value and of a small set use the nearest rank', () => {
  assert.deepEqual(summarizeLatency([7]), { count: 1, p50Ms: 7, p99Ms: 7, maxMs: 7 });
  // 4 values: p50 is the 2nd, p99 the 4th.
  assert.deepEqual(summarizeLatency([4, 1, 3, 2]), { count: 4, p50Ms: 2, p99Ms: 4, maxMs: 4 });
  // One slow request in 1000 does not move p99, two in 100 do.
  assert.equal(summarizeLatency([...Array(999).fill(1), 500]).p99Ms, 1);
  assert.equal(summarizeLatency([...Array(98).fill(1), 500, 500]).p99Ms, 500);
});

test('an empty input has no percentiles (null, not a zero that reads as fast)', () => {
  assert.deepEqual(summarizeLatency([]), { count: 0, p50Ms: null, p99Ms: null, maxMs: null });
  assert.equal(percentileSorted([], 0.5), null);
  assert.equal(median([]), null);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5, 'two rounds give their mean, not the lower one');
});

test('a SampleLog keeps every sample past its initial capacity', () => {
  const log = new SampleLog();
  for (let i = 0; i < 40_000; i++) log.add(i, i * 2);
  assert.equal(log.length, 40_000);
  assert.equal(log.ends()[39_999], 39_999);
  assert.equal(log.latencies()[39_999], 79_998);
  assert.equal(log.latencies().length, 40_000);
});

test('samples go to the 250 ms bucket they finished in: rate per second and p99 per bucket', () => {
  // 1 s: two requests in the first bucket, none in the second (a stall), one in the third, three in the fourth.
  const ends = [10, 200, 600, 760, 800, 999];
  const latencies = [5, 7, 40, 1, 2, 3];
  const series = bucketize(ends, latencies, 1000, 250);
  assert.deepEqual(series.startSeconds, [0, 0.25, 0.5, 0.75]);
  assert.deepEqual(series.okPerSecond, [8, 0, 4, 12]);
  assert.deepEqual(series.p99Ms, [7, null, 40, 3]);
});

test('the last bucket may be short: its rate is over its own width; late samples land in it', () => {
  // 600 ms: buckets [0,250), [250,500), [500,600); a sample at 800 ms (answered after the deadline) goes last.
  const series = bucketize([100, 300, 550, 800], [1, 1, 1, 9], 600, 250);
  assert.equal(series.okPerSecond.length, 3);
  assert.deepEqual(series.okPerSecond, [4, 4, 20]);
  assert.deepEqual(series.p99Ms, [1, 1, 9]);
});

test('no samples at all still gives one empty bucket per interval', () => {
  const series = bucketize([], [], 500, 250);
  assert.deepEqual(series.okPerSecond, [0, 0]);
  assert.deepEqual(series.p99Ms, [null, null]);
});
