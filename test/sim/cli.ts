// Command line for the simulator (whole nodes: simulator.ts).
//   npm run sim -- --seeds N --start S [--nodes SHAPE|all] [--bug NAME] [--jobs J]
//   npm run sim -- --seed S [--nodes SHAPE] [--bug NAME] --verbose [--messages] [--log-level debug]
// --no-rule-checks: check only the safety properties and linearizability (not one vote per
// term, the leader commit rule, apply after persist), to see what damage a bug really does.
// --faults a,b,...: only these fault kinds (and heal), e.g. --faults membership,crash.
// Seeds run are S..S+N-1. Shapes: 3, 5, 7 voters; 1+2, 2+1, 4+1 (voters+learners). --nodes
// all (the default) cycles through them by seed: seed mod 6 = 1 runs 3, 2 runs 5, 3 runs
// 1+2, 4 runs 2+1, 5 runs 7, 0 runs 4+1. Exits 1 if any seed fails.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BUG_NAMES, type BugName, CLUSTER_SHAPES, FAULT_KINDS, type FaultKind, nodesForSeed, type NodesOption } from './scenario.ts';
import { runSimulation, type SimResult } from './simulator.ts';

interface Plan {
  start: number;
  count: number;
  nodes: NodesOption;
  bug: BugName | undefined;
  verbose: boolean;
  messages: boolean;
  logLevel: string | undefined;
  ruleChecks: boolean;
  faults: FaultKind[] | undefined;
}

function parseNodes(s: string): NodesOption {
  if (s === 'all') return s;
  const shape = CLUSTER_SHAPES.find((c) => c === s);
  if (shape === undefined) throw new Error(`--nodes must be one of ${CLUSTER_SHAPES.join(', ')}, all`);
  return shape;
}

function parse(): { plan: Plan; jobs: number; worker: { offset: number; stride: number } | null } {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      start: { type: 'string' },
      seed: { type: 'string' },
      nodes: { type: 'string' },
      bug: { type: 'string' },
      jobs: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      messages: { type: 'boolean' },
      'log-level': { type: 'string' },
      'no-rule-checks': { type: 'boolean' },
      faults: { type: 'string' },
      'worker-offset': { type: 'string' },
      'worker-stride': { type: 'string' },
    },
  });
  const int = (s: string | undefined, dflt: number, name: string): number => {
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${s}`);
    return n;
  };
  const bug = values.bug as BugName | undefined;
  if (bug !== undefined && !BUG_NAMES.includes(bug)) throw new Error(`--bug must be one of ${BUG_NAMES.join(', ')}`);
  const single = values.seed !== undefined;
  const plan: Plan = {
    start: single ? int(values.seed, 1, 'seed') : int(values.start, 1, 'start'),
    count: single ? 1 : int(values.seeds, 100, 'seeds'),
    nodes: parseNodes(values.nodes ?? 'all'),
    bug,
    verbose: values.verbose ?? false,
    messages: values.messages ?? false,
    logLevel: values['log-level'],
    ruleChecks: !(values['no-rule-checks'] ?? false),
    faults: parseFaults(values.faults),
  };
  const worker = values['worker-offset'] === undefined ? null : { offset: int(values['worker-offset'], 0, 'worker-offset'), stride: int(values['worker-stride'], 1, 'worker-stride') };
  return { plan, jobs: Math.max(1, int(values.jobs, 1, 'jobs')), worker };
}

function parseFaults(list: string | undefined): FaultKind[] | undefined {
  if (list === undefined) return undefined;
  const kinds = list.split(',').filter((k) => k !== '');
  for (const k of kinds) {
    if (!FAULT_KINDS.includes(k as FaultKind)) throw new Error(`--faults: unknown kind ${k} (kinds: ${FAULT_KINDS.join(', ')})`);
  }
  return kinds as FaultKind[];
}

function runOne(plan: Plan, seed: number): Promise<SimResult> {
  const log = plan.verbose ? (line: string) => console.log(line) : undefined;
  return runSimulation({
    seed,
    nodes: nodesForSeed(seed, plan.nodes),
    bug: plan.bug,
    log,
    traceMessages: plan.messages,
    logLevel: plan.logLevel,
    ruleChecks: plan.ruleChecks,
    onlyFaults: plan.faults,
  });
}

function describeFailure(r: SimResult): string {
  const detail = (r.detail ?? '').split('\n').slice(0, r.invariant === 'Exception' ? 4 : 1).join('\n    ');
  return `FAIL seed=${r.seed} nodes=${r.nodes} at=${r.atMs}ms ${r.invariant}: ${detail}`;
}

function reproCommand(plan: Plan, r: SimResult): string {
  const parts = ['npm run sim --', `--seed ${r.seed}`, `--nodes ${r.nodes}`];
  if (plan.bug) parts.push(`--bug ${plan.bug}`);
  if (plan.faults) parts.push(`--faults ${plan.faults.join(',')}`);
  if (!plan.ruleChecks) parts.push('--no-rule-checks');
  return `${parts.join(' ')} --verbose`;
}

/** Runs seeds start+offset, start+offset+stride, ...; calls back per result. */
async function runRange(plan: Plan, offset: number, stride: number, onResult: (r: SimResult) => void): Promise<void> {
  for (let i = offset; i < plan.count; i += stride) onResult(await runOne(plan, plan.start + i));
}

interface Summary {
  runs: number;
  failures: SimResult[];
  byInvariant: Map<string, number>;
  totals: Record<string, number>;
  maxRecovery: { ms: number; seed: number };
}

function newSummary(): Summary {
  return { runs: 0, failures: [], byInvariant: new Map(), totals: {}, maxRecovery: { ms: 0, seed: 0 } };
}

function add(s: Summary, r: SimResult): void {
  s.runs++;
  for (const [k, v] of Object.entries(r.stats)) s.totals[k] = (s.totals[k] ?? 0) + v;
  if (r.stats.recoveryMs > s.maxRecovery.ms) s.maxRecovery = { ms: r.stats.recoveryMs, seed: r.seed };
  if (r.ok) return;
  s.failures.push(r);
  s.byInvariant.set(r.invariant!, (s.byInvariant.get(r.invariant!) ?? 0) + 1);
  console.log(describeFailure(r));
}

async function runParallel(plan: Plan, jobs: number, s: Summary): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const base = [
    '--start', String(plan.start), '--seeds', String(plan.count), '--nodes', String(plan.nodes),
    ...(plan.bug ? ['--bug', plan.bug] : []),
    ...(plan.ruleChecks ? [] : ['--no-rule-checks']),
    ...(plan.faults ? ['--faults', plan.faults.join(',')] : []),
  ];
  await Promise.all(
    Array.from({ length: jobs }, (_, k) => {
      const child = fork(self, [...base, '--worker-offset', String(k), '--worker-stride', String(jobs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (r) => add(s, r as SimResult));
      return new Promise<void>((resolve, reject) => {
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${k} exited with ${code}`))));
      });
    }),
  );
}

