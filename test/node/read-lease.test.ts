// The leader's read lease (src/node/read-lease.ts), on the real node against a scripted
// follower (fake-leader.ts answering as member 1): reads within the lease need no heartbeat
// round; once the lease has run out by the node's clock, or once a leadership transfer has
// begun, a read waits for a round a quorum answers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageType, type Message } from '../../src/raft/index.ts';
import { noNodeMetrics, type NodeMetrics } from '../../src/node/metrics.ts';
import { LEASE_CLOCK_FACTOR, leaseDurationMs, ReadLease } from '../../src/node/read-lease.ts';
import { worldWith } from '../../src/node/world.ts';
import { realClock } from '../../src/world.ts';
import { until } from '../e2e/cluster.ts';
import { NODE_ID, track, twoMemberSetup, type FakeLeader } from './fake-leader.ts';

/** The id of the newest read round the node has sent heartbeats for (heartbeats carry it as a float64), 0 for none. */
function newestRound(peer: FakeLeader): number {
  let newest = 0;
  for (const m of peer.received) {
    if (m.type === MessageType.MsgHeartbeat && m.context.length === 8) {
      newest = Math.max(newest, new DataView(m.context.buffer, m.context.byteOffset, 8).getFloat64(0));
    }
  }
  return newest;
}

/** A read that must wait for a round: the node sends a new one while it stays unserved; it is served once the follower answers again. */
async function waitsForRound(peer: FakeLeader, read: () => Promise<unknown>): Promise<void> {
  peer.silent = true;
  const before = newestRound(peer);
  const r = track(read());
  await until('the node asks a new read round', async () => (newestRound(peer) > before ? true : undefined));
  assert.equal(r.state, 'pending', 'a read outside the lease was served without a round');
  peer.silent = false;
  await until('the read is served once a round is answered', async () => (r.state === 'done' ? true : undefined));
}

test('the leader serves reads under its lease without a round, and not once the lease ran out by its clock or a transfer began', async (t) => {
  let skewMs = 0;
  const clock = { now: () => realClock.now() + skewMs };
  const counted = { lease: 0, round: 0 };
  const metrics: NodeMetrics = { ...noNodeMetrics, readsIndexed: (how, n) => void (counted[how] += n) };
  const { leader: peer, start } = await twoMemberSetup(t, { world: worldWith({ clock }), metrics });
  peer.answerAsFollower = true;
  const n = await start();
  await until('the node leads', async () => ((await n.node.status()).leader === NODE_ID ? true : undefined));
  await until('a first read is served', () => n.kv.get('/k', false).then(() => true));
  assert.ok(counted.round >= 1, 'the first read of a term asks a round');

  const roundsBefore = counted.round;
  for (let i = 0; i < 20; i++) await n.kv.get('/k', false);
  assert.ok(counted.lease > 0, 'reads right after a confirmed round use the lease');
  assert.ok(counted.round - roundsBefore < 20, 'not every read asked a round');

  // The node's clock moves a minute on: the lease has run out, whatever the follower does meanwhile.
  skewMs += 60_000;
  await waitsForRound(peer, () => n.kv.get('/k', false));

  // Served by a round just now, so the lease holds again; a transfer voids it for the term.
  await until('the node leads', async () => ((await n.node.status()).leader === NODE_ID ? true : undefined));
  await n.kv.get('/k', false);
  void n.node.transferLeadership();
  await until('the node hands over (TimeoutNow, which the script ignores)', async () => peer.received.find((m: Message) => m.type === MessageType.MsgTimeoutNow));
  await waitsForRound(peer, () => n.kv.get('/k', false));
});

test('the lease is what the followers ticks guarantee, less the ticks a turn may take early and the clock factor', () => {
  // 10 ticks of 100 ms: 10 - 1 (the first tick may come at once) - 2 (taken in the heartbeat's turn) = 7 ticks.
  assert.equal(leaseDurationMs(10, 100, 2), Math.floor(700 * LEASE_CLOCK_FACTOR));
  assert.equal(leaseDurationMs(3, 100, 2), 0, 'too short an election timeout for any lease');
  assert.ok(LEASE_CLOCK_FACTOR > 0 && LEASE_CLOCK_FACTOR < 1);
});

test('a lease holds from when its round was asked, in its term and configuration only, and asks renewal once half has run', () => {
  const lease = new ReadLease(100);
  // Monotonic and wall clocks, 50,000 ms apart here; the lease must hold by both.
  const at = (ms: number, conf = 0) => lease.heldTerm(ms, 50_000 + ms, conf);
  assert.equal(at(0), 0, 'none before a round');
  lease.confirmed({ at: 1000, wall: 51_000, term: 5, conf: 0 });
  assert.equal(at(1099), 5);
  assert.equal(at(1100), 0, 'over at askedAt + duration');
  assert.equal(at(1050, 1), 0, 'another configuration');
  lease.confirmed({ at: 990, wall: 50_990, term: 5, conf: 0 });
  assert.equal(at(1095), 5, 'an older round does not shorten it');
  assert.equal(lease.shouldRenew(1040), false, 'less than half has run');
  assert.equal(lease.shouldRenew(1050), true);
  assert.equal(lease.shouldRenew(1060), false, 'one renewal at a time');
  lease.renewed();
  assert.equal(lease.shouldRenew(1060), true);
  lease.confirmed({ at: 900, wall: 50_900, term: 6, conf: 0 });
  assert.equal(at(1050), 0, 'a new term replaces it, even with an earlier end');
  lease.confirmed({ at: 1000, wall: 51_000, term: 6, conf: 0 });
  lease.drop();
  assert.equal(at(1001), 0);
});

test('a lease ends when the wall clock has run past it, though the monotonic clock stood still (the machine was suspended)', () => {
  const lease = new ReadLease(100);
  lease.confirmed({ at: 1000, wall: 51_000, term: 5, conf: 0 });
  assert.equal(lease.heldTerm(1010, 51_010, 0), 5);
  assert.equal(lease.heldTerm(1010, 51_000 + 30_000, 0), 0, 'suspended for 30 s: monotonic time moved 10 ms');
  assert.equal(lease.heldTerm(1010, 40_000, 0), 5, 'a wall clock set back leaves the monotonic bound');
  assert.equal(lease.heldTerm(1100, 40_000, 0), 0);
});
