// One chaos run: network, cluster, clients and nemesis for `durationMs`, then heal, converge,
// check and report. Everything it makes (namespaces, processes, the tmpfs, the temp dir) is
// removed at the end, also when it fails.

import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Prng } from '../test/sim/prng.ts';
import { checkDeaths, checkHistory, checkSameState, checkSerializableReads, checkWitnesses, readStates, waitConverged, type CheckResult } from './check.ts';
import { ChaosCluster, type ChaosNode } from './cluster.ts';
import { makeSchedule, Nemesis, NETWORK_GROUPS, type FaultGroup, type ScheduledFault } from './nemesis.ts';
import { LoopbackNetwork, NetnsNetwork, netnsUnavailable, removeLeftovers, type ChaosNetwork } from './net.ts';
import { REGISTER_KEYS, Workload, type OutcomeCounts } from './workload.ts';

const exec = promisify(execFile);
const DISK_NODE_TMPFS_BYTES = 48 * 1024 * 1024;
const TMPFS_SOURCE_PREFIX = 'raftexample-chaos-';

/** Unmount the small disks of runs whose process is gone. */
async function unmountLeftovers(): Promise<string[]> {
  const gone: string[] = [];
  for (const line of (await readFile('/proc/mounts', 'utf8')).split('\n')) {
    const [source, target] = line.split(' ');
    if (source === undefined || target === undefined || !source.startsWith(TMPFS_SOURCE_PREFIX)) continue;
    const pid = Number(source.slice(TMPFS_SOURCE_PREFIX.length));
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (alive) continue;
    await exec('umount', ['-l', target]).catch(() => undefined);
    gone.push(target);
  }
  return gone;
}

export interface ChaosOptions {
  seed: number;
  durationMs: number;
  nodes: number;
  faults: FaultGroup[];
  /** Environment for the nodes: the test-only switches (src/config.ts). */
  nodeEnv?: Record<string, string>;
  clients?: number;
  /** Keep the run's directory (logs, data) instead of removing it. */
  keepDir?: boolean;
  log?: (line: string) => void;
}

