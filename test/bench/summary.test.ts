// What the benchmark prints: medians over rounds, the ratios against the targets,
// the per-phase line, the table and the one JSON line.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuMicrosPerWrite, formatPhaseLine, formatRatios, formatTable, jsonLine, memoryVerdict, ratios, summarize } from '../../bench/summary.ts';
import { parseResidentMemory, residentMemory } from '../../bench/processes.ts';
import { roundMemory } from '../../bench/round.ts';
import { phase, round } from './fixtures.ts';

const rounds = [
  round('ours', 1, 20_000, 50_000), round('etcd', 1, 9_000, 40_000), round('raftexample', 1, 12_000, 90_000),
  round('ours', 2, 24_000, 60_000), round('etcd', 2, 11_000, 50_000), round('raftexample', 2, 14_000, 100_000),
  round('ours', 3, 22_000, 55_000), round('etcd', 3, 10_000, 45_000), round('raftexample', 3, 13_000, 95_000),
];
// raftexample acknowledges more than commits: 16,000 acknowledged/s in every round.
for (const r of rounds.filter((x) => x.system === 'raftexample')) r.phases[0]!.okPerSecond = 16_000;

test('each system is summarized by the median of its rounds', () => {
  const [ours, etcd] = summarize(rounds);
  assert.equal(ours!.system, 'ours');
  const leader = ours!.phases.find((p) => p.phase === 'writes-leader')!;
  assert.equal(leader.rounds, 3);
  assert.equal(leader.committedPerSecond, 22_000);
  assert.equal(leader.leaderCpuMicrosPerOk, 90);
  assert.equal(leader.clusterCores, 1);
  assert.equal(leader.lostEstimate, 0);
  assert.equal(etcd!.phases.find((p) => p.phase === 'reads-local')!.okPerSecond, 45_000);
});

test('ratios: ours over etcd, and ours committed over raftexample acknowledged, with the targets', () => {
  const list = ratios(summarize(rounds));
  const value = (what: string) => list.find((r) => r.what.startsWith(what))!;
  assert.equal(value('writes to the leader, committed/s: ours / etcd').value, 2.2);
  assert.equal(value('writes to the leader, committed/s: ours / etcd').target, 2.0);
  assert.equal(value('writes to the leader: ours committed/s / raftexample acknowledged/s').value, 22_000 / 16_000);
  assert.equal(value('writes to the leader, committed/s: ours / raftexample').value, 22_000 / 13_000);
  assert.equal(value('writes spread over all nodes, committed/s: ours / etcd').value, 2.2);
  assert.equal(value('reads/s from one node: ours linearizable / etcd local').value, 55_000 / 45_000);
  const text = formatRatios(list);
  assert.match(text, /^writes to the leader, committed\/s: ours \/ etcd: 2\.20x {2}target 2\.0x: met$/m);
  assert.match(text, /ours linearizable \/ raftexample local: 0\.58x$/m);
});

test('a skipped system leaves its ratios n/a, and no comparison at all says how to get one', () => {
  const withoutEtcd = ratios(summarize(rounds.filter((r) => r.system !== 'etcd')));
  assert.match(formatRatios(withoutEtcd), /ours \/ etcd: n\/a \(not in this run\)$/m);
  assert.match(formatRatios(withoutEtcd), /raftexample acknowledged\/s: 1\.38x {2}target 1\.0x: met$/m);
  assert.match(formatRatios(ratios(summarize(rounds.filter((r) => r.system === 'ours')))), /--compare/);
});

test('a target not met says so', () => {
  const slow = [round('ours', 1, 10_000, 30_000), round('etcd', 1, 10_000, 40_000)];
  assert.match(formatRatios(ratios(summarize(slow))), /ours \/ etcd: 1\.00x {2}target 2\.0x: not met/);
});

test('the phase line shows acknowledged, committed, what the check found and the failures', () => {
  const lossy = round('raftexample', 1, 16_000, 90_000);
  lossy.phases[1] = phase('writes-spread', 5_000, {
    committedPerSecond: 4_000,
    failures: { '503': 3, network: 1 },
    visibility: { acknowledged: 50_000, checked: 5_000, missing: 1_000, missingPerNode: [1_000, 0, 0], missingExamples: ['k1'], lostEstimate: 10_000, committedEstimate: 40_000 },
  });
  const line = formatPhaseLine(lossy, lossy.phases[1]!);
  assert.match(line, /^raftexample r1 writes-spread to all nodes: 5,000 acknowledged\/s, committed 4,000\/s /);
  assert.match(line, /read back 5000 of 50000 on every node: 1000 missing, about 10000 lost/);
  assert.match(line, /p50 2\.0 ms, p99 20 ms, max 50 ms/);
  assert.match(line, /CPU µs per request per node 90 \(leader\) \/ 40 \/ 40; node cores 0\.50 \+ 0\.25 \+ 0\.25; generator 0\.30 cores/);
  assert.match(line, /failures: 3 503, 1 network$/);
  assert.match(formatPhaseLine(lossy, lossy.phases[2]!), /reads-local to node 1 \(leader\): 90,000 ok\/s; .*failures: none$/);
});

