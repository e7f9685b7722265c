// Membership changes: one at a time, as log entries that take effect when applied.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftErrorCode, isRaftError } from '../../src/raft/index.ts';
import { CC, MT, Network, ST, enc, storageWith } from './network.ts';

const droppedErr = (e: unknown) => isRaftError(e, RaftErrorCode.ProposalDropped);

test('add a voter: the new node gets the whole log and joins the quorum', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'a');
  net.addNode(4); // started with --join: empty storage, no bootstrap
  net.confChange(1, CC.AddNode, 4, 'url4');
  assert.deepEqual(net.node(1).confState, { voters: [1, 2, 3, 4], learners: [] });
  net.propose(1, 'b');
  assert.deepEqual(net.node(4).applied, ['a', 'b']);
  assert.deepEqual(net.node(4).confState, { voters: [1, 2, 3, 4], learners: [] });
  // Four voters need three: with 3 and 4 gone, nothing commits.
  net.isolate(3);
  net.isolate(4);
  const commit = net.rn(1).status().commit;
  net.propose(1, 'c');
  assert.equal(net.rn(1).status().commit, commit);
});

test('remove a voter: the quorum shrinks with it', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.confChange(1, CC.RemoveNode, 3);
  assert.deepEqual(net.node(1).confState, { voters: [1, 2], learners: [] });
  assert.equal(net.rn(1).status().progress!.has(3), false);
  net.isolate(3);
  net.propose(1, 'x');
  assert.deepEqual(net.node(2).applied, ['x']);
});

test('one conf change at a time: a second one is dropped until the first is applied', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.rn(1).proposeConfChange({ type: CC.AddLearnerNode, nodeId: 4, context: enc('') });
  assert.throws(() => net.rn(1).proposeConfChange({ type: CC.AddLearnerNode, nodeId: 5, context: enc('') }), droppedErr);
  net.deliverAll(); // the first commits and is applied
  net.confChange(1, CC.AddLearnerNode, 5);
  assert.deepEqual(net.node(1).confState, { voters: [1, 2, 3], learners: [4, 5] });
});

test('no conf change before the leader has committed an entry of its own term', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.dropIf = (m) => m.type === MT.MsgApp;
  net.elect(1);
  assert.equal(net.state(1), ST.Leader);
  assert.throws(
    () => net.rn(1).proposeConfChange({ type: CC.AddNode, nodeId: 4, context: enc('') }),
    (e) => droppedErr(e) && /own|its term/.test((e as Error).message),
  );
  net.heal();
  net.tick(2, [1]);
  net.confChange(1, CC.AddLearnerNode, 4);
  assert.deepEqual(net.node(1).confState.learners, [4]);
});

test('removing the leader: it steps down once the change is applied, and the rest elect a leader', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'before');
  net.confChange(1, CC.RemoveNode, 1);
  assert.equal(net.state(1), ST.Follower);
  assert.deepEqual(net.node(2).confState, { voters: [2, 3], learners: [] });
  net.crash(1); // a removed node shuts itself down
  net.tick(40, [2, 3]);
  const leader = net.leader();
  assert.ok(leader === 2 || leader === 3);
  net.propose(leader, 'after');
  assert.deepEqual(net.node(2).applied, ['before', 'after']);
  assert.deepEqual(net.node(3).applied, ['before', 'after']);
});

test('the last voter cannot be removed', () => {
  const net = Network.bootstrap([1]);
  net.elect(1);
  assert.throws(() => net.rn(1).proposeConfChange({ type: CC.RemoveNode, nodeId: 1, context: enc('') }), droppedErr);
});

test('a learner receives the log but never campaigns, and neither its vote nor its ack counts', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.addNode(4);
  net.confChange(1, CC.AddLearnerNode, 4);
  net.propose(1, 'l');
  assert.deepEqual(net.node(4).applied, ['l']);
  assert.equal(net.rn(4).status().commit, net.rn(1).status().commit);
  // Only the learner is left with the leader: no quorum, nothing commits; CheckQuorum fires.
  net.isolate(2);
  net.isolate(3);
  const commit = net.rn(1).status().commit;
  net.propose(1, 'm');
  assert.equal(net.rn(1).status().commit, commit);
  net.tick(25, [1, 4]);
  assert.equal(net.state(1), ST.Follower, "the learner does not keep the leader's quorum");
  // Left alone for many election timeouts, the learner never campaigns.
  net.isolate(1);
  net.tick(100, [4]);
  assert.equal(net.state(4), ST.Follower);
  assert.ok(!net.sent.some((m) => m.from === 4 && (m.type === MT.MsgVote || m.type === MT.MsgPreVote)));
  assert.ok(!net.sent.some((m) => m.to === 4 && (m.type === MT.MsgVote || m.type === MT.MsgPreVote)));
});

