// The HTML report: the chart data of every system and round, and uPlot inlined (it opens offline).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { chartData, renderReport } from '../../bench/report-html.ts';
import { bucketize } from '../../bench/stats.ts';
import { round } from './fixtures.ts';

const uplotFile = (name: string) => readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${name}`), 'utf8');

test('chart data aligns every round of a phase on one x axis, null where a shorter series ended', () => {
  const rounds = [round('ours', 1, 20_000, 50_000), round('etcd', 1, 9_000, 40_000)];
  rounds[1]!.phases[0]!.buckets = bucketize([100, 300, 600, 900, 1100], [1, 2, 3, 4, 5], 1250);
  const leader = chartData(rounds).find((c) => c.phase === 'writes-leader')!;
  assert.deepEqual(leader.labels, ['ours r1', 'etcd r1']);
  assert.deepEqual(leader.throughput[0], [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(leader.throughput[1], [4, 4, 4, null, null]);
  assert.deepEqual(leader.throughput[2], [4, 4, 4, 4, 4]);
  assert.deepEqual(leader.p99Ms[2], [1, 2, 3, 4, 5]);
  assert.deepEqual(chartData(rounds).map((c) => c.phase), ['writes-leader', 'writes-spread', 'reads-linearizable', 'reads-serializable', 'reads-local']);
});

test('the report holds the data, the summary text, and uPlot with its CSS inlined (no external file)', () => {
  const rounds = [round('ours', 1, 20_000, 50_000), round('raftexample', 1, 12_000, 90_000)];
  const html = renderReport(rounds, 'summary <table> & ratios');
  assert.ok(html.includes(uplotFile('uPlot.iife.min.js')), 'uPlot inlined');
  assert.ok(html.includes(uplotFile('uPlot.min.css')), 'its CSS inlined');
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/, 'nothing loaded from elsewhere');
  assert.ok(html.includes('summary &lt;table&gt; &amp; ratios'), 'summary escaped');
  const json = /<script type="application\/json" id="bench-data">(.*?)<\/script>/s.exec(html)![1]!;
  assert.deepEqual(JSON.parse(json), chartData(rounds));
});

test('nothing in the data can close its script element', () => {
  const rounds = [round('ours', 1, 1, 1)];
  rounds[0]!.phases[0]!.target = '</script><script>alert(1)</script>';
  (rounds[0]! as { system: string }).system = 'ours</script>';
  const html = renderReport(rounds, '');
  assert.equal(html.match(/<\/script>/g)!.length, 3, 'only the three script elements (uPlot, data, charts) close');
});
