// The benchmark users run. Ours (a 3-node loopback cluster in a temp dir) and, with
// --compare, etcd 3.4 (v2 API) and Go raftexample under the same closed-loop load, in
// interleaved rounds: writes to the leader, writes spread over all nodes (committed = acked
// and read back from every node), reads from one node. Prints per-phase lines, a table,
// ratios and one JSON line; writes an HTML report with uPlot charts.
//
//   npm run bench                                  # ours only, one round
//   npm run bench -- --compare                     # ours, etcd, raftexample; 2 interleaved rounds
//   npm run bench -- --seconds 5 --connections 32 --rounds 3 --report /tmp/r.html
//   npm run bench -- --profile /tmp/prof           # CPU profiles of ours' write phase; the leader's top functions

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { TestCluster } from '../test/e2e/cluster.ts';
import { formatSelfTimes, rankSelfTime, type CpuProfile } from './cpu-profile.ts';
import { runClosedLoop } from './load-generator.ts';
import { parseBenchArgs, USAGE, type BenchOptions } from './options.ts';
import { stderrProgress } from './progress.ts';
import { renderReport } from './report-html.ts';
import { runRound, writeKey, writeValue, type RoundResult } from './round.ts';
import { formatPhaseLine, formatRatios, formatTable, jsonLine, memoryVerdict, ratios, summarize, type Skipped } from './summary.ts';
import { etcdFactory } from './systems/etcd.ts';
import { ours, oursFactory, oursNodeOptions } from './systems/ours.ts';
import { raftexampleFactory } from './systems/raftexample.ts';
import type { SystemFactory, SystemUnderTest } from './systems/system.ts';

const progress = stderrProgress();
let running: SystemUnderTest | undefined;
process.once('SIGINT', () => void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(130)));

let options: BenchOptions;
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
await (options.profileDir !== undefined ? profileRun(options, options.profileDir) : compareRun(options));

async function compareRun(opts: BenchOptions): Promise<void> {
  const { factories, skipped } = await availableSystems(opts);
  for (const s of skipped) console.log(`skipped ${s.system}: ${s.reason}`);
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const factory of factories) {
      const result = await oneRound(factory, round, opts);
      if (typeof result === 'string') skipped.push({ system: factory.name, reason: result });
      else rounds.push(result);
    }
  }
  const summaries = summarize(rounds);
  const text = [
    describe(opts),
    formatTable(summaries),
    formatRatios(ratios(summaries)),
    ...[memoryVerdict(summaries)].filter((line) => line !== null),
    ...skipped.map((s) => `skipped ${s.system}: ${s.reason}`),
  ].join('\n\n');
  console.log(`\n${text}`);
  await mkdir(dirname(opts.reportPath), { recursive: true });
  await writeFile(opts.reportPath, renderReport(rounds, text));
  console.log(`\nHTML report: ${opts.reportPath}`);
  console.log(jsonLine({ config: configOf(opts), machine: machine(), skipped, rounds }));
}

/** The round's result, or why it could not run (the cluster did not start). */
async function oneRound(factory: SystemFactory, round: number, opts: BenchOptions): Promise<RoundResult | string> {
  progress.note(`${factory.name} round ${round}: starting a 3-node cluster`);
  try {
    running = await factory.start();
  } catch (e) {
    return `round ${round} did not start: ${(e as Error).message}`;
  }
  try {
    const result = await runRound(running, round, opts, progress);
    for (const phase of result.phases) console.log(formatPhaseLine(result, phase));
    return result;
  } catch (e) {
    console.error(running.logTail());
    return `round ${round} failed: ${(e as Error).message}`;
  } finally {
    await running.stop();
    running = undefined;
  }
}

