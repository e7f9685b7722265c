// Rules for proposals: who accepts them, who forwards them, and when they are refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftErrorCode, isRaftError, type RaftError } from '../../src/raft/index.ts';
import { MT, Network, ST, enc } from './network.ts';

const droppedErr = (e: unknown) => isRaftError(e, RaftErrorCode.ProposalDropped);

test('proposal dropped with no leader: the caller is told at once with ERR_PROPOSAL_DROPPED', () => {
  const net = Network.bootstrap([1, 2, 3]);
  assert.throws(() => net.rn(2).propose(enc('x')), (e) => droppedErr(e) && !(e as RaftError).overloaded);
  // A candidate has no leader either.
  net.isolate(2);
  net.rn(2).campaign();
  net.deliverAll();
  assert.equal(net.state(2), ST.PreCandidate);
  assert.throws(() => net.rn(2).propose(enc('x')), droppedErr);
  assert.throws(() => net.rn(2).readIndex(enc('r')), droppedErr);
});

test('proposal dropped during a leader transfer', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.isolate(2); // the transfer cannot complete
  net.rn(1).transferLeader(2);
  net.deliverAll();
  assert.equal(net.rn(1).status().leadTransferee, 2);
  assert.throws(() => net.rn(1).propose(enc('x')), (e) => droppedErr(e) && /transferred/.test((e as Error).message));
});

test('a follower forwards a proposal to the leader', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.propose(3, 'from-follower');
  const forwarded = net.sent.filter((m) => m.type === MT.MsgProp);
  assert.deepEqual(forwarded.map((m) => [m.from, m.to]), [[3, 1]]);
  for (const id of [1, 2, 3]) assert.deepEqual(net.node(id).applied, ['from-follower']);
});

test('a forwarded proposal the leader must drop is dropped quietly on the network path', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.isolate(2);
  net.rn(1).transferLeader(2);
  net.deliverAll();
  net.heal();
  net.isolate(2);
  net.rn(3).propose(enc('x')); // forwarded; the leader drops it, the network step does not throw
  net.deliverAll();
  assert.deepEqual(net.node(3).applied, []);
});

test('step rejects local-only message types', () => {
  const net = Network.bootstrap([1]);
  for (const type of [MT.MsgHup, MT.MsgBeat, MT.MsgUnreachable, MT.MsgSnapStatus, MT.MsgCheckQuorum]) {
    assert.throws(
      () => net.rn(1).step({ type, to: 1, from: 2, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, snapshot: null, reject: false, rejectHint: 0, context: enc('') }),
      (e) => isRaftError(e, RaftErrorCode.StepLocalMsg),
    );
  }
});

test('single voter: campaigns, commits and applies on its own', () => {
  const net = Network.bootstrap([1]);
  net.elect(1);
  assert.equal(net.state(1), ST.Leader);
  net.propose(1, 'solo');
  assert.deepEqual(net.node(1).applied, ['solo']);
  assert.equal(net.sent.length, 0);
});

test('proposeBatch: one MsgProp, appended in order with one broadcast, applied everywhere in order', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  const start = net.sent.length;
  net.rn(1).proposeBatch(['a', 'b', 'c'].map(enc));
  net.deliverAll();
  const apps = net.sent.slice(start).filter((m) => m.type === MT.MsgApp && m.from === 1 && m.entries.length > 0);
  // One append per follower carrying the whole batch (not one per entry).
  assert.deepEqual(apps.map((m) => [m.to, m.entries.length]).sort(), [[2, 3], [3, 3]]);
  for (const id of [1, 2, 3]) assert.deepEqual(net.node(id).applied, ['a', 'b', 'c']);
  net.rn(1).proposeBatch([]); // nothing to do
  net.deliverAll();
  assert.deepEqual(net.node(2).applied, ['a', 'b', 'c']);
});

test('proposeBatch from a follower is forwarded whole; with no leader it is dropped as a whole', () => {
  const net = Network.bootstrap([1, 2, 3]);
  assert.throws(() => net.rn(2).proposeBatch(['x', 'y'].map(enc)), droppedErr);
  net.elect(1);
  const start = net.sent.length;
  net.rn(3).proposeBatch(['x', 'y'].map(enc));
  net.deliverAll();
  const fwd = net.sent.slice(start).filter((m) => m.type === MT.MsgProp);
  assert.deepEqual(fwd.map((m) => [m.from, m.to, m.entries.length]), [[3, 1, 2]]);
  for (const id of [1, 2, 3]) assert.deepEqual(net.node(id).applied, ['x', 'y']);
});

test('proposeBatch counts against the uncommitted limit as a whole: over it, none is appended', () => {
  const net = Network.bootstrap([1, 2, 3], { config: () => ({ maxUncommittedEntriesSize: 100 }) });
  net.elect(1);
  net.isolate(2);
  net.isolate(3);
  const e40 = enc('x'.repeat(40));
  net.rn(1).proposeBatch([e40, e40]); // 80 bytes uncommitted
  const last = net.rn(1).status().progress!.get(1)!.match;
  // 80 + 50 > 100. The leader is there but full: the error says so (the service sheds with 503 overloaded).
  assert.throws(() => net.rn(1).proposeBatch([enc('y'.repeat(10)), e40]), (e) => droppedErr(e) && (e as RaftError).overloaded);
  assert.equal(net.rn(1).status().progress!.get(1)!.match, last, 'nothing of the dropped batch was appended');
  net.heal();
  net.tick(2, [1]); // committed and applied: the budget frees up
  net.rn(1).proposeBatch([enc('z')]);
  net.deliverAll();
  assert.deepEqual(net.node(3).applied, ['x'.repeat(40), 'x'.repeat(40), 'z']);
});
