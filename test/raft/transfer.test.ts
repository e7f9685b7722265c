// Leader transfer: catch the target up, send it TimeoutNow, give up after an election timeout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MT, Network, ST, enc } from './network.ts';

test('leader transfer succeeds: the target catches up, campaigns at once and wins', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.isolate(2);
  net.propose(1, 'a'); // 2 falls behind
  net.heal();
  const term = net.term(1);
  net.rn(1).transferLeader(2);
  net.deliverAll();
  assert.equal(net.leader(), 2);
  assert.equal(net.term(2), term + 1);
  assert.equal(net.state(1), ST.Follower);
  const timeoutNow = net.sent.filter((m) => m.type === MT.MsgTimeoutNow);
  assert.deepEqual(timeoutNow.map((m) => [m.from, m.to]), [[1, 2]]);
  net.propose(2, 'b');
  assert.deepEqual(net.node(1).applied, ['a', 'b']);
});

test('leader transfer asked of a follower is forwarded to the leader', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.rn(3).transferLeader(2);
  net.deliverAll();
  assert.equal(net.leader(), 2);
});

test('leader transfer aborts after an election timeout, and proposals flow again', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.isolate(2);
  net.rn(1).transferLeader(2);
  net.deliverAll();
  assert.equal(net.rn(1).status().leadTransferee, 2);
  net.tick(9, [1, 3]);
  assert.equal(net.rn(1).status().leadTransferee, 2);
  net.tick(1, [1, 3]);
  assert.equal(net.rn(1).status().leadTransferee, 0);
  assert.equal(net.leader(), 1);
  net.rn(1).propose(enc('after abort'));
  net.deliverAll();
  assert.deepEqual(net.node(3).applied, ['after abort']);
});
