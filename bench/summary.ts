// What the benchmark prints: one line per phase as it ends, then per system the median of
// its rounds, a table side by side, the ratios to etcd and to raftexample against the
// issue's targets, and one JSON line with all of it (without the time series).

import Table from 'cli-table3';
import { formatCommitRounds } from './commit-rounds.ts';
import type { BenchConfig, PhaseName, PhaseResult, RoundResult } from './round.ts';
import { median } from './stats.ts';
import type { SystemName } from './systems/system.ts';

export interface PhaseSummary {
  phase: PhaseName;
  rounds: number;
  okPerSecond: number | null;
  committedPerSecond: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Over all rounds: acknowledged writes estimated lost (missing on some node after settling). */
  lostEstimate: number | null;
  leaderCpuMicrosPerOk: number | null;
  clusterCores: number | null;
  generatorCores: number | null;
}

export interface MemorySummary {
  /**
   * The largest peak resident size of any node in any round, bytes: a bound on memory must
   * hold in every round, so this is the worst round's, not a median.
   */
  peakRssBytes: number | null;
  /** Median over rounds of the leader's resident growth per key written. */
  leaderBytesPerKey: number | null;
}

export type SystemSummary = { system: SystemName; phases: PhaseSummary[]; memory: MemorySummary };

/** The issue's bound on a node's resident size under the benchmark's load. */
export const PEAK_RSS_TARGET_BYTES = 250 * 1000 * 1000;

export interface Skipped {
  system: SystemName;
  reason: string;
}

export interface Ratio {
  what: string;
  value: number | null;
  /** The issue's target for it, if it has one. */
  target: number | null;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const largest = (values: number[]) => (values.length === 0 ? null : Math.max(...values));
const definite = <T>(values: (T | null | undefined)[]): T[] => values.filter((v): v is T => v !== null && v !== undefined);

export function summarize(rounds: RoundResult[]): SystemSummary[] {
  const systems = [...new Set(rounds.map((r) => r.system))];
  return systems.map((system) => {
    const mine = rounds.filter((r) => r.system === system);
    const phases = [...new Set(mine.flatMap((r) => r.phases.map((p) => p.phase)))];
    const memories = definite(mine.map((r) => r.memory));
    const memory: MemorySummary = {
      peakRssBytes: largest(memories.flatMap((m) => definite(m.peakRssBytes))),
      leaderBytesPerKey: median(definite(memories.map((m) => m.leaderBytesPerKey))),
    };
    return { system, phases: phases.map((phase) => summarizePhase(phase, mine)), memory };
  });
}

function summarizePhase(phase: PhaseName, rounds: RoundResult[]): PhaseSummary {
  const runs = rounds.flatMap((r) => r.phases.filter((p) => p.phase === phase).map((p) => ({ round: r, result: p })));
  const of = (pick: (p: PhaseResult, r: RoundResult) => number | null | undefined) => median(definite(runs.map(({ round, result }) => pick(result, round))));
  const visibilities = definite(runs.map(({ result }) => result.visibility));
  return {
    phase,
    rounds: runs.length,
    okPerSecond: of((p) => p.okPerSecond),
    committedPerSecond: of((p) => p.committedPerSecond),
    p50Ms: of((p) => p.latency.p50Ms),
    p99Ms: of((p) => p.latency.p99Ms),
    maxMs: of((p) => p.latency.maxMs),
    lostEstimate: visibilities.length === 0 ? null : sum(visibilities.map((v) => v.lostEstimate)),
    leaderCpuMicrosPerOk: of((p, r) => p.nodeCpuMicrosPerOk[r.leaderNode - 1]),
    clusterCores: of((p) => (p.nodeCores.some((c) => c === null) ? null : sum(definite(p.nodeCores)))),
    generatorCores: of((p) => p.generatorCores),
  };
}

/**
 * All the CPU one acknowledged write cost: every node's and the generator's, in µs. On a machine
 * of C cores no system can write faster than C × 1e6 / this, however short its commit round.
 */
export function cpuMicrosPerWrite(p: PhaseSummary): number | null {
  if (p.clusterCores === null || p.generatorCores === null || p.okPerSecond === null || p.okPerSecond === 0) return null;
  return ((p.clusterCores + p.generatorCores) * 1e6) / p.okPerSecond;
}

function phaseOf(summaries: SystemSummary[], system: SystemName, phase: PhaseName): PhaseSummary | undefined {
  return summaries.find((s) => s.system === system)?.phases.find((p) => p.phase === phase);
}

const divide = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);

