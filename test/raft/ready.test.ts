// The Ready contract: what each batch carries, and when it must be synced.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, RawNode, canSendBeforePersist } from '../../src/raft/index.ts';
import { CC, MT, Network, ST, enc, seededRandom } from './network.ts';

function singleNode(maxSizePerMsg?: number): { rn: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  const rn = new RawNode({ id: 1, electionTicks: 10, heartbeatTicks: 1, storage, random: seededRandom(1), maxSizePerMsg });
  rn.bootstrap([{ id: 1, context: enc('') }]);
  return { rn, storage };
}

function persistAndAdvance(rn: RawNode, storage: MemoryStorage) {
  const rd = rn.ready();
  if (rd.snapshot) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  rn.advance(rd);
  return rd;
}

test('Ready after bootstrap: hard state, the bootstrap entries to persist and to apply, synced', () => {
  const { rn } = singleNode();
  const rd = rn.ready();
  assert.deepEqual(rd.hardState, { term: 1, vote: 0, commit: 1 });
  assert.equal(rd.entries.length, 1);
  assert.deepEqual(rd.committedEntries, rd.entries);
  assert.equal(rd.mustSync, true);
  assert.throws(() => rn.ready(), /before advance/);
});

test('Ready: a single voter commits its own entry only once advance reports it persisted', () => {
  const { rn, storage } = singleNode();
  persistAndAdvance(rn, storage);
  rn.campaign();
  const elected = rn.ready();
  assert.deepEqual(elected.softState, { lead: 1, raftState: ST.Leader });
  assert.equal(elected.hardState?.commit, 1, 'the no-op is appended, not yet committed');
  storage.append(elected.entries);
  storage.setHardState(elected.hardState!);
  rn.advance(elected);
  assert.equal(rn.status().commit, 2, 'the no-op commits once it is on disk');
  persistAndAdvance(rn, storage);
  rn.propose(enc('x'));
  const rd = rn.ready();
  assert.deepEqual(rd.entries.map((e) => e.index), [3]);
  assert.deepEqual(rd.committedEntries, [], 'not on disk yet: not committed');
  assert.equal(rd.hardState, null, 'no commit index covers the unpersisted entry');
  storage.append(rd.entries);
  rn.advance(rd);
  const rd2 = persistAndAdvance(rn, storage);
  assert.equal(rd2.hardState?.commit, 3);
  assert.deepEqual(rd2.committedEntries.map((e) => e.index), [3]);
  assert.equal(rd2.softState, null, 'unchanged soft state is not repeated');
  assert.equal(rn.hasReady(), false);
});

/** One voter (1) and one learner (2), bootstrapped; 1 elected unless `elect` is false. */
function voterAndLearner(elect = true): Network {
  const net = new Network();
  const peers = [{ id: 1, context: enc('') }, { id: 2, context: enc(''), learner: true }];
  for (const id of [1, 2]) net.addNode(id).rn.bootstrap(peers);
  net.deliverAll();
  if (elect) net.elect(1);
  return net;
}

test('Ready: a leader with learners sends them no commit index beyond its own disk', () => {
  // The learner must never apply an entry that the only voter may still lose in a crash.
  const net = voterAndLearner();
  assert.equal(net.state(1), ST.Leader);
  net.rn(1).propose(enc('x'));
  const rd = net.rn(1).ready();
  const index = rd.entries[0]!.index;
  const appends = rd.messages.filter((m) => m.type === MT.MsgApp && m.to === 2 && m.entries.length > 0);
  assert.equal(appends.length, 1);
  assert.ok(canSendBeforePersist(rd, appends[0]!), 'the append itself may leave before the fsync');
  assert.ok(appends[0]!.commit < index, `its commit ${appends[0]!.commit} must not cover ${index}`);
  assert.equal(rd.hardState, null);
});

test('Ready: nothing leaves early from a Ready that changes term or vote', () => {
  // A single voter is elected in one step: term, vote, no-op and the append to its learner come
  // in one Ready. Sent before the fsync, and the node crashed, it could lead that term again
  // with a different log.
  const net = voterAndLearner(false);
  net.rn(1).campaign();
  const rd = net.rn(1).ready();
  assert.equal(rd.softState?.raftState, ST.Leader, 'elected at once');
  assert.equal(rd.changesTermOrVote, true);
  assert.ok(rd.messages.some((m) => m.type === MT.MsgApp));
  assert.ok(rd.messages.every((m) => !canSendBeforePersist(rd, m)));
});

test('Ready: committed entries per Ready are bounded by size', () => {
  const { rn, storage } = singleNode(100);
  persistAndAdvance(rn, storage);
  rn.campaign();
  persistAndAdvance(rn, storage);
  for (let i = 0; i < 10; i++) rn.propose(enc('y'.repeat(40)));
  const sizes: number[] = [];
  while (rn.hasReady()) sizes.push(persistAndAdvance(rn, storage).committedEntries.length);
  // First the no-op, committed once the election's Ready was advanced; the proposals commit
  // once the Ready that persists them is advanced.
  assert.deepEqual(sizes, [1, 2, 2, 2, 2, 2]);
});

test('Ready: a change of commit index alone needs no fsync; a new term or vote does', () => {
  const net = Network.bootstrap([1, 2, 3]);
  net.rn(2).campaign();
  const rd = net.rn(2).ready();
  assert.equal(rd.mustSync, false, 'a pre-vote changes nothing durable');
  net.rn(2).advance(rd);
  net.deliver(rd.messages);
  net.deliverAll();
  assert.equal(net.state(2), ST.Leader);
  net.rn(2).propose(enc('z'));
  net.deliver(net.flush(2)); // followers append (synced) and ack
  net.deliver(net.flush(1));
  net.deliver(net.flush(3));
  const commitOnly = net.rn(2).ready(); // the leader learns the commit
  assert.ok(commitOnly.hardState !== null && commitOnly.entries.length === 0);
  assert.equal(commitOnly.mustSync, false);
  assert.ok(commitOnly.messages.every((m) => m.type === MT.MsgApp));
  net.rn(2).advance(commitOnly);
});

test('Ready: a Ready that hands out a ConfChange to apply is synced, even with nothing else to write', () => {
  // Otherwise a node could apply a membership change, lose the commit in a crash and restart
  // in the old configuration (two voters, the other one removed and gone: no quorum ever).
  const net = Network.bootstrap([1, 2]);
  net.elect(1);
  net.rn(1).proposeConfChange({ type: CC.RemoveNode, nodeId: 2, context: enc('') });
  net.deliver(net.flush(1));
  net.deliver(net.flush(2));
  const rd = net.rn(1).ready();
  assert.ok(rd.committedEntries.some((e) => e.type === 1) && rd.entries.length === 0);
  assert.equal(rd.mustSync, true);
  net.rn(1).advance(rd);
});
