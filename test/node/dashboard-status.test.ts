// What the node adds to its status and reports as events for the dashboard (issue 12): the
// last log index, the terms of the last entries (a bounded window ending at it), and its
// lifecycle events through the NodeEvents sink.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeEvent } from '../../src/node/events.ts';
import { statusLogTermsMax } from '../../src/limits.ts';
import { startOneNode } from './one-node.ts';

test('status: lastIndex and the terms of the last entries, at most statusLogTermsMax of them', async (t) => {
  const { node, kv } = await startOneNode(t);
  const before = await node.status();
  assert.equal(before.recentLogTerms.firstIndex + before.recentLogTerms.terms.length - 1, before.lastIndex);
  for (let i = 0; i < statusLogTermsMax + 10; i++) await kv.put(`/k${i}`, new Uint8Array([i]));
  const s = await node.status();
  assert.ok(s.lastIndex >= before.lastIndex + statusLogTermsMax + 10, `lastIndex ${s.lastIndex}`);
  assert.ok(s.lastIndex >= s.commit);
  assert.equal(s.recentLogTerms.terms.length, statusLogTermsMax);
  assert.equal(s.recentLogTerms.firstIndex, s.lastIndex - statusLogTermsMax + 1);
  assert.ok(s.recentLogTerms.terms.every((term) => term === s.term), 'one leader, one term');
  assert.deepEqual(s.links, [], 'a single member has no peers');
});

test('events: the node reports becoming leader and the leader it sees', async (t) => {
  const events: NodeEvent[] = [];
  const { node } = await startOneNode(t, { events: { event: (e) => events.push(e) } });
  const { term } = await node.status();
  assert.deepEqual(events.find((e) => e.kind === 'role' && e.role === 'leader'), { kind: 'role', role: 'leader', term });
  assert.deepEqual(events.find((e) => e.kind === 'leader'), { kind: 'leader', leader: 1, term });
});
