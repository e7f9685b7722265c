// Ranking a V8 CPU profile by self time, and reading raftexample's leader from its log.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSelfTimes, topSelfTime, type CpuProfile } from '../../bench/cpu-profile.ts';
import { electedLeader } from '../../bench/systems/raftexample.ts';

const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });

test('self time is summed per function (over every node of its call tree) and ranked', () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', '', -1), children: [2, 3] },
      { id: 2, callFrame: frame('encode', 'file:///repo/src/raftpb/codec.ts', 9), children: [4] },
      { id: 3, callFrame: frame('', 'file:///repo/node_modules/fastify/lib/route.js', 99) },
      { id: 4, callFrame: frame('(garbage collector)', '', -1) },
      { id: 5, callFrame: frame('encode', 'file:///repo/src/raftpb/codec.ts', 9) },
    ],
    samples: [2, 3, 2, 4, 5, 3, 2],
    timeDeltas: [1000, 500, 1000, 2000, 1000, 500, 1000],
  };
  const top = topSelfTime(profile, 3);
  assert.deepEqual(top.map((t) => t.where), ['encode src/raftpb/codec.ts:10', '(garbage collector)', '(anonymous) fastify/lib/route.js:100']);
  assert.deepEqual(top.map((t) => t.selfMs), [4, 2, 1]);
  assert.equal(top[0]!.percent, 4000 * 100 / 7000);
  assert.match(formatSelfTimes(top), /^ 1\. {2}57\.1% {7}4 ms {2}encode src\/raftpb\/codec\.ts:10$/m);
  assert.deepEqual(topSelfTime({ nodes: [], samples: [], timeDeltas: [] }), []);
});

test("raftexample's leader is the one elected at the highest term in any node's log", () => {
  assert.equal(electedLeader(['', 'raft starting']), undefined);
  const first = 'raft2024/12/01 11:05:00 INFO: raft.node: 1 elected leader 2 at term 2\n';
  const later = 'raft2024/12/01 11:05:09 INFO: raft.node: 3 elected leader 3 at term 5\n';
  assert.equal(electedLeader([first, first + later, '']), 2);
  assert.equal(electedLeader([later, first]), 2);
});
