// Membership changes with two voters, where the survivor must learn that the leaver's removal
// committed: these need drop rules on commit indexes, which read better as code. The other
// membership rules are scenarios: testdata/confchange_*.txt.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftErrorCode, isRaftError } from '../../src/raft/index.ts';
import { CC, MT, Network, ST, enc } from './network.ts';

const droppedErr = (e: unknown) => isRaftError(e, RaftErrorCode.ProposalDropped);

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
