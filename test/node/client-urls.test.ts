// Client URLs in the member table: the record's encoding (never a PUT, never a crash on bad
// bytes), how applying it changes the table (ignored for a non-member, replaced on change),
// and the snapshot data that carries the table (version 2; version 1 read as no client URLs).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chan } from '../../src/chan.ts';
import { KvStore } from '../../src/kvstore.ts';
import { clientUrlBytesMax } from '../../src/limits.ts';
import { decodeClientUrlRecord, encodeClientUrlRecord, isClientUrlRecord } from '../../src/node/client-url-record.ts';
import { Membership } from '../../src/node/membership.ts';
import { decodeSnapshotData, encodeSnapshotData } from '../../src/node/snapshot-data.ts';
import type { Commit, Proposal } from '../../src/queues.ts';
import { BinaryWriter } from '../../src/raftpb/index.ts';

const conf = { voters: [1, 2], learners: [3] };

function members(): Membership {
  const m = new Membership();
  for (const id of [1, 2, 3]) m.add(id, `http://127.0.0.1:${id}2379`);
  return m;
}

test('a client URL record round-trips, and bytes that are not one decode to null, never throw', () => {
  const record = { memberId: 2, clientUrl: 'http://127.0.0.1:22380' };
  const data = encodeClientUrlRecord(record);
  assert.equal(isClientUrlRecord(data), true);
  assert.deepEqual(decodeClientUrlRecord(data), record);
  const longest = { memberId: 2 ** 40, clientUrl: `http://${'h'.repeat(clientUrlBytesMax - 'http://'.length)}` };
  assert.deepEqual(decodeClientUrlRecord(encodeClientUrlRecord(longest)), longest);

  const url = Buffer.from(record.clientUrl);
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['a PUT', new Uint8Array([1, 0, 0, 0, 0])],
    ['the kind alone', data.subarray(0, 1)],
    ['truncated', data.subarray(0, data.length - 1)],
    ['trailing bytes', Buffer.concat([data, Buffer.from([0])])],
    ['another version', Buffer.concat([Buffer.from([2, 9]), data.subarray(2)])],
    ['member id 0', new BinaryWriter().u8(2).u8(1).varint(0).bytes(url).copy()],
    ['an empty URL', new BinaryWriter().u8(2).u8(1).varint(2).bytes(new Uint8Array(0)).copy()],
    ['a URL over the bound', new BinaryWriter().u8(2).u8(1).varint(2).bytes(Buffer.alloc(clientUrlBytesMax + 1, 0x61)).copy()],
    ['not UTF-8', new BinaryWriter().u8(2).u8(1).varint(2).bytes(Buffer.from([0xff, 0xfe])).copy()],
  ];
  for (const [what, bytes] of bad) assert.equal(decodeClientUrlRecord(bytes), null, what);
  assert.throws(() => encodeClientUrlRecord({ memberId: 1, clientUrl: 'h'.repeat(clientUrlBytesMax + 1) }), RangeError);
  assert.throws(() => encodeClientUrlRecord({ memberId: 1, clientUrl: '' }), RangeError);
});

test('the kvstore does not take a client URL record for a PUT', async () => {
  const commitC = new Chan<Commit>(4);
  const kv = new KvStore({ nodeId: 1, proposeC: new Chan<Proposal>(4), commitC, readIndex: async () => 0, requestTimeoutMs: 1000 });
  const running = kv.run();
  await commitC.send({ snapshot: null, entries: [encodeClientUrlRecord({ memberId: 1, clientUrl: 'http://a:1' })], index: 1, done: null });
  await new Promise<void>((done) => void commitC.send({ snapshot: null, entries: [], index: 1, done }));
  assert.equal(kv.size, 0);
  kv.stop();
  commitC.close();
  await running;
});

