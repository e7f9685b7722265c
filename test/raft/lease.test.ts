// The core's part of the leader lease for reads (src/node/read-lease.ts): a member that just
// started refuses votes for an election timeout (leaseAtStart), as one that heard a leader
// does; and a leader offers its commit index for a lease read only in a term in which it has
// committed an entry and started no leadership transfer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StateType } from '../../src/raft/index.ts';
import { Network } from './network.ts';

const ELECTION = 10;

/** Three voters, 1 leading with its no-op committed (started without leaseAtStart, so the first election needs no wait). */
function cluster(): Network {
  const net = Network.bootstrap([1, 2, 3], { electionTicks: ELECTION, config: () => ({ checkQuorum: true, preVote: true }) });
  net.tick(3 * ELECTION, [1]); // members 2 and 3 never tick: only 1 can time out and campaign
  assert.equal(net.leader(), 1);
  return net;
}

test('a restarted member refuses to help elect a leader for an election timeout after it starts (leaseAtStart)', () => {
  const net = cluster();
  // 2 acknowledged 1's heartbeats, then crashed and came back at once; 1 is cut off and 3 campaigns.
  net.crash(2);
  net.restart(2, { leaseAtStart: true });
  net.isolate(1);
  const term = net.term(3);
  net.tick(2 * ELECTION, [3]);
  assert.equal(net.term(2), term, 'the restarted member took no part in an election');
  assert.notEqual(net.state(3), StateType.Leader);
  // Once its own ticks make an election timeout, it votes as any member would.
  net.tick(ELECTION, [2]);
  net.tick(2 * ELECTION, [3]);
  assert.equal(net.leader(), 3);
});

test('without leaseAtStart a restarted member votes at once (what the node never runs)', () => {
  const net = cluster();
  net.crash(2);
  net.restart(2, { leaseAtStart: false });
  net.isolate(1);
  net.tick(2 * ELECTION, [3]);
  assert.equal(net.leader(), 3);
});

test('a leader offers a lease read index only in its own term, with an entry of it committed, and never after starting a transfer', () => {
  const net = cluster();
  const leader = net.rn(1);
  const term = net.term(1);
  assert.equal(leader.leaseReadIndex(term), leader.status().commit);
  assert.equal(leader.leaseReadIndex(term - 1), -1, 'another term');
  assert.equal(net.rn(2).leaseReadIndex(term), -1, 'a follower');
  net.propose(1, 'x');
  net.deliverAll();
  assert.equal(leader.leaseReadIndex(term), leader.status().commit, 'moves with the commit index');

  // A transfer (2 is up to date, so TimeoutNow goes out at once): the lease is void for the term,
  // even once the transfer is given up.
  net.dropIf = () => true;
  leader.transferLeader(2);
  assert.equal(leader.status().leadTransferee, 2);
  assert.equal(leader.leaseReadIndex(term), -1);
  net.tick(ELECTION, [1]);
  assert.equal(leader.status().leadTransferee, 0, 'the transfer timed out');
  assert.equal(net.state(1), StateType.Leader);
  assert.equal(leader.leaseReadIndex(term), -1, 'still void in the term of the transfer');
});
