// Command line for the simulator.
//   npm run sim -- --seeds N --start S [--nodes 3|5|1+2|2+1|both|all] [--bug NAME] [--jobs J] [--verbose]
//   npm run sim -- --seed S [--nodes 3|5|1+2|2+1] [--bug NAME] --verbose [--messages]
// --no-rule-checks: check only safety properties and linearizability (not the one-vote-per-term
// and leader-commit rules), to see what damage a planted bug really does.
// --faults a,b,...: only these fault kinds (and heal), e.g. --faults membership,partition.
// --app-sends-before-fsync: plant a bug in the simulated application (it acknowledges before
// its writes are durable) to show that the fake disk's crash model catches it.
// Seeds run are S..S+N-1. Cluster shapes: 3 or 5 voters, 1+2 (one voter, two learners), 2+1
// (two voters, one learner). --nodes all (the default) cycles by seed: 1 mod 4 runs 3 voters,
// 2 mod 4 runs 5, 3 mod 4 runs 1+2, 0 mod 4 runs 2+1; --nodes both: odd seeds 3, even seeds 5.
// Exits 1 if any seed fails.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { PlantedBugs } from '../../src/raft/index.ts';
import { CLUSTER_SHAPES, type ClusterShape, FAULT_KINDS, type FaultKind } from './scenario.ts';
import { runSimulation, type SimResult } from './simulator.ts';

const BUGS: (keyof PlantedBugs)[] = ['commitOldTermByCount', 'grantTwoVotesPerTerm', 'readWithoutReadIndex'];

interface Plan {
  start: number;
  count: number;
  nodes: NodesOption;
  bug: keyof PlantedBugs | undefined;
  verbose: boolean;
  messages: boolean;
  ruleChecks: boolean;
  appSendsBeforeFsync: boolean;
  faults: FaultKind[] | undefined;
}

type NodesOption = ClusterShape | 'both' | 'all';

export function nodesForSeed(seed: number, nodes: NodesOption): ClusterShape {
  if (nodes === 'both') return seed % 2 === 1 ? 3 : 5;
  if (nodes === 'all') return CLUSTER_SHAPES[(seed + 3) % 4]!;
  return nodes;
}

