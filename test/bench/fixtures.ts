// Made-up round results for the benchmark's formatting and report tests.

import type { PhaseName, PhaseResult, RoundResult } from '../../bench/round.ts';
import { bucketize } from '../../bench/stats.ts';
import type { SystemName } from '../../bench/systems/system.ts';

export function phase(name: PhaseName, okPerSecond: number, extra: Partial<PhaseResult> = {}): PhaseResult {
  const isWrite = name.startsWith('writes-');
  return {
    phase: name,
    target: name === 'writes-spread' ? 'all nodes' : 'node 1 (leader)',
    seconds: 10,
    ok: okPerSecond * 10,
    okPerSecond,
    failures: {},
    latency: { count: okPerSecond * 10, p50Ms: 2, p99Ms: 20, maxMs: 50 },
    ...(isWrite
      ? {
          committedPerSecond: okPerSecond,
          visibility: { acknowledged: okPerSecond * 10, checked: 100, missing: 0, missingPerNode: [0, 0, 0], missingExamples: [], lostEstimate: 0, committedEstimate: okPerSecond * 10 },
        }
      : {}),
    nodeCpuMicrosPerOk: [90, 40, 40],
    nodeCores: [0.5, 0.25, 0.25],
    generatorCores: 0.3,
    buckets: bucketize([100, 300, 600], [1, 2, 3], 750),
    ...extra,
  };
}

export function round(system: SystemName, n: number, writesPerSecond: number, readsPerSecond: number): RoundResult {
  const reads: PhaseResult[] = system === 'ours'
    ? [phase('reads-linearizable', readsPerSecond), phase('reads-serializable', readsPerSecond * 2)]
    : [phase('reads-local', readsPerSecond)];
  return { system, round: n, leaderNode: 1, phases: [phase('writes-leader', writesPerSecond), phase('writes-spread', writesPerSecond / 2), ...reads] };
}
