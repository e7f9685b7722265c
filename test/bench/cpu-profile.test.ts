// Ranking a V8 CPU profile by self time, and reading raftexample's leader from its log.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSelfTimes, rankSelfTime, type CpuProfile } from '../../bench/cpu-profile.ts';
import { electedLeader } from '../../bench/systems/raftexample.ts';

const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });

const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', '', -1), children: [2, 3, 6] },
    { id: 2, callFrame: frame('encode', 'file:///repo/src/raftpb/codec.ts', 9), children: [4] },
    { id: 3, callFrame: frame('', 'file:///repo/node_modules/fastify/lib/route.js', 99) },
    { id: 4, callFrame: frame('(garbage collector)', '', -1) },
    { id: 5, callFrame: frame('encode', 'file:///repo/src/raftpb/codec.ts', 9) },
    { id: 6, callFrame: frame('(idle)', '', -1) },
    { id: 7, callFrame: frame('load', 'node:internal/modules/esm/loader', 0) },
  ],
  startTime: 0,
  endTime: 10_000,
  // The first 2 ms is start-up (a module load); the rest is the phase.
  samples: [7, 2, 3, 2, 4, 5, 3, 2, 6],
  timeDeltas: [2000, 1000, 500, 1000, 2000, 1000, 500, 1000, 1000],
};

test('self time is summed per function (over every node of its call tree) and per file or package, idle apart', () => {
  const ranking = rankSelfTime(profile, 3);
  assert.deepEqual(ranking.functions.map((t) => t.where), ['encode src/raftpb/codec.ts:10', 'load node:internal/modules/esm/loader:1', '(garbage collector)']);
  assert.deepEqual(ranking.functions.map((t) => t.selfMs), [4, 2, 2]);
  assert.equal(ranking.busyMs, 9);
  assert.equal(ranking.idleMs, 1);
  assert.equal(ranking.functions[0]!.percent, 4000 * 100 / 9000);
  assert.deepEqual(rankSelfTime(profile, 10).files.map((f) => f.where), ['src/raftpb/codec.ts', 'node:internal/modules/esm/loader', '(garbage collector) (native)', 'fastify']);
  assert.match(formatSelfTimes(ranking.functions), /^ 1\. {2}44\.4% {7}4 ms {2}encode src\/raftpb\/codec\.ts:10$/m);
});

test('a window keeps only the last milliseconds of the profile (the write phase, not start-up)', () => {
  const ranking = rankSelfTime(profile, 10, 7.5); // samples after 2.5 ms
  assert.equal(ranking.busyMs, 7);
  assert.ok(!ranking.functions.some((f) => f.where.startsWith('load ')));
  assert.deepEqual(rankSelfTime({ nodes: [], startTime: 0, endTime: 0, samples: [], timeDeltas: [] }), { functions: [], files: [], busyMs: 0, idleMs: 0 });
});

test("raftexample's leader is the one elected at the highest term in any node's log", () => {
  assert.equal(electedLeader(['', 'raft starting']), undefined);
  const first = 'raft2024/12/01 11:05:00 INFO: raft.node: 1 elected leader 2 at term 2\n';
  const later = 'raft2024/12/01 11:05:09 INFO: raft.node: 3 elected leader 3 at term 5\n';
  // An index into the nodes: node 3 is index 2.
  assert.equal(electedLeader([first, first + later, '']), 2);
  assert.equal(electedLeader([later, first]), 2);
});