export function ratios(summaries: SystemSummary[]): Ratio[] {
  const get = (system: SystemName, phase: PhaseName) => phaseOf(summaries, system, phase);
  return [
    { what: 'writes to the leader, committed/s: ours / etcd', value: divide(get('ours', 'writes-leader')?.committedPerSecond, get('etcd', 'writes-leader')?.committedPerSecond), target: 2.0 },
    { what: 'writes to the leader: ours committed/s / raftexample acknowledged/s', value: divide(get('ours', 'writes-leader')?.committedPerSecond, get('raftexample', 'writes-leader')?.okPerSecond), target: 1.0 },
    { what: 'writes to the leader, committed/s: ours / raftexample', value: divide(get('ours', 'writes-leader')?.committedPerSecond, get('raftexample', 'writes-leader')?.committedPerSecond), target: null },
    { what: 'writes spread over all nodes, committed/s: ours / etcd', value: divide(get('ours', 'writes-spread')?.committedPerSecond, get('etcd', 'writes-spread')?.committedPerSecond), target: 1.5 },
    { what: 'reads/s from one node: ours linearizable / etcd local', value: divide(get('ours', 'reads-linearizable')?.okPerSecond, get('etcd', 'reads-local')?.okPerSecond), target: 1.0 },
    { what: 'reads/s from one node: ours linearizable / raftexample local', value: divide(get('ours', 'reads-linearizable')?.okPerSecond, get('raftexample', 'reads-local')?.okPerSecond), target: null },
  ];
}

/** The memory target's verdict for ours, or null when ours was not measured. */
export function memoryVerdict(summaries: SystemSummary[]): string | null {
  const peak = summaries.find((s) => s.system === 'ours')?.memory.peakRssBytes;
  if (peak == null) return null;
  const verdict = peak < PEAK_RSS_TARGET_BYTES ? 'met' : 'not met';
  return `largest resident size of a node in any round, ours: ${formatMb(peak)}  target under ${formatMb(PEAK_RSS_TARGET_BYTES)}: ${verdict}`;
}

export const formatMb = (bytes: number | null | undefined) => (bytes == null ? 'n/a' : `${Math.round(bytes / 1e6)} MB`);

export function formatRatios(list: Ratio[]): string {
  if (list.every((r) => r.value === null)) return 'ratios: none (they need ours and etcd or raftexample in the run: npm run bench -- --compare)';
  return list
    .map((r) => {
      const value = r.value === null ? 'n/a (not in this run)' : `${r.value.toFixed(2)}x`;
      const verdict = r.target === null || r.value === null ? '' : `  target ${r.target.toFixed(1)}x: ${r.value >= r.target ? 'met' : 'not met'}`;
      return `${r.what}: ${value}${verdict}`;
    })
    .join('\n');
}

export const formatRate = (n: number | null | undefined) => (n == null ? 'n/a' : Math.round(n).toLocaleString('en-US'));
export const formatMs = (n: number | null | undefined) => (n == null ? 'n/a' : `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`);
const formatBytes = (n: number | null | undefined) => (n == null ? 'n/a' : `${Math.round(n)}`);
const formatCpu = (n: number | null | undefined) => (n == null ? 'n/a' : `${Math.round(n)}`);

export function formatPhaseLine(round: RoundResult, p: PhaseResult): string {
  const failed = Object.entries(p.failures).map(([why, count]) => `${count} ${why}`).join(', ') || 'none';
  const head = `${round.system} r${round.round} ${p.phase} to ${p.target}: ${formatRate(p.okPerSecond)} ${p.visibility ? 'acknowledged' : 'ok'}/s`;
  const v = p.visibility;
  const commit = v
    ? `, committed ${formatRate(p.committedPerSecond)}/s (read back ${v.checked} of ${v.acknowledged} on every node: ${v.missing} missing, about ${v.lostEstimate} lost)`
    : '';
  const latency = `p50 ${formatMs(p.latency.p50Ms)}, p99 ${formatMs(p.latency.p99Ms)}, max ${formatMs(p.latency.maxMs)}`;
  const cpu = p.nodeCpuMicrosPerOk.map((c, i) => `${formatCpu(c)}${i === round.leaderNode - 1 ? ' (leader)' : ''}`).join(' / ');
  const cores = p.nodeCores.map((c) => (c === null ? 'n/a' : c.toFixed(2))).join(' + ');
  const rounds = p.commitRounds ? `; ${formatCommitRounds(p.commitRounds)}` : '';
  return `${head}${commit}; ${latency}; CPU µs per request per node ${cpu}; node cores ${cores}; generator ${p.generatorCores.toFixed(2)} cores; failures: ${failed}${rounds}`;
}

