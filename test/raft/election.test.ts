// Rules of leader election that read better as code: the randomized timeout, what may be sent
// before the fsync, config validation. The election scenarios are in testdata/election*.txt.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, RawNode, type Message, type Ready } from '../../src/raft/index.ts';
import { MT, Network, ST, enc, seededRandom, storageWith } from './network.ts';

const voteReq = (from: number, to: number, term: number, index: number, logTerm: number): Message => ({
  type: MT.MsgVote,
  from,
  to,
  term,
  index,
  logTerm,
  entries: [],
  commit: 0,
  snapshot: null,
  reject: false,
  rejectHint: 0,
  context: new Uint8Array(),
});

test('bootstrap refuses a node that already has storage (a restarting node must not bootstrap)', () => {
  const net = Network.bootstrap([1, 2, 3]);
  assert.throws(() => net.rn(1).bootstrap([{ id: 1, context: enc('') }]), /empty storage/);
});

test('election timeout is randomized in [electionTicks, 2*electionTicks)', () => {
  const seen = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    const storage = storageWith([1], { term: 1 }, [1, 2, 3]);
    const rn = new RawNode({ id: 1, electionTicks: 10, heartbeatTicks: 1, storage, random: seededRandom(seed), preVote: false });
    let ticks = 0;
    while (rn.status().softState.raftState === ST.Follower) {
      rn.tick();
      ticks++;
      assert.ok(ticks < 20, 'must campaign before 2*electionTicks');
    }
    assert.ok(ticks >= 10);
    seen.add(ticks);
  }
  assert.ok(seen.size > 3, 'timeouts should vary');
});

test('votes and vote responses wait for the fsync; appends and heartbeats need not', async () => {
  const { canSendBeforePersist } = await import('../../src/raft/index.ts');
  const m = voteReq(1, 2, 2, 0, 0);
  const rd = { changesTermOrVote: false } as Ready;
  assert.equal(canSendBeforePersist(rd, m), false);
  assert.equal(canSendBeforePersist(rd, { ...m, type: MT.MsgVoteResp }), false);
  assert.equal(canSendBeforePersist(rd, { ...m, type: MT.MsgAppResp }), false);
  assert.equal(canSendBeforePersist(rd, { ...m, type: MT.MsgHeartbeatResp }), false);
  assert.equal(canSendBeforePersist(rd, { ...m, type: MT.MsgApp }), true);
  assert.equal(canSendBeforePersist(rd, { ...m, type: MT.MsgHeartbeat }), true);
  assert.equal(canSendBeforePersist(rd, { ...m, type: MT.MsgSnap }), true);
  // Nothing leaves early from a Ready that changes term or vote.
  assert.equal(canSendBeforePersist({ changesTermOrVote: true } as Ready, { ...m, type: MT.MsgApp }), false);
});

test('config is validated with a clear message', () => {
  const storage = new MemoryStorage();
  const base = { id: 1, electionTicks: 10, heartbeatTicks: 1, storage, random: seededRandom(1) };
  assert.throws(() => new RawNode({ ...base, id: 0 }), /id must be a positive integer/);
  assert.throws(() => new RawNode({ ...base, electionTicks: 1 }), /electionTicks \(1\) must be greater/);
  assert.throws(() => new RawNode({ ...base, maxInflightMsgs: 0 }), /maxInflightMsgs/);
});