async function main(): Promise<void> {
  const { plan, jobs, worker } = parse();
  if (worker !== null) {
    await runRange(plan, worker.offset, worker.stride, (r) => process.send!(r));
    return;
  }
  const t0 = performance.now();
  const s = newSummary();
  if (jobs > 1 && plan.count > 1) await runParallel(plan, jobs, s);
  else await runRange(plan, 0, 1, (r) => add(s, r));
  const seconds = (performance.now() - t0) / 1000;
  const inv = [...s.byInvariant.entries()].map(([k, v]) => `${k}: ${v}`).join(', ');
  const seeds = s.failures.map((f) => f.seed).sort((a, b) => a - b);
  const runs = Math.max(1, s.runs);
  console.log(
    `seeds run: ${s.runs} (${plan.start}..${plan.start + plan.count - 1}, nodes ${plan.nodes}${plan.bug ? `, bug ${plan.bug}` : ''}), ` +
      `failures: ${s.failures.length}${inv ? ` (${inv})` : ''}, seconds: ${seconds.toFixed(1)}, ` +
      `ms/seed: ${((seconds * 1000 * Math.min(jobs, plan.count)) / runs).toFixed(0)} (per job)`,
  );
  if (plan.verbose || plan.count > 1) {
    const avg = Object.entries(s.totals).map(([k, v]) => `${k} ${(v / runs).toFixed(1)}`);
    console.log(`per seed: ${avg.join(', ')}; slowest recovery: ${s.maxRecovery.ms} ms (seed ${s.maxRecovery.seed})`);
  }
  if (seeds.length > 0) {
    console.log(`failing seeds: ${seeds.slice(0, 50).join(' ')}${seeds.length > 50 ? ' ...' : ''}`);
    console.log(`reproduce one: ${reproCommand(plan, s.failures.find((f) => f.seed === seeds[0])!)}`);
  }
  process.exitCode = s.failures.length > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error((e as Error).stack ?? (e as Error).message);
  process.exitCode = 2;
});
