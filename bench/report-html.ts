// The HTML report: per phase, throughput and p99 latency over time (250 ms buckets) for every
// system and round, drawn with uPlot. The library and its CSS are inlined, so the file opens
// offline and can be mailed around.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RoundResult } from './round.ts';

export interface ChartData {
  phase: string;
  labels: string[];
  /** uPlot's aligned data: x (seconds since the phase began), then one column per label (null where a series has ended). */
  throughput: (number | null)[][];
  p99Ms: (number | null)[][];
}

/** Per phase, every round's bucket series aligned on one x axis (all use the same bucket width). */
export function chartData(rounds: RoundResult[]): ChartData[] {
  const phases = [...new Set(rounds.flatMap((r) => r.phases.map((p) => p.phase)))];
  return phases.map((phase) => {
    const runs = rounds.flatMap((r) => r.phases.filter((p) => p.phase === phase).map((p) => ({ label: `${r.system} r${r.round}`, buckets: p.buckets })));
    const longest = runs.reduce((best, run) => (run.buckets.startSeconds.length > best.length ? run.buckets.startSeconds : best), [] as number[]);
    const column = (values: (number | null)[]) => longest.map((_, i) => values[i] ?? null);
    return {
      phase,
      labels: runs.map((r) => r.label),
      throughput: [longest, ...runs.map((r) => column(r.buckets.okPerSecond))],
      p99Ms: [longest, ...runs.map((r) => column(r.buckets.p99Ms))],
    };
  });
}

function uplotAssets(): { script: string; css: string } {
  const require = createRequire(import.meta.url);
  const dist = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  const script = dist('uPlot.iife.min.js');
  if (/<\/script/i.test(script)) throw new Error('uPlot.iife.min.js contains </script>: cannot inline it');
  return { script, css: dist('uPlot.min.css') };
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderReport(rounds: RoundResult[], summaryText: string, title = 'raftexample-ts benchmark'): string {
  const { script, css } = uplotAssets();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1100px}pre{background:#f6f6f6;padding:1em;overflow-x:auto}h2{margin-top:2em}</style>
<script>${script}</script>
</head><body>
<h1>${escapeHtml(title)}</h1>
<pre>${escapeHtml(summaryText)}</pre>
<div id="charts"></div>
<script type="application/json" id="bench-data">${scriptJson(chartData(rounds))}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}

// Runs in the browser: two charts per phase. A dip to 0 in throughput (or a gap in p99) is a stall.
const CHART_SCRIPT = `
const colors = { ours: '#1f77b4', etcd: '#2ca02c', raftexample: '#ff7f0e' };
const charts = JSON.parse(document.getElementById('bench-data').textContent);
const root = document.getElementById('charts');
for (const chart of charts) {
  const heading = document.createElement('h2');
  heading.textContent = chart.phase;
  root.appendChild(heading);
  for (const [what, data, unit] of [['throughput (ok/s per 250 ms)', chart.throughput, 'ok/s'], ['p99 latency per 250 ms', chart.p99Ms, 'ms']]) {
    // One colour per system; even rounds dashed.
    const series = [{ label: 's' }].concat(chart.labels.map((label) => ({
      label, stroke: colors[label.split(' ')[0]] || '#888', width: 1.5, dash: Number(label.split(' r')[1]) % 2 === 0 ? [6, 3] : undefined, spanGaps: false,
      value: (u, v) => v == null ? '-' : (unit === 'ms' ? v.toFixed(1) + ' ms' : Math.round(v) + ' ok/s'),
    })));
    const el = document.createElement('div');
    root.appendChild(el);
    new uPlot({ title: chart.phase + ': ' + what, width: 1000, height: 280, series, axes: [{ label: 'seconds' }, { label: unit }], scales: { x: { time: false } } }, data, el);
  }
}
`;
