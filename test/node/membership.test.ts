// Membership's decisions as tables: which change of which kind applies to which member, and
// when a learner is ready to be promoted. Pure functions: every node decides the same.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  LEARNER_PROMOTE_LAG_ENTRIES_MAX,
  Membership,
  decodeConfChangeContext,
  encodeConfChangeContext,
  learnerNotReadyReason,
} from '../../src/node/membership.ts';
import { ConfChangeType } from '../../src/raft/index.ts';
import type { MemberChange, MemberChangeKind } from '../../src/queues.ts';

const conf = { voters: [1, 2], learners: [3] };

function membership(): Membership {
  const m = new Membership();
  m.add(1, 'http://a:1');
  m.add(2, 'http://a:2');
  m.add(3, 'http://a:3');
  m.remove(9);
  return m;
}

const TYPES: Record<MemberChangeKind, ConfChangeType> = {
  addVoter: ConfChangeType.AddNode,
  addLearner: ConfChangeType.AddLearnerNode,
  promote: ConfChangeType.AddNode,
  remove: ConfChangeType.RemoveNode,
};

test('each kind of change applies only to the members it means', () => {
  const m = membership();
  const cases: [MemberChangeKind, number, string, string | null][] = [
    ['addVoter', 4, 'http://a:4', null],
    ['addLearner', 4, 'http://a:4', null],
    ['addVoter', 3, 'http://a:3', 'ERR_MEMBER_EXISTS'], // a plain add never promotes a learner
    ['addLearner', 2, 'http://a:2', 'ERR_MEMBER_EXISTS'], // nor demotes a voter
    ['addLearner', 9, 'http://a:9', 'ERR_MEMBER_ID_REMOVED'],
    ['addLearner', 4, 'http://a:2', 'ERR_PEER_URL_EXISTS'],
    ['promote', 3, '', null],
    ['promote', 2, '', 'ERR_MEMBER_IS_VOTER'],
    ['promote', 4, '', 'ERR_MEMBER_NOT_FOUND'], // a promotion never adds a member
    ['promote', 9, '', 'ERR_MEMBER_NOT_FOUND'],
    ['remove', 3, '', null],
    ['remove', 4, '', 'ERR_MEMBER_NOT_FOUND'],
  ];
  for (const [kind, nodeId, peerUrl, want] of cases) {
    const change: MemberChange = { kind, type: TYPES[kind], nodeId, peerUrl };
    assert.equal(m.refusal(change, conf), want, `${kind} ${nodeId}`);
  }
  // A kind that does not match its core type is malformed.
  assert.equal(m.refusal({ kind: 'promote', type: ConfChangeType.AddLearnerNode, nodeId: 3, peerUrl: '' }, conf), 'ERR_BAD_REQUEST');
});

test('members come with their role in the core configuration', () => {
  assert.deepEqual(membership().withRoles(conf).map((x) => [x.id, x.role]), [[1, 'voter'], [2, 'voter'], [3, 'learner']]);
});

test('a context carries the kind; older contexts and plain URLs take the kind their type implies', () => {
  const requestId = new Uint8Array(12).fill(7);
  const promote = decodeConfChangeContext(encodeConfChangeContext(requestId, 'promote', ''), ConfChangeType.AddNode);
  assert.equal(promote.kind, 'promote');
  assert.deepEqual([...promote.requestId!], [...requestId]);
  const learner = decodeConfChangeContext(encodeConfChangeContext(requestId, 'addLearner', 'http://a:4'), ConfChangeType.AddLearnerNode);
  assert.deepEqual([learner.kind, learner.peerUrl], ['addLearner', 'http://a:4']);
  // Version 1 (written before kinds existed): [1, request id, url].
  const v1 = Uint8Array.from([1, ...requestId, ...Buffer.from('http://a:5')]);
  const old = decodeConfChangeContext(v1, ConfChangeType.AddNode);
  assert.deepEqual([old.kind, old.peerUrl, [...old.requestId!]], ['addVoter', 'http://a:5', [...requestId]]);
  const plain = decodeConfChangeContext(Buffer.from('http://a:6'), ConfChangeType.AddLearnerNode);
  assert.deepEqual([plain.kind, plain.peerUrl, plain.requestId], ['addLearner', 'http://a:6', null]);
});

test('a learner is ready for promotion once it replicates, was heard from lately and is close to the commit index', () => {
  const ready = { progress: { match: 500, state: 'replicate' }, leaderCommit: 500, msSinceHeard: 10, electionTimeoutMs: 1000 };
  assert.equal(learnerNotReadyReason(ready), null);
  assert.equal(learnerNotReadyReason({ ...ready, progress: { match: 500 - LEARNER_PROMOTE_LAG_ENTRIES_MAX, state: 'replicate' } }), null);
  assert.match(String(learnerNotReadyReason({ ...ready, progress: { match: 499 - LEARNER_PROMOTE_LAG_ENTRIES_MAX, state: 'replicate' } })), /entries behind/);
  assert.match(String(learnerNotReadyReason({ ...ready, progress: { match: 0, state: 'probe' } })), /state probe/);
  assert.match(String(learnerNotReadyReason({ ...ready, progress: { match: 500, state: 'snapshot' } })), /state snapshot/);
  assert.match(String(learnerNotReadyReason({ ...ready, msSinceHeard: null })), /not heard/);
  assert.match(String(learnerNotReadyReason({ ...ready, msSinceHeard: 1001 })), /not heard/);
  assert.match(String(learnerNotReadyReason({ ...ready, progress: null })), /no progress/);
});
