// PreVote and CheckQuorum: a node cut off and rejoining does not disturb a healthy leader, and a
// leader that lost its quorum steps down.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MT, Network, ST } from './network.ts';

test('PreVote keeps a healthy leader: a rejoining isolated node neither bumps the term nor deposes', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  const term = net.term(1);
  net.isolate(3);
  net.tick(60); // 3 pre-campaigns again and again, alone
  assert.equal(net.term(3), term, 'pre-votes do not change the term');
  assert.equal(net.state(3), ST.PreCandidate);
  net.heal();
  net.tick(5);
  assert.equal(net.leader(), 1);
  assert.equal(net.term(1), term);
  assert.equal(net.state(3), ST.Follower);
  assert.equal(net.rn(3).status().softState.lead, 1);
});

test('without PreVote the same rejoining node deposes the leader (the behaviour PreVote prevents)', () => {
  const net = Network.bootstrap([1, 2, 3], { config: () => ({ preVote: false, checkQuorum: false }) });
  net.elect(1);
  const term = net.term(1);
  net.isolate(3);
  net.tick(60);
  assert.ok(net.term(3) > term + 1);
  net.heal();
  net.tick(25);
  assert.ok(net.term(1) > term, 'the leader was forced out of its term');
});

test('CheckQuorum: a leader that hears from no quorum within an election timeout steps down', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.isolate(1);
  net.tick(9, [1]);
  assert.equal(net.state(1), ST.Leader);
  net.tick(11, [1]);
  assert.equal(net.state(1), ST.Follower);
  assert.equal(net.rn(1).status().softState.lead, 0);
});

test('CheckQuorum lease: a follower that heard from its leader ignores a higher-term vote, unless it is a transfer', () => {
  const net = Network.bootstrap([1, 2, 3], { config: () => ({ preVote: false }) });
  net.elect(1);
  const term = net.term(2);
  const vote = {
    type: MT.MsgVote, to: 2, from: 3, term: term + 1, logTerm: term, index: 100,
    entries: [], commit: 0, snapshot: null, reject: false, rejectHint: 0, context: new Uint8Array(),
  };
  net.rn(2).step(vote);
  assert.equal(net.term(2), term);
  assert.deepEqual(net.flush(2).filter((m) => m.type === MT.MsgVoteResp), []);
  net.rn(2).step({ ...vote, context: new TextEncoder().encode('CampaignTransfer') });
  assert.equal(net.term(2), term + 1);
  const resp = net.flush(2).filter((m) => m.type === MT.MsgVoteResp);
  assert.deepEqual(resp.map((m) => m.reject), [false]);
});
