// The Ready contract: what each batch carries, and when it must be synced.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, RawNode } from '../../src/raft/index.ts';
import { MT, Network, ST, enc, seededRandom } from './network.ts';

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

test('Ready: a committed entry may be handed out in the same Ready that persists it', () => {
  const { rn, storage } = singleNode();
  persistAndAdvance(rn, storage);
  rn.campaign();
  const rd = persistAndAdvance(rn, storage);
  assert.deepEqual(rd.softState, { lead: 1, raftState: ST.Leader });
  rn.propose(enc('x'));
  const rd2 = persistAndAdvance(rn, storage);
  assert.deepEqual(rd2.entries.map((e) => e.index), [3]);
  assert.deepEqual(rd2.committedEntries.map((e) => e.index), [3]);
  assert.equal(rd2.softState, null, 'unchanged soft state is not repeated');
  assert.equal(rn.hasReady(), false);
});

test('Ready: committed entries per Ready are bounded by size', () => {
  const { rn, storage } = singleNode(100);
  persistAndAdvance(rn, storage);
  rn.campaign();
  persistAndAdvance(rn, storage);
  for (let i = 0; i < 10; i++) rn.propose(enc('y'.repeat(40)));
  const sizes: number[] = [];
  while (rn.hasReady()) sizes.push(persistAndAdvance(rn, storage).committedEntries.length);
  assert.deepEqual(sizes, [2, 2, 2, 2, 2]);
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