export interface ChaosReport {
  network: 'netns' | 'loopback';
  schedule: ScheduledFault[];
  counts: OutcomeCounts;
  checks: CheckResult[];
  passed: number;
  failed: number;
  dir: string;
  tornTailRepairs: number;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => process.stdout.write(line + '\n'));
  const why = await netnsUnavailable();
  let net: ChaosNetwork;
  let faults = opts.faults;
  if (why === null) {
    const leftovers = [...(await removeLeftovers()), ...(await unmountLeftovers())];
    if (leftovers.length > 0) log(`removed leftovers of earlier runs: ${leftovers.join(' ')}`);
    net = await NetnsNetwork.create();
    log(`network: one namespace per node on bridge ${(net as NetnsNetwork).bridge} (clients from ${net.clientHost})`);
  } else {
    net = new LoopbackNetwork();
    const dropped = faults.filter((g) => NETWORK_GROUPS.includes(g));
    faults = faults.filter((g) => !NETWORK_GROUPS.includes(g));
    log(`NETWORK NAMESPACES UNAVAILABLE (${why}): nodes on loopback, WITHOUT network faults (${dropped.join(', ') || 'none asked for'})`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'raftexample-chaos-'));
  const prng = new Prng(opts.seed);
  const clockFaults = faults.includes('clock');
  const skewPrng = prng.fork();
  const cluster = new ChaosCluster(net, dir, {
    tickMs: 50,
    electionTicks: 10,
    requestTimeoutMs: 2000,
    snapshotCount: 300,
    env: opts.nodeEnv ?? {},
    // A node's monotonic clock starts days ahead (a time namespace): ticks must only count intervals.
    monotonicSkewSeconds: () => (clockFaults && net.kind === 'netns' ? 1 + skewPrng.int(30 * 86_400) : 0),
  });
  let tmpfs: string | null = null;
  try {
    const schedule = makeSchedule(opts.seed, opts.durationMs, faults);
    log(`seed ${opts.seed}, ${opts.nodes} nodes, ${opts.durationMs / 1000} s, faults ${faults.join(',') || 'none'}; run dir ${dir}`);
    let diskNode: ChaosNode | null = null;
    if (faults.includes('disk') && net.kind === 'netns') {
      tmpfs = join(dir, 'node-1');
      await mkdir(tmpfs, { recursive: true });
      // The source names our pid, so a later run can unmount it if we die first.
      await exec('mount', ['-t', 'tmpfs', '-o', `size=${DISK_NODE_TMPFS_BYTES}`, `${TMPFS_SOURCE_PREFIX}${process.pid}`, tmpfs]);
    }
    await cluster.start(opts.nodes);
    if (tmpfs !== null) diskNode = cluster.nodes.get(1) ?? null;
    const nemesis = new Nemesis(cluster, opts.nodes, diskNode);
    await nemesis.recover();
    if ((await cluster.leader()) === undefined) throw new Error('the cluster elected no leader at start');

    const workload = new Workload(cluster, prng.fork());
    const startedAt = performance.now();
    const clients = workload.run(opts.clients ?? 6, 20);
    log('fault schedule (time from the start of the clients):');
    await nemesis.play(schedule, startedAt, opts.durationMs, log);
    const rest = opts.durationMs - (performance.now() - startedAt);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    workload.stop();
    await clients;

    log('healing and waiting for convergence');
    await nemesis.recover();
    const checks: CheckResult[] = [];
    const notConverged = await waitConverged(cluster, 60_000);
    checks.push({ name: 'members converge after healing', ok: notConverged === null, detail: notConverged ?? `${cluster.members.length} members` });
    const leader = (await cluster.leader()) ?? cluster.members[0]!.id;
    await workload.finalReads(leader).catch((e: Error) => checks.push({ name: 'final reads', ok: false, detail: e.message }));
    const keys = [...REGISTER_KEYS, ...workload.witnesses.map((w) => w.key)];
    const states = await readStates(cluster, workload, keys);
    checks.push(checkHistory(workload));
    checks.push(checkSerializableReads(workload));
    checks.push(checkWitnesses(workload, states.get(leader) ?? [...states.values()][0]));
    checks.push(checkSameState(states));
    checks.push(checkDeaths(cluster));
    if (workload.unexpectedStatuses.size > 0) {
      checks.push({ name: 'no unexpected status codes', ok: false, detail: [...workload.unexpectedStatuses].map(([s, n]) => `${s} x${n}`).join(', ') });
    }
    const passed = checks.filter((c) => c.ok).length;
    return {
      network: net.kind,
      schedule,
      counts: workload.counts,
      checks,
      passed,
      failed: checks.length - passed,
      dir,
      tornTailRepairs: [...cluster.nodes.values()].reduce((sum, n) => sum + n.tornTailRepairs, 0),
    };
  } finally {
    await cluster.destroy();
    await net.destroy();
    if (tmpfs !== null) await exec('umount', ['-l', tmpfs]).catch(() => undefined);
    if (opts.keepDir !== true) await rm(dir, { recursive: true, force: true });
  }
}

export function formatReport(report: ChaosReport): string {
  const lines: string[] = [];
  const byKind = new Map<string, number>();
  for (const f of report.schedule) if (f.what !== undefined && !f.what.startsWith('not run')) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  lines.push(`faults run: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}; torn WAL tails repaired: ${report.tornTailRepairs}`);
  lines.push('operations by outcome:');
  for (const [kind, c] of Object.entries(report.counts)) lines.push(`  ${kind.padEnd(17)} ok ${c.ok}, failed ${c.failed}, unknown ${c.unknown}`);
  lines.push('checks:');
  for (const c of report.checks) lines.push(`  ${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
  lines.push(`${report.passed} passed, ${report.failed} failed`);
  return lines.join('\n');
}
