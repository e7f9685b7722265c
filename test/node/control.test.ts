// RaftNode's control requests against a scripted leader (test/node/fake-leader.ts): what a
// conf change entry means is in its context (a promotion never adds a member, a plain add
// never promotes), a follower sends promotions to the leader's door, and a leader transfer
// asked of a follower is forwarded to the leader and answered once leadership has moved.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isServiceError } from '../../src/errors.ts';
import { encodeConfChangeContext } from '../../src/node/membership.ts';
import { ConfChangeType, EntryType, MessageType, encodeConfChange, type Entry, type Message } from '../../src/raft/index.ts';
import type { MemberChangeKind } from '../../src/queues.ts';
import { until } from '../e2e/cluster.ts';
import { BOOTSTRAP_COMMIT, TERM, askChange, following, LEADER_ID, NODE_ID, msg, twoMemberSetup, type NodeUnderTest } from './fake-leader.ts';


/** A conf change entry as another member's request would have put it in the log. */
function confChangeEntry(index: number, kind: MemberChangeKind, type: ConfChangeType, nodeId: number, url: string): Entry {
  const context = encodeConfChangeContext(new Uint8Array(12).fill(index), kind, url);
  return { term: TERM, index, type: EntryType.ConfChange, data: encodeConfChange({ type, nodeId, context }) };
}

const roles = (n: NodeUnderTest) => n.node.members().map((m) => `${m.id}:${m.role}`);

test('an AddNode meant as a promotion applies to a learner only; a plain AddNode never promotes', async (t) => {
  const { leader, start } = await twoMemberSetup(t);
  const n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);
  const entries = [
    confChangeEntry(3, 'addLearner', ConfChangeType.AddLearnerNode, 3, 'http://127.0.0.1:33'),
    confChangeEntry(4, 'promote', ConfChangeType.AddNode, 5, ''), // not a member: refused
    confChangeEntry(5, 'addVoter', ConfChangeType.AddNode, 3, 'http://127.0.0.1:34'), // a member already: refused
  ];
  await leader.send(msg({ type: MessageType.MsgApp, term: TERM, index: BOOTSTRAP_COMMIT, logTerm: 1, entries, commit: 5 }));
  await until('the entries applied', async () => ((await n.node.status()).applied >= 5 ? true : undefined));
  assert.deepEqual(roles(n), ['1:voter', '2:voter', '3:learner']);
  assert.equal(n.node.members().find((m) => m.id === 3)!.peerURL, 'http://127.0.0.1:33');

  const promote = confChangeEntry(6, 'promote', ConfChangeType.AddNode, 3, '');
  await leader.send(msg({ type: MessageType.MsgApp, term: TERM, index: 5, logTerm: TERM, entries: [promote], commit: 6 }));
  await until('member 3 promoted', async () => (roles(n).includes('3:voter') ? true : undefined));
  assert.deepEqual(roles(n), ['1:voter', '2:voter', '3:voter']);
});

test('a follower refuses a promotion with 503 naming the leader: only the leader knows how far a learner is', async (t) => {
  const { leader, start } = await twoMemberSetup(t);
  const n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);
  const learner = confChangeEntry(3, 'addLearner', ConfChangeType.AddLearnerNode, 3, 'http://127.0.0.1:33');
  await leader.send(msg({ type: MessageType.MsgApp, term: TERM, index: BOOTSTRAP_COMMIT, logTerm: 1, entries: [learner], commit: 3 }));
  await until('learner 3 added', async () => (roles(n).includes('3:learner') ? true : undefined));
  await assert.rejects(
    askChange(n, { kind: 'promote', type: ConfChangeType.AddNode, nodeId: 3, peerUrl: '' }),
    (e) => isServiceError(e, 'ERR_NOT_LEADER') && e.status === 503 && /member 1/.test(e.message),
  );
  // The usual checks come first: a voter or a non-member is refused as such.
  await assert.rejects(askChange(n, { kind: 'promote', type: ConfChangeType.AddNode, nodeId: 1, peerUrl: '' }), (e) => isServiceError(e, 'ERR_MEMBER_IS_VOTER'));
  await assert.rejects(askChange(n, { kind: 'promote', type: ConfChangeType.AddNode, nodeId: 8, peerUrl: '' }), (e) => isServiceError(e, 'ERR_MEMBER_NOT_FOUND'));
  // And so is a transfer to a learner or to no member.
  await assert.rejects(n.node.transferLeader(3), (e) => isServiceError(e, 'ERR_TRANSFER_TO_LEARNER') && e.status === 409);
  await assert.rejects(n.node.transferLeader(8), (e) => isServiceError(e, 'ERR_BAD_TRANSFER_TARGET') && e.status === 400);
  assert.equal(await n.node.transferLeader(LEADER_ID), LEADER_ID, 'already the leader: nothing to do');
  assert.equal(leader.received.filter((m) => m.type === MessageType.MsgProp || m.type === MessageType.MsgTransferLeader).length, 0);
});

test('a transfer asked of a follower goes to the leader, and is answered once the target leads', async (t) => {
  const { leader, start } = await twoMemberSetup(t);
  const n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);
  const voter3 = confChangeEntry(3, 'addVoter', ConfChangeType.AddNode, 3, 'http://127.0.0.1:33');
  await leader.send(msg({ type: MessageType.MsgApp, term: TERM, index: BOOTSTRAP_COMMIT, logTerm: 1, entries: [voter3], commit: 3 }));
  await until('voter 3 added', async () => (roles(n).includes('3:voter') ? true : undefined));
  const settled = (p: Promise<number>) => {
    const s: { outcome: number | string } = { outcome: 'pending' };
    p.then((l) => (s.outcome = l), (e: unknown) => (s.outcome = isServiceError(e) ? e.code : String(e)));
    return s;
  };
  const isTransfer = (m: Message) => m.type === MessageType.MsgTransferLeader;

  // To member 3: the request leaves with this node as sender (peers refuse any other) and the
  // transferee in its context.
  const toThree = settled(n.node.transferLeader(3));
  const forwarded = await leader.expect('the transfer to 3 forwarded to the leader', isTransfer);
  assert.deepEqual(
    [forwarded.from, forwarded.to, forwarded.term, Buffer.from(forwarded.context).toString()],
    [NODE_ID, LEADER_ID, TERM, '3'],
    'peers refuse a message whose sender is not `from`, and one without a term',
  );
  leader.received.length = 0;

  // To this node: the leader hands over (MsgTimeoutNow); the node campaigns and we vote for it.
  const toSelf = settled(n.node.transferLeader(NODE_ID));
  const mine = await leader.expect('the transfer to 2 forwarded to the leader', isTransfer);
  assert.equal(Buffer.from(mine.context).toString(), String(NODE_ID));
  assert.equal(toSelf.outcome, 'pending', 'not answered before leadership moved');
  leader.stopLeading();
  await leader.send(msg({ type: MessageType.MsgTimeoutNow, term: TERM }));
  const vote = await leader.expect('the node asks for our vote', (m) => m.type === MessageType.MsgVote);
  await leader.send(msg({ type: MessageType.MsgVoteResp, term: vote.term }));
  await until('the transfer answers', async () => (toSelf.outcome === 'pending' ? undefined : true));
  assert.equal(toSelf.outcome, NODE_ID);
  assert.equal((await n.node.status()).raftState, 'StateLeader');
  // The transfer to 3 lost: someone else leads now, so it did not and will not happen.
  await until('the transfer to 3 answers', async () => (toThree.outcome === 'pending' ? undefined : true));
  assert.equal(toThree.outcome, 'ERR_TRANSFER_REFUSED');
});
