// One round of the benchmark on one started system: a warm-up, closed-loop writes to the
// leader, writes spread over all nodes (each followed by the commit-visibility check), then
// reads from the leader in each read mode the system has. CPU is sampled around each phase.

import { commitRounds, type CommitRounds } from './commit-rounds.ts';
import { runClosedLoop, type GeneratorClient, type LoadResult } from './load-generator.ts';
import { cpuSeconds, residentMemory } from './processes.ts';
import type { ProgressReporter } from './progress.ts';
import { bucketize, summarizeLatency, type BucketSeries, type LatencySummary } from './stats.ts';
import type { ReadMode, SystemName, SystemUnderTest } from './systems/system.ts';
import { checkVisibility, DEFAULT_VISIBILITY, type AcknowledgedWrite, type VisibilityResult } from './visibility.ts';

export interface BenchConfig {
  seconds: number;
  warmupSeconds: number;
  /** Applied entries between snapshots, for ours and etcd (raftexample's is fixed at 10,000). */
  snapshotCount: number;
  readSeconds: number;
  connections: number;
  valueBytes: number;
  checkKeys: number;
  /** The generator's HTTP client (load-generator.ts): raw unless --client undici. */
  client: GeneratorClient;
}

export type PhaseName = 'writes-leader' | 'writes-spread' | `reads-${ReadMode}`;

export interface PhaseResult {
  phase: PhaseName;
  /** "node 2 (leader)" or "all nodes". */
  target: string;
  seconds: number;
  ok: number;
  okPerSecond: number;
  failures: Record<string, number>;
  latency: LatencySummary;
  /** Writes only: the commit-visibility check and what it leaves of okPerSecond. */
  visibility?: VisibilityResult;
  committedPerSecond?: number;
  /** Writes to our leader: fsyncs and peer POSTs per second and per write. */
  commitRounds?: CommitRounds;
  /** Per node: CPU µs per ok request, and CPU cores used over the phase; null where /proc had nothing. */
  nodeCpuMicrosPerOk: (number | null)[];
  nodeCores: (number | null)[];
  /** This process's own CPU over the phase, in cores. */
  generatorCores: number;
  buckets: BucketSeries;
}

export interface RoundResult {
  system: SystemName;
  round: number;
  /** 1-based node number of the leader the writes went to. */
  leaderNode: number;
  phases: PhaseResult[];
  /** Resident memory per node; absent where /proc had nothing. */
  memory?: RoundMemory;
}

export interface RoundMemory {
  /** Per node, bytes: resident after the warm-up, after both write phases, and the largest over the round (VmHWM). */
  rssAfterWarmupBytes: (number | null)[];
  rssAfterWritesBytes: (number | null)[];
  peakRssBytes: (number | null)[];
  /** Writes acknowledged in the two write phases: the keys the state gained. */
  keysWritten: number;
  /** The leader's resident growth over the write phases per key written: state, log and runtime together. */
  leaderBytesPerKey: number | null;
}

export async function runRound(system: SystemUnderTest, round: number, config: BenchConfig, progress: ProgressReporter): Promise<RoundResult> {
  const leader = await system.leaderIndex();
  const result: RoundResult = { system: system.name, round, leaderNode: leader + 1, phases: [] };
  const label = (what: string) => `${system.name} round ${round}: ${what}`;
  const leaderOnly = [system.nodeUrls[leader]!];

  await writePhase(system, 'warmup', leaderOnly, config.warmupSeconds, config, progress, label('warm-up'));
  const rssAfterWarmup = system.pids().map((pid) => residentMemory(pid)?.rssBytes ?? null);
  const toLeader = await writeAndCheck(system, 'writes-leader', leader, config, progress, label);
  const spread = await writeAndCheck(system, 'writes-spread', leader, config, progress, label);
  result.phases.push(toLeader.summary, spread.summary);
  const rssAfterWrites = system.pids().map((pid) => residentMemory(pid)?.rssBytes ?? null);
  const keysWritten = toLeader.writes.length + spread.writes.length;
  const leaderWrites = toLeader.writes;
  // Reads cycle over the keys the leader acknowledged (a key raftexample lost reads as a 404: a failure).
  const readKey = (seq: number) => leaderWrites[seq % leaderWrites.length]?.key ?? 'bench-none';
  for (const mode of system.readModes) {
    const phase = `reads-${mode}` as const;
    const cpu = cpuProbe(system);
    const load = await runClosedLoop({
      client: config.client,
      origins: leaderOnly,
      clients: config.connections,
      durationMs: config.readSeconds * 1000,
      request: (seq) => system.readRequest(readKey(seq), mode),
      isOk: (status) => status === 200,
      onProgress: progress.phase(label(`${phase} (${config.readSeconds} s)`), config.readSeconds),
    });
    progress.done();
    result.phases.push(phaseResult(phase, `node ${leader + 1} (leader)`, load, cpu()));
  }
  const peakRss = system.pids().map((pid) => residentMemory(pid)?.peakRssBytes ?? null);
  if (peakRss.some((b) => b !== null)) result.memory = roundMemory(rssAfterWarmup, rssAfterWrites, peakRss, keysWritten, leader);
  return result;
}

