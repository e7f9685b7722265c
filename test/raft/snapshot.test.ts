// Snapshots: a follower that needs compacted entries gets the leader's snapshot and restores it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MT, Network, ST } from './network.ts';

function compactedCluster(): Network {
  const net = Network.bootstrap([1, 2, 3]);
  net.elect(1);
  net.propose(1, 'a');
  net.isolate(3);
  for (const v of ['b', 'c', 'd']) net.propose(1, v);
  net.compact(1); // the leader no longer has the entries 3 lacks
  return net;
}

test('snapshot send and restore: a compacted-away follower catches up from the leader\'s snapshot', () => {
  const net = compactedCluster();
  net.heal();
  net.tick(2, [1]);
  const snaps = net.sent.filter((m) => m.type === MT.MsgSnap);
  assert.equal(snaps.length, 1);
  assert.equal(snaps[0]!.to, 3);
  assert.deepEqual(net.node(3).applied, ['a', 'b', 'c', 'd']);
  assert.equal(net.node(3).storage.snapshot().metadata.index, net.node(1).storage.snapshot().metadata.index);
  assert.equal(net.rn(1).status().progress!.get(3)!.state, 'replicate');
  net.propose(1, 'e');
  assert.deepEqual(net.node(3).applied.at(-1), 'e');
  assert.deepEqual(net.log(3).map((e) => e.index), net.log(1).map((e) => e.index));
});

test('reportSnapshot failure puts the follower back to probe, and the snapshot is retried', () => {
  const net = compactedCluster();
  net.heal();
  net.dropIf = (m) => m.type === MT.MsgSnap; // the transport fails: reportSnapshot(3, false)
  net.tick(1, [1]);
  assert.equal(net.sent.filter((m) => m.type === MT.MsgSnap).length, 1);
  assert.equal(net.rn(1).status().progress!.get(3)!.state, 'probe');
  net.dropIf = () => false;
  net.tick(3, [1]);
  assert.equal(net.sent.filter((m) => m.type === MT.MsgSnap).length, 2);
  assert.deepEqual(net.node(3).applied, ['a', 'b', 'c', 'd']);
  assert.equal(net.rn(1).status().progress!.get(3)!.state, 'replicate');
});

test('a restarted node recovers from its snapshot and the log after it', () => {
  const net = compactedCluster();
  net.heal();
  net.tick(2, [1]);
  net.propose(1, 'e');
  net.crash(3);
  const n3 = net.restart(3);
  assert.equal(n3.rn.status().applied, net.node(1).storage.snapshot().metadata.index);
  net.deliverAll();
  assert.deepEqual(n3.applied, ['a', 'b', 'c', 'd', 'e']); // loaded from the snapshot, then the tail replayed
  net.crash(1);
  net.tick(40, [2, 3]);
  assert.ok([2, 3].includes(net.leader()));
  assert.equal(net.state(net.leader()), ST.Leader);
});
