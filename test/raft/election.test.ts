// Rules of leader election (Raft §5.2, §5.4.1) and of restarting from storage.
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

test('bootstrap: every peer starts with one committed AddNode entry per peer at term 1', () => {
  const net = Network.bootstrap([1, 2, 3]);
  for (const id of [1, 2, 3]) {
    const st = net.rn(id).status();
    assert.equal(st.hardState.term, 1);
    assert.equal(st.commit, 3);
    assert.equal(st.applied, 3);
    assert.deepEqual(net.log(id).map((e) => [e.index, e.term, e.type]), [[1, 1, 1], [2, 1, 1], [3, 1, 1]]);
  }
  assert.throws(() => net.rn(1).bootstrap([{ id: 1, context: enc('') }]), /empty storage/);
});

test('election: a node that wins a majority leads and appends an empty entry of its own term', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  assert.equal(net.state(1), ST.Leader);
  assert.equal(net.term(1), 2);
  for (const id of [1, 2, 3]) {
    const last = net.log(id).at(-1)!;
    assert.deepEqual([last.index, last.term, last.data.length], [4, 2, 0]);
    assert.equal(net.rn(id).status().commit, 4);
    assert.equal(net.rn(id).status().softState.lead, 1);
  }
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

test('heartbeats go out every heartbeatTicks', () => {
  const net = Network.bootstrap([1, 2, 3], { heartbeatTicks: 3 });
  net.elect(1);
  const before = net.sent.length;
  net.tick(6, [1]);
  const beats = net.sent.slice(before).filter((m) => m.type === MT.MsgHeartbeat);
  assert.equal(beats.length, 4); // 2 rounds x 2 followers
});

test('stale term rejected: a message from an older term changes nothing and tells the sender the newer term', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.isolate(1);
  net.tick(30, [2, 3]); // 2 and 3 elect a leader at term 3; 1 hears nothing
  const newLeader = net.leader();
  assert.ok(newLeader === 2 || newLeader === 3);
  const other = 5 - newLeader;
  assert.equal(net.term(newLeader), 3);
  assert.equal(net.state(1), ST.Leader); // still thinks so, at term 2
  const lastBefore = net.log(other).length;
  // The old leader proposes; its MsgApp at term 2 reaches the other follower, at term 3.
  net.heal();
  net.isolate(newLeader);
  net.rn(1).propose(enc('stale'));
  net.deliverAll();
  assert.equal(net.log(other).length, lastBefore, 'stale append must not touch the log');
  assert.equal(net.state(1), ST.Follower, 'the response carries term 3: the old leader steps down');
  assert.equal(net.term(1), 3);
});

test('stale vote request refused with the current term: the candidate learns the newer term', () => {
  const storage = storageWith([1], { term: 1 }, [1, 2, 3]);
  const rn = new RawNode({ id: 1, electionTicks: 10, heartbeatTicks: 1, storage, random: seededRandom(1), preVote: false });
  rn.step(voteReq(2, 1, 7, 1, 1)); // term 7: granted, node 1 moves to term 7
  rn.advance(rn.ready());
  rn.step(voteReq(3, 1, 5, 5, 1)); // term 5 < 7, even with a longer log
  const resps = rn.ready().messages.filter((m) => m.type === MT.MsgVoteResp);
  assert.deepEqual(resps.map((m) => [m.to, m.term, m.reject]), [[3, 7, true]]);
  assert.equal(rn.status().hardState.term, 7);
  assert.equal(rn.status().hardState.vote, 2, 'the stale request changes nothing');
});

test('vote needs an up-to-date log: a candidate with a shorter or older log is refused', () => {
  // Node 3 has the longest log; 1 and 2 lack entries 3 and 4.
  const net = new Network({ config: () => ({ preVote: false }) });
  net.addNode(1, storageWith([1, 1], { term: 2 }, [1, 2, 3]));
  net.addNode(2, storageWith([1, 1], { term: 2 }, [1, 2, 3]));
  net.addNode(3, storageWith([1, 1, 2, 2], { term: 2 }, [1, 2, 3]));
  net.deliverAll();
  net.isolate(2);
  net.elect(1);
  assert.notEqual(net.state(1), ST.Leader);
  const refusals = net.sent.filter((m) => m.type === MT.MsgVoteResp && m.from === 3);
  assert.ok(refusals.length > 0 && refusals.every((m) => m.reject));
  // Directly: same last term but shorter log is refused, longer log accepted.
  const rn = net.rn(3);
  rn.step(voteReq(1, 3, 10, 3, 2));
  rn.step(voteReq(2, 3, 11, 4, 2));
  const resps = net.flush(3).filter((m) => m.type === MT.MsgVoteResp);
  assert.deepEqual(resps.map((m) => [m.to, m.reject]), [[1, true], [2, false]]);
});

test('one vote per term: a node grants at most one candidate per term', () => {
  for (const bug of [false, true]) {
    const storage = storageWith([1], { term: 1 }, [1, 2, 3]);
    const rn = new RawNode({
      id: 1, electionTicks: 10, heartbeatTicks: 1, storage, random: seededRandom(1),
      plantedBugs: { grantTwoVotesPerTerm: bug },
    });
    rn.step(voteReq(2, 1, 5, 1, 1));
    rn.step(voteReq(3, 1, 5, 1, 1));
    rn.step(voteReq(2, 1, 5, 1, 1)); // a retry from the same candidate is granted again
    const resps = rn.ready().messages.filter((m) => m.type === MT.MsgVoteResp);
    const granted = resps.filter((m) => !m.reject).map((m) => m.to);
    if (bug) assert.deepEqual(granted, [2, 3, 2], 'planted bug: second vote granted');
    else assert.deepEqual(granted, [2, 2]);
  }
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

test('restart from storage keeps term, vote and log', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'a');
  net.propose(1, 'b');
  const before = net.rn(2).status();
  const logBefore = net.log(2).map((e) => [e.index, e.term]);
  net.crash(2);
  const n2 = net.restart(2);
  const after = n2.rn.status();
  assert.deepEqual(after.hardState, before.hardState);
  assert.equal(after.hardState.vote, 1);
  assert.equal(after.lastIndex, before.lastIndex);
  assert.deepEqual(net.log(2).map((e) => [e.index, e.term]), logBefore);
  net.deliverAll(); // replays committed entries into the fresh state machine
  assert.deepEqual(n2.applied, ['a', 'b']);
  // It cannot vote again in term 2 for someone else.
  n2.rn.step(voteReq(3, 2, 2, 100, 2));
  const resp = net.flush(2).find((m) => m.type === MT.MsgVoteResp)!;
  assert.equal(resp.reject, true);
});

test('config is validated with a clear message', () => {
  const storage = new MemoryStorage();
  const base = { id: 1, electionTicks: 10, heartbeatTicks: 1, storage, random: seededRandom(1) };
  assert.throws(() => new RawNode({ ...base, id: 0 }), /id must be a positive integer/);
  assert.throws(() => new RawNode({ ...base, electionTicks: 1 }), /electionTicks \(1\) must be greater/);
  assert.throws(() => new RawNode({ ...base, maxInflightMsgs: 0 }), /maxInflightMsgs/);
});