const SYSTEM_ORDER: SystemName[] = ['raftexample', 'etcd', 'ours'];
const SYSTEM_TITLE: Record<SystemName, string> = { raftexample: 'Go raftexample 3.4', etcd: 'etcd 3.4 (v2 API)', ours: 'ours' };

/** The issue's table: one column per system that ran, medians over its rounds. */
export function formatTable(summaries: SystemSummary[]): string {
  const systems = SYSTEM_ORDER.filter((s) => summaries.some((x) => x.system === s));
  const table = new Table({ head: ['', ...systems.map((s) => SYSTEM_TITLE[s])], style: { head: [], border: [] } });
  const cell = (system: SystemName, phase: PhaseName, show: (p: PhaseSummary) => string) => {
    const p = phaseOf(summaries, system, phase);
    return p === undefined ? '-' : show(p);
  };
  const committed = (p: PhaseSummary) => {
    const acked = p.okPerSecond !== null && p.committedPerSecond !== null && p.okPerSecond - p.committedPerSecond >= 0.5;
    const lost = p.lostEstimate ? `, about ${formatRate(p.lostEstimate)} lost in ${p.rounds} round${p.rounds === 1 ? '' : 's'}` : '';
    return `${formatRate(p.committedPerSecond)}${acked ? ` (acknowledged ${formatRate(p.okPerSecond)}${lost})` : lost}`;
  };
  const reads = (system: SystemName) => {
    const phase = summaries.find((s) => s.system === system)?.phases.find((p) => p.phase.startsWith('reads-'));
    return phase === undefined ? '-' : `${formatRate(phase.okPerSecond)} (${phase.phase.slice('reads-'.length)})`;
  };
  table.push(
    ['writes to the leader, committed/s', ...systems.map((s) => cell(s, 'writes-leader', committed))],
    ['write p50 / p99 / max', ...systems.map((s) => cell(s, 'writes-leader', (p) => `${formatMs(p.p50Ms)} / ${formatMs(p.p99Ms)} / ${formatMs(p.maxMs)}`))],
    ['CPU µs per write on the leader', ...systems.map((s) => cell(s, 'writes-leader', (p) => formatCpu(p.leaderCpuMicrosPerOk)))],
    ['cluster / generator cores', ...systems.map((s) => cell(s, 'writes-leader', (p) => `${p.clusterCores?.toFixed(2) ?? 'n/a'} / ${p.generatorCores?.toFixed(2) ?? 'n/a'}`))],
    ['CPU µs per write, all nodes + generator', ...systems.map((s) => cell(s, 'writes-leader', (p) => formatCpu(cpuMicrosPerWrite(p))))],
    ['writes spread over all nodes, committed/s', ...systems.map((s) => cell(s, 'writes-spread', committed))],
    ['reads/s from one node', ...systems.map(reads)],
    ['read p99', ...systems.map((s) => cell(s, s === 'ours' ? 'reads-linearizable' : 'reads-local', (p) => formatMs(p.p99Ms)))],
  );
  const memory = (system: SystemName) => summaries.find((s) => s.system === system)!.memory;
  table.push(
    ['largest resident size of a node in any round', ...systems.map((s) => formatMb(memory(s).peakRssBytes))],
    ['leader resident bytes per key written', ...systems.map((s) => formatBytes(memory(s).leaderBytesPerKey))],
  );
  if (systems.includes('ours')) table.push(['ours: serializable reads/s (reference)', ...systems.map((s) => (s === 'ours' ? cell(s, 'reads-serializable', (p) => `${formatRate(p.okPerSecond)}, p99 ${formatMs(p.p99Ms)}`) : ''))]);
  return table.toString();
}

export interface BenchReport {
  config: BenchConfig & { rounds: number; compare: boolean };
  machine: { cpus: number; loadAverage: number[]; node: string };
  skipped: Skipped[];
  rounds: RoundResult[];
}

/** One line of JSON: the config, what was skipped, every round's phases (without time series), the medians and the ratios. */
export function jsonLine(report: BenchReport): string {
  const rounds = report.rounds.map((r) => ({ ...r, phases: r.phases.map(({ buckets: _series, ...rest }) => rest) }));
  const summaries = summarize(report.rounds);
  const rounded = (_key: string, value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value);
  return JSON.stringify({ bench: 'raftexample-ts', ...report, rounds, summary: summaries, ratios: ratios(summaries) }, rounded);
}