test('the table has one column per system in the issue order, and shows acknowledged beside committed', () => {
  const table = formatTable(summarize(rounds));
  const header = table.split('\n')[1]!;
  assert.ok(header.indexOf('Go raftexample') < header.indexOf('etcd 3.4') && header.indexOf('etcd 3.4') < header.indexOf('ours'));
  assert.match(table, /writes to the leader, committed\/s *│ 13,000 \(acknowledged 16,000\) *│ 10,000 *│ 22,000 /);
  assert.match(table, /reads\/s from one node *│ 95,000 \(local\) *│ 45,000 \(local\) *│ 55,000 \(linearizable\)/);
  assert.match(table, /serializable reads\/s \(reference\).*110,000, p99 20 ms/);
  assert.doesNotMatch(table, /\x1b\[/, 'no colour codes: the output goes to files and READMEs');
});

test('the JSON line is one line with the config, skips, rounds (no time series), summary and ratios', () => {
  const line = jsonLine({
    config: { seconds: 10, warmupSeconds: 10, snapshotCount: 100000, readSeconds: 5, connections: 64, valueBytes: 128, checkKeys: 5000, rounds: 3, compare: true, client: 'raw' },
    machine: { cpus: 2, loadAverage: [1.234567, 1, 1], node: 'v20' },
    skipped: [{ system: 'etcd', reason: 'no etcd at /usr/bin/etcd' }],
    rounds,
  });
  assert.doesNotMatch(line, /\n/);
  const parsed = JSON.parse(line);
  assert.equal(parsed.bench, 'raftexample-ts');
  assert.equal(parsed.config.connections, 64);
  assert.equal(parsed.machine.loadAverage[0], 1.235, 'numbers rounded to 3 decimals');
  assert.deepEqual(parsed.skipped, [{ system: 'etcd', reason: 'no etcd at /usr/bin/etcd' }]);
  assert.equal(parsed.rounds.length, 9);
  assert.equal(parsed.rounds[0].phases[0].buckets, undefined);
  assert.equal(parsed.rounds[0].phases[0].visibility.checked, 100);
  assert.equal(parsed.summary.find((s: { system: string }) => s.system === 'ours').phases[0].committedPerSecond, 22_000);
  assert.equal(parsed.ratios[0].value, 2.2);
});

test('the table shows the writes raftexample lost over all rounds beside its committed rate', () => {
  const lossy = [round('raftexample', 1, 8_000, 90_000), round('raftexample', 2, 6_000, 90_000)];
  for (const [i, r] of lossy.entries()) {
    const spread = r.phases[1]!;
    spread.committedPerSecond = spread.okPerSecond - 1_000;
    spread.visibility = { ...spread.visibility!, lostEstimate: 10_000 * (i + 1) };
  }
  assert.match(formatTable(summarize(lossy)), /writes spread over all nodes, committed\/s *│ 2,500 \(acknowledged 3,500, about 30,000 lost in 2 rounds\)/);
});

test('memory: the largest node peak of any round, bytes per key, and the 250 MB verdict', () => {
  const withMemory = (system: 'ours' | 'etcd', n: number, peaks: (number | null)[], perKeyGrowth: number) => {
    const r = round(system, n, 10_000, 20_000);
    r.memory = roundMemory([100e6, 90e6, 90e6], [100e6 + perKeyGrowth * 1000, 95e6, 95e6], peaks, 1000, 0);
    return r;
  };
  const list = [
    withMemory('ours', 1, [200e6, 150e6, 140e6], 300),
    withMemory('ours', 2, [180e6, 260e6, 150e6], 500),
    withMemory('ours', 3, [210e6, 150e6, null], 400),
    withMemory('etcd', 1, [90e6, 80e6, 80e6], 100),
  ];
  const [ours, etcd] = summarize(list);
  assert.equal(ours!.memory.peakRssBytes, 260e6, 'the largest of the rounds: 200, 260, 210');
  assert.equal(ours!.memory.leaderBytesPerKey, 400);
  assert.equal(etcd!.memory.peakRssBytes, 90e6);
  assert.match(memoryVerdict(summarize(list))!, /ours: 260 MB {2}target under 250 MB: not met$/, 'one round over the bound is enough to miss it');
  assert.match(memoryVerdict(summarize(list.filter((r) => r.round !== 2)))!, /ours: 210 MB {2}target under 250 MB: met$/);
  assert.match(memoryVerdict(summarize([withMemory('ours', 1, [300e6, 1, 1], 1)]))!, /not met$/);
  assert.equal(memoryVerdict(summarize(rounds)), null, 'no verdict without a measurement');
  assert.match(formatTable(summarize(list)), /largest resident size of a node in any round.*90 MB.*260 MB/);
  assert.equal(roundMemory([null], [5], [5], 10, 0).leaderBytesPerKey, null);
  assert.equal(roundMemory([10], [5], [5], 10, 0).leaderBytesPerKey, 0, 'a shrinking process grew by nothing');
});

test('resident memory is read from /proc status', () => {
  const status = 'Name:\tnode\nVmPeak:\t 1200 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t7\n';
  assert.deepEqual(parseResidentMemory(status), { rssBytes: 102400 * 1024, peakRssBytes: 204800 * 1024 });
  assert.equal(parseResidentMemory('Name:\tnode\n'), null);
  const self = residentMemory(process.pid);
  assert.ok(self !== null && self.rssBytes > 0 && self.peakRssBytes >= self.rssBytes);
});

test('CPU per write counts every node and the generator', () => {
  const [ours] = summarize(rounds);
  const leader = ours!.phases.find((p) => p.phase === 'writes-leader')!;
  assert.equal(cpuMicrosPerWrite(leader), ((leader.clusterCores! + leader.generatorCores!) * 1e6) / leader.okPerSecond!);
  assert.equal(cpuMicrosPerWrite({ ...leader, generatorCores: null }), null);
  assert.match(formatTable(summarize(rounds)), /CPU µs per write, all nodes \+ generator/);
});