async function availableSystems(opts: BenchOptions): Promise<{ factories: SystemFactory[]; skipped: Skipped[] }> {
  const all = [oursFactory({ snapshotCount: opts.snapshotCount }), etcdFactory(opts.etcdBinary, opts.snapshotCount), raftexampleFactory(opts.cacheDir)];
  const factories: SystemFactory[] = [];
  const skipped: Skipped[] = [];
  for (const factory of all.filter((f) => opts.systems.includes(f.name))) {
    if (factory.name === 'raftexample') progress.note(`raftexample: using or building ${join(opts.cacheDir, 'raftexample')}`);
    const availability = await factory.check();
    if (availability.available) factories.push(factory);
    else skipped.push({ system: factory.name, reason: availability.reason });
  }
  if (opts.compare && skipped.length > 0) progress.note('--compare: the ratios to a skipped system are printed as n/a');
  return { factories, skipped };
}

/** Ours only, each node under node --cpu-prof: warm-up and the write phase to the leader, then the leader's top self-time functions. */
async function profileRun(opts: BenchOptions, profileDir: string): Promise<void> {
  await mkdir(profileDir, { recursive: true });
  const cluster = await TestCluster.start(3, oursNodeOptions({ snapshotCount: opts.snapshotCount, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] }));
  const system = ours(cluster);
  running = system;
  try {
    const leader = await system.leaderIndex();
    const leaderPid = cluster.nodes[leader]!.proc!.pid!;
    for (const [label, seconds] of [['warm-up', opts.warmupSeconds], ['writes-leader', opts.seconds]] as const) {
      const load = await runClosedLoop({
        client: opts.client,
        origins: [system.nodeUrls[leader]!],
        clients: opts.connections,
        durationMs: seconds * 1000,
        request: (seq) => system.writeRequest(writeKey(label, seq), writeValue(seq, opts.valueBytes)),
        isOk: system.isWriteOk,
        onProgress: progress.phase(`ours (profiled) ${label}`, seconds),
      });
      progress.done();
      if (label === 'writes-leader') console.log(`writes to the leader under --cpu-prof: ${Math.round(load.ok / (load.elapsedMs / 1000))} acknowledged/s`);
    }
    // A clean exit (SIGTERM) is what makes node write its profile.
    await Promise.all(cluster.nodes.map((n) => cluster.kill(n, 'SIGTERM')));
    const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${leaderPid}.0.`));
    if (file === undefined) throw new Error(`no profile of the leader (pid ${leaderPid}) in ${profileDir}`);
    const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as CpuProfile;
    // The write phase is the last seconds of the profile: the nodes were stopped right after it.
    const ranking = rankSelfTime(profile, 10, opts.seconds * 1000);
    console.log(`profiles in ${profileDir}; the leader was node ${leader + 1} (${file}).`);
    console.log(`Its last ${opts.seconds} s: ${Math.round(ranking.busyMs)} ms busy, ${Math.round(ranking.idleMs)} ms idle. Top functions by self time (% of busy):`);
    console.log(formatSelfTimes(ranking.functions));
    console.log('By file or package:');
    console.log(formatSelfTimes(ranking.files));
  } finally {
    await cluster.destroy();
    running = undefined;
  }
}

function describe(opts: BenchOptions): string {
  const m = machine();
  return (
    `${opts.connections} closed-loop clients, ${opts.valueBytes}-byte values, ${opts.seconds} s per write phase after a ${opts.warmupSeconds} s warm-up, ` +
    `${opts.readSeconds} s per read phase; ${opts.rounds} round(s) of ${opts.systems.join(', ')}; medians over rounds.\n` +
    `a snapshot every ${opts.snapshotCount} applied entries for ours and etcd (raftexample's is fixed at 10000).\n` +
    `machine: ${m.cpus} cores, load average ${m.loadAverage.map((l) => l.toFixed(2)).join(' ')} at the end, node ${m.node}; the generator runs on the same cores ` +
    `(HTTP client: ${opts.client === 'raw' ? 'raw, a kept-alive socket per client' : 'undici Pool'}).`
  );
}

function configOf(opts: BenchOptions) {
  const { seconds, warmupSeconds, snapshotCount, readSeconds, connections, valueBytes, checkKeys, rounds, compare, client } = opts;
  return { seconds, warmupSeconds, snapshotCount, readSeconds, connections, valueBytes, checkKeys, rounds, compare, client };
}

function machine() {
  return { cpus: cpus().length, loadAverage: loadavg(), node: process.version };
}