test('promote a learner: AddNode on a learner makes it a voter', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.addNode(4);
  net.confChange(1, CC.AddLearnerNode, 4);
  net.confChange(1, CC.AddNode, 4);
  assert.deepEqual(net.node(4).confState, { voters: [1, 2, 3, 4], learners: [] });
  net.rn(1).transferLeader(4);
  net.deliverAll();
  assert.equal(net.leader(), 4);
});

test('a node restarted on storage that already holds a configuration needs no bootstrap', () => {
  const net = new Network();
  for (const id of [1, 2, 3]) net.addNode(id, storageWith([1, 1], { term: 1 }, [1, 2, 3]));
  net.tick(30);
  assert.notEqual(net.leader(), 0);
});

test('two voters: a leader that removes itself leads on until the survivor confirms the commit', () => {
  // Stepping down at once wedges the survivor if the one message carrying the commit is lost:
  // still in {1, 2}, it needs the vote of a node that has left.
  const net = Network.bootstrap([1, 2]);
  net.elect(1);
  net.propose(1, 'before');
  net.rn(1).proposeConfChange({ type: CC.RemoveNode, nodeId: 1, context: enc('') });
  // 2 gets the entry, but no message telling it the entry is committed.
  let removalIndex = 0;
  net.dropIf = (m) => m.from === 1 && removalIndex > 0 && m.commit >= removalIndex;
  net.deliverAll(1000, (m) => {
    if (removalIndex === 0 && m.type === MT.MsgAppResp && m.from === 2) removalIndex = net.rn(1).status().lastIndex;
  });
  assert.deepEqual(net.node(1).confState.voters, [2], 'the leader applied its removal');
  assert.ok(net.rn(2).status().commit < removalIndex, 'the survivor does not know it yet');
  net.tick(30, [1]); // past CheckQuorum, too
  assert.equal(net.state(1), ST.Leader, 'it still leads: the survivor has not confirmed');
  assert.throws(() => net.rn(1).propose(enc('x')), droppedErr);
  net.heal();
  net.tick(2, [1]);
  assert.equal(net.state(1), ST.Follower, 'the survivor confirmed the commit');
  assert.deepEqual(net.node(2).confState, { voters: [2], learners: [] });
  net.crash(1);
  net.tick(40, [2]);
  assert.equal(net.leader(), 2);
  net.propose(2, 'after');
  assert.deepEqual(net.node(2).applied, ['before', 'after']);
});

test('demote a voter: AddLearnerNode on the leader makes it a learner, and the others elect a leader', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.confChange(1, CC.AddLearnerNode, 1);
  assert.deepEqual(net.node(2).confState, { voters: [2, 3], learners: [1] });
  assert.equal(net.state(1), ST.Follower);
  net.tick(40);
  const leader = net.leader();
  assert.ok(leader === 2 || leader === 3);
  net.propose(leader, 'after');
  assert.deepEqual(net.node(1).applied, ['after'], 'the demoted node still receives the log');
  net.tick(100, [1]);
  assert.ok(!net.sent.some((m) => m.from === 1 && m.term > net.term(leader)), 'a learner never campaigns');
});

test('two voters: the survivor learns from the leaver\'s vote refusal that the removal committed', () => {
  // The leaver restarted (or was deposed) before the survivor heard of the commit, and its log
  // is longer than the survivor's, so it refuses the survivor's vote; having left, it never
  // campaigns itself. The refusal carries its commit index: that is how the survivor learns.
  const net = Network.bootstrap([1, 2]);
  net.elect(1);
  net.propose(1, 'before');
  net.rn(1).proposeConfChange({ type: CC.RemoveNode, nodeId: 1, context: enc('') });
  const removalIndex = net.rn(1).status().lastIndex;
  net.rn(1).propose(enc('late'));
  net.dropIf = (m) => m.from === 1 && (m.commit >= removalIndex || m.entries.some((e) => e.index > removalIndex));
  net.deliverAll();
  assert.deepEqual(net.node(1).confState.voters, [2], 'the leaver applied its removal');
  assert.ok(net.rn(2).status().commit < removalIndex, 'the survivor does not know it');
  assert.ok(net.log(1).length > net.log(2).length, "the leaver's log is the longer one");
  net.crash(1);
  net.restart(1);
  net.heal();
  net.deliverAll();
  net.tick(60);
  assert.equal(net.leader(), 2);
  assert.deepEqual(net.node(2).confState, { voters: [2], learners: [] });
  net.propose(2, 'after');
  assert.deepEqual(net.node(2).applied, ['before', 'after']);
});