function parseNodes(s: string): NodesOption {
  if (s === 'both' || s === 'all') return s;
  const shape = CLUSTER_SHAPES.find((c) => String(c) === s);
  if (shape === undefined) throw new Error(`--nodes must be one of ${CLUSTER_SHAPES.join(', ')}, both, all`);
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
      'no-rule-checks': { type: 'boolean' },
      'app-sends-before-fsync': { type: 'boolean' },
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
  const nodes = parseNodes(values.nodes ?? 'all');
  const bug = values.bug as keyof PlantedBugs | undefined;
  if (bug !== undefined && !BUGS.includes(bug)) throw new Error(`--bug must be one of ${BUGS.join(', ')}`);
  const single = values.seed !== undefined;
  const plan: Plan = {
    start: single ? int(values.seed, 1, 'seed') : int(values.start, 1, 'start'),
    count: single ? 1 : int(values.seeds, 100, 'seeds'),
    nodes,
    bug,
    verbose: values.verbose ?? false,
    messages: values.messages ?? false,
    ruleChecks: !(values['no-rule-checks'] ?? false),
    appSendsBeforeFsync: values['app-sends-before-fsync'] ?? false,
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

function runOne(plan: Plan, seed: number): SimResult {
  const log = plan.verbose ? (line: string) => console.log(line) : undefined;
  return runSimulation({ seed, nodes: nodesForSeed(seed, plan.nodes), bug: plan.bug, log, traceMessages: plan.messages, ruleChecks: plan.ruleChecks, appSendsBeforeFsync: plan.appSendsBeforeFsync, onlyFaults: plan.faults });
}

function describeFailure(r: SimResult): string {
  const detail = (r.detail ?? '').split('\n').slice(0, r.invariant === 'Exception' ? 4 : 1).join('\n    ');
  return `FAIL seed=${r.seed} nodes=${r.nodes} tick=${r.tick} ${r.invariant}: ${detail}`;
}

function reproCommand(plan: Plan, r: SimResult): string {
  const parts = ['npm run sim --', `--seed ${r.seed}`];
  parts.push(`--nodes ${r.nodes}`);
  if (plan.bug) parts.push(`--bug ${plan.bug}`);
  if (plan.faults) parts.push(`--faults ${plan.faults.join(',')}`);
  if (!plan.ruleChecks) parts.push('--no-rule-checks');
  if (plan.appSendsBeforeFsync) parts.push('--app-sends-before-fsync');
  return `${parts.join(' ')} --verbose`;
}

/** Runs seeds start+offset, start+offset+stride, ...; calls back per result. */
function runRange(plan: Plan, offset: number, stride: number, onResult: (r: SimResult) => void): void {
  for (let i = offset; i < plan.count; i += stride) onResult(runOne(plan, plan.start + i));
}

interface Summary {
  runs: number;
  failures: SimResult[];
  byInvariant: Map<string, number>;
  ticks: number;
  opsOk: number;
  totals: Record<string, number>;
  maxRecovery: { ticks: number; seed: number };
}

function newSummary(): Summary {
  return { runs: 0, failures: [], byInvariant: new Map(), ticks: 0, opsOk: 0, totals: {}, maxRecovery: { ticks: 0, seed: 0 } };
}

function add(s: Summary, r: SimResult): void {
  s.runs++;
  s.ticks += r.stats.ticks;
  s.opsOk += r.stats.opsOk;
  for (const [k, v] of Object.entries(r.stats)) s.totals[k] = (s.totals[k] ?? 0) + v;
  if (r.stats.recoveryTicks > s.maxRecovery.ticks) s.maxRecovery = { ticks: r.stats.recoveryTicks, seed: r.seed };
  if (r.ok) return;
  s.failures.push(r);
  s.byInvariant.set(r.invariant!, (s.byInvariant.get(r.invariant!) ?? 0) + 1);
  console.log(describeFailure(r));
}

async function runParallel(plan: Plan, jobs: number, s: Summary): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const base = ['--start', String(plan.start), '--seeds', String(plan.count), '--nodes', String(plan.nodes), ...(plan.bug ? ['--bug', plan.bug] : []), ...(plan.ruleChecks ? [] : ['--no-rule-checks']), ...(plan.appSendsBeforeFsync ? ['--app-sends-before-fsync'] : []), ...(plan.faults ? ['--faults', plan.faults.join(',')] : [])];
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
    runRange(plan, worker.offset, worker.stride, (r) => process.send!(r));
    return;
  }
  const t0 = performance.now();
  const s = newSummary();
  if (jobs > 1 && plan.count > 1) await runParallel(plan, jobs, s);
  else runRange(plan, 0, 1, (r) => add(s, r));
  const seconds = (performance.now() - t0) / 1000;
  const inv = [...s.byInvariant.entries()].map(([k, v]) => `${k}: ${v}`).join(', ');
  const seeds = s.failures.map((f) => f.seed).sort((a, b) => a - b);
  console.log(
    `seeds run: ${s.runs} (${plan.start}..${plan.start + plan.count - 1}, nodes ${plan.nodes}${plan.bug ? `, bug ${plan.bug}` : ''}), ` +
      `failures: ${s.failures.length}${inv ? ` (${inv})` : ''}, seconds: ${seconds.toFixed(1)}, ` +
      `ms/seed: ${((seconds * 1000 * Math.min(jobs, plan.count)) / Math.max(1, s.runs)).toFixed(0)}, avg ticks: ${(s.ticks / Math.max(1, s.runs)).toFixed(0)}, ok ops/seed: ${(s.opsOk / Math.max(1, s.runs)).toFixed(0)}`,
  );
  if (plan.verbose || plan.count > 1) {
    const avg = Object.entries(s.totals).map(([k, v]) => `${k} ${(v / Math.max(1, s.runs)).toFixed(1)}`);
    console.log(`per seed: ${avg.join(', ')}; slowest recovery: ${s.maxRecovery.ticks} ticks (seed ${s.maxRecovery.seed})`);
  }
  if (seeds.length > 0) {
    console.log(`failing seeds: ${seeds.slice(0, 50).join(' ')}${seeds.length > 50 ? ' ...' : ''}`);
    console.log(`reproduce one: ${reproCommand(plan, s.failures.find((f) => f.seed === seeds[0])!)}`);
  }
  process.exitCode = s.failures.length > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exitCode = 2;
});