test('applying a record sets a member clientURL, replaces it when it changes, and says when nothing changed', () => {
  const m = members();
  assert.deepEqual(m.list()[0], { id: 1, peerURL: 'http://127.0.0.1:12379' }, 'no clientURL field before one is published');
  assert.equal(m.applyClientUrl({ memberId: 1, clientUrl: 'http://a:12380' }, conf), 'set');
  assert.equal(m.applyClientUrl({ memberId: 1, clientUrl: 'http://a:12380' }, conf), 'unchanged');
  assert.equal(m.applyClientUrl({ memberId: 3, clientUrl: 'http://a:32380' }, conf), 'set', 'a learner publishes too');
  assert.equal(m.applyClientUrl({ memberId: 1, clientUrl: 'http://b:12381' }, conf), 'set');
  assert.deepEqual(m.withRoles(conf), [
    { id: 1, peerURL: 'http://127.0.0.1:12379', clientURL: 'http://b:12381', role: 'voter' },
    { id: 2, peerURL: 'http://127.0.0.1:22379', role: 'voter' },
    { id: 3, peerURL: 'http://127.0.0.1:32379', clientURL: 'http://a:32380', role: 'learner' },
  ]);
});

test('a record for an id that is not a member (removed, or never added) is ignored; a removal drops the clientURL', () => {
  const m = members();
  assert.equal(m.applyClientUrl({ memberId: 2, clientUrl: 'http://a:22380' }, conf), 'set');
  m.remove(2);
  const after = { voters: [1], learners: [3] };
  assert.equal(m.clientUrls.has(2), false);
  // A record proposed before the removal and committed after it.
  assert.equal(m.applyClientUrl({ memberId: 2, clientUrl: 'http://a:22381' }, after), 'notMember');
  assert.equal(m.applyClientUrl({ memberId: 7, clientUrl: 'http://a:72380' }, after), 'notMember');
  assert.deepEqual([...m.clientUrls], []);
  assert.equal(m.list().some((x) => x.id === 2 || x.id === 7), false);
});

test('snapshot data carries client URLs (version 2); version 1 data reads back as a table without them', () => {
  const m = members();
  m.applyClientUrl({ memberId: 1, clientUrl: 'http://a:12380' }, conf);
  m.applyClientUrl({ memberId: 3, clientUrl: 'https://c.example:32380' }, conf);
  m.remove(2);
  const data = encodeSnapshotData(m, new Uint8Array([7, 7]));
  assert.equal(data[0], 2, 'version 2');
  const back = decodeSnapshotData(data);
  assert.deepEqual(back.membership.list(), m.list());
  assert.deepEqual([...back.membership.removed], [2]);
  assert.deepEqual([...back.kv], [7, 7]);

  // Version 1, as the previous release wrote it: peer URLs, removed ids, kv state.
  const w = new BinaryWriter().u8(1).varint(1).varint(1).bytes(Buffer.from('http://127.0.0.1:12379')).varint(1).varint(2);
  w.bytes(new Uint8Array([5]));
  const v1 = decodeSnapshotData(w.view());
  assert.deepEqual(v1.membership.list(), [{ id: 1, peerURL: 'http://127.0.0.1:12379' }]);
  assert.deepEqual([...v1.membership.removed], [2]);
  assert.equal(v1.membership.clientUrls.size, 0);
  assert.deepEqual([...v1.kv], [5]);
  assert.throws(() => decodeSnapshotData(new Uint8Array([3])), /unsupported snapshot data version 3/);
});

test('replaceWith takes every table of a snapshot, client URLs included', () => {
  const m = members();
  m.applyClientUrl({ memberId: 1, clientUrl: 'http://old:1' }, conf);
  const snap = new Membership();
  snap.add(4, 'http://127.0.0.1:42379');
  snap.applyClientUrl({ memberId: 4, clientUrl: 'http://new:4' }, { voters: [4], learners: [] });
  snap.remove(1);
  m.replaceWith(snap);
  assert.deepEqual(m.list(), [{ id: 4, peerURL: 'http://127.0.0.1:42379', clientURL: 'http://new:4' }]);
  assert.deepEqual([...m.removed], [1]);
});