export function roundMemory(
  rssAfterWarmupBytes: (number | null)[], rssAfterWritesBytes: (number | null)[], peakRssBytes: (number | null)[], keysWritten: number, leader: number,
): RoundMemory {
  const before = rssAfterWarmupBytes[leader];
  const after = rssAfterWritesBytes[leader];
  const leaderBytesPerKey = before == null || after == null || keysWritten === 0 ? null : Math.max(0, after - before) / keysWritten;
  return { rssAfterWarmupBytes, rssAfterWritesBytes, peakRssBytes, keysWritten, leaderBytesPerKey };
}

/** A timed write phase, to the leader or spread over all nodes, then the commit-visibility check of what it acknowledged. */
async function writeAndCheck(
  system: SystemUnderTest, phase: 'writes-leader' | 'writes-spread', leader: number, config: BenchConfig, progress: ProgressReporter, label: (what: string) => string,
): Promise<{ summary: PhaseResult; writes: AcknowledgedWrite[] }> {
  const toLeader = phase === 'writes-leader';
  const origins = toLeader ? [system.nodeUrls[leader]!] : system.nodeUrls;
  const countersBefore = toLeader ? await system.leaderCounters?.(leader) : undefined;
  const { load, writes, cpu } = await writePhase(system, toLeader ? 'leader' : 'spread', origins, config.seconds, config, progress, label(`${phase} (${config.seconds} s)`));
  // Read right away: the heartbeats of the check's seconds are not the commit round's.
  const countersAfter = countersBefore !== undefined ? await system.leaderCounters!(leader) : undefined;
  progress.note(label(`checking ${Math.min(writes.length, config.checkKeys)} of ${writes.length} acknowledged writes on ${system.nodeUrls.length} nodes`));
  const visibility = await checkVisibility(writes, system.nodeUrls.map((_, i) => system.reader(i)), { ...DEFAULT_VISIBILITY, sampleMax: config.checkKeys });
  const summary = phaseResult(phase, toLeader ? `node ${leader + 1} (leader)` : 'all nodes', load, cpu);
  summary.visibility = visibility;
  summary.committedPerSecond = visibility.committedEstimate / (load.elapsedMs / 1000);
  if (countersBefore !== undefined && countersAfter !== undefined) summary.commitRounds = commitRounds(countersBefore, countersAfter, load.ok, load.elapsedMs / 1000);
  return { summary, writes };
}

interface CpuUse {
  nodeSeconds: number[];
  generatorSeconds: number;
  wallSeconds: number;
}

/** Starts measuring; the function it returns gives the CPU used since. */
function cpuProbe(system: SystemUnderTest): () => CpuUse {
  const nodesBefore = system.pids().map(cpuSeconds);
  const generatorBefore = process.cpuUsage();
  const wallBefore = performance.now();
  return () => {
    const generator = process.cpuUsage(generatorBefore);
    return {
      nodeSeconds: system.pids().map((pid, i) => cpuSeconds(pid) - nodesBefore[i]!),
      generatorSeconds: (generator.user + generator.system) / 1e6,
      wallSeconds: (performance.now() - wallBefore) / 1000,
    };
  };
}

async function writePhase(
  system: SystemUnderTest, name: string, origins: string[], seconds: number, config: BenchConfig, progress: ProgressReporter, label: string,
): Promise<{ load: LoadResult; writes: AcknowledgedWrite[]; cpu: CpuUse }> {
  // Only the seq while the clock runs; the keys and values are rebuilt after it.
  const acknowledged: number[] = [];
  const cpu = cpuProbe(system);
  const load = await runClosedLoop({
    client: config.client,
    origins,
    clients: config.connections,
    durationMs: seconds * 1000,
    request: (seq) => system.writeRequest(writeKey(name, seq), writeValue(seq, config.valueBytes)),
    isOk: system.isWriteOk,
    onOk: (seq) => void acknowledged.push(seq),
    onProgress: progress.phase(label, seconds),
  });
  const used = cpu();
  progress.done();
  const writes = acknowledged.map((seq) => ({ key: writeKey(name, seq), value: writeValue(seq, config.valueBytes) }));
  return { load, writes, cpu: used };
}

/** Keys are unique per phase (a fresh cluster per round), so an acknowledged write is never masked by a later one. */
export function writeKey(phase: string, seq: number): string {
  return `bench-${phase}-${seq}`;
}

/** valueBytes of URL-safe text that starts with seq, so a stale value is told from the right one. */
export function writeValue(seq: number, valueBytes: number): string {
  return `${seq}-`.padEnd(valueBytes, 'v').slice(0, valueBytes);
}

function phaseResult(phase: PhaseName, target: string, load: LoadResult, cpu: CpuUse): PhaseResult {
  const perOk = (s: number) => (Number.isFinite(s) && load.ok > 0 ? (s * 1e6) / load.ok : null);
  return {
    phase,
    target,
    seconds: load.elapsedMs / 1000,
    ok: load.ok,
    okPerSecond: load.ok / (load.elapsedMs / 1000),
    failures: load.failures,
    latency: summarizeLatency(load.samples.latencies()),
    nodeCpuMicrosPerOk: cpu.nodeSeconds.map(perOk),
    nodeCores: cpu.nodeSeconds.map((s) => (Number.isFinite(s) ? s / cpu.wallSeconds : null)),
    generatorCores: cpu.generatorSeconds / cpu.wallSeconds,
    buckets: bucketize(load.samples.ends(), load.samples.latencies(), load.elapsedMs),
  };
}
