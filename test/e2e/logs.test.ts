// Logs: one structured line per lifecycle event, each with the node id and, where it has
// one, the term; nothing per request at info level; --log-format pretty for people.

import assert from 'node:assert/strict';
import { clusterTest } from './cluster.ts';

interface Line {
  msg: string;
  self?: number;
  term?: number;
}

function lines(log: string): Line[] {
  return log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
}

clusterTest('lifecycle events are logged as JSON lines with the node id and term; requests are not', 1, {}, async (c) => {
  const n1 = c.node(1);
  await c.putAcked(n1, '/k', 'v');
  for (let i = 0; i < 20; i++) assert.equal((await c.getAnswer(n1, '/k')).body, 'v');
  assert.equal(await c.kill(n1, 'SIGTERM'), 0);
  const got = lines(n1.log);
  const msgs = got.map((l) => l.msg);
  for (const event of ['started', 'created WAL', 'ready', 'became leader', 'stopping', 'stopped']) {
    assert.ok(msgs.includes(event), `no "${event}" line in:\n${msgs.join('\n')}`);
  }
  assert.ok(got.every((l) => l.self === 1), 'every line names the node');
  const leader = got.find((l) => l.msg === 'became leader')!;
  assert.ok((leader.term ?? 0) >= 1, 'the term is on the line');
  assert.ok(got.length < 40, `${got.length} lines for 21 requests: nothing is logged per request`);
});

clusterTest('--log-format pretty writes text for people, not JSON', 1, { extraArgs: ['--log-format', 'pretty'] }, async (c) => {
  const n1 = c.node(1);
  await c.putAcked(n1, '/k', 'v');
  assert.equal(lines(n1.log).length, 0);
  assert.match(n1.log, /INFO.*ready/);
  assert.match(n1.log, /INFO.*became leader/);
});
