// The dashboard's timeline: a bounded ring with sequence numbers for SSE's Last-Event-ID,
// whose listeners cannot hurt the node that reports into it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventRing, type TimelineEvent } from '../../src/ui/event-ring.ts';

test('keeps the newest `capacity` events, numbered, with their source and time', () => {
  const ring = new EventRing(7, 3, () => 1000);
  for (let peer = 1; peer <= 5; peer++) ring.event({ kind: 'peer', peer, up: false });
  const kept = ring.since(0);
  assert.deepEqual(kept.map((e) => e.seq), [3, 4, 5]);
  assert.deepEqual(kept[0], { kind: 'peer', peer: 3, up: false, seq: 3, atMs: 1000, source: 7 });
  assert.deepEqual(ring.since(4).map((e) => e.seq), [5]);
  assert.deepEqual(ring.since(5), []);
});

test('listeners get every new event, observed ones too; one that throws is dropped, the others go on', () => {
  const ring = new EventRing(1, 10);
  const seen: TimelineEvent[] = [];
  ring.subscribe(() => {
    throw new Error('broken stream');
  });
  const stop = ring.subscribe((e) => seen.push(e));
  assert.doesNotThrow(() => ring.event({ kind: 'leader', leader: 2, term: 3 }));
  ring.observed({ kind: 'reachability', member: 3, up: false });
  stop();
  ring.event({ kind: 'leader', leader: 0, term: 3 });
  assert.deepEqual(seen.map((e) => e.kind), ['leader', 'reachability']);
});
