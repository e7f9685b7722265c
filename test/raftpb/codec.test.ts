// Codec: round trips of every message type and every record, and hostile input
// (truncation at every offset, lying lengths) rejected with CodecError only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BinaryReader,
  BinaryWriter,
  CodecError,
  decodeConfChange,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessages,
  decodeSnapshotMetadata,
  encodeConfChange,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMessages,
  encodeSnapshotMetadata,
  entryEncodedBytes,
  varintBytes,
} from '../../src/raftpb/index.ts';
import { ConfChangeType, EntryType, MessageType, type Entry, type Message } from '../../src/raftpb/types.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const BIG = Number.MAX_SAFE_INTEGER;

function entry(index: number, term: number, data = `v${index}`): Entry {
  return { index, term, type: EntryType.Normal, data: bytes(data) };
}

function msg(type: Message['type'], over: Partial<Message> = {}): Message {
  return {
    type,
    to: 2,
    from: 1,
    term: 7,
    logTerm: 6,
    index: 100,
    entries: [],
    commit: 99,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
    ...over,
  };
}

function allMessages(): Message[] {
  const out: Message[] = [];
  for (const type of Object.values(MessageType)) out.push(msg(type));
  out.push(
    msg(MessageType.MsgApp, {
      entries: [entry(101, 7), { index: 102, term: 7, type: EntryType.ConfChange, data: bytes('cc') }, entry(103, 7, '')],
    }),
    msg(MessageType.MsgAppResp, { reject: true, rejectHint: 55 }),
    msg(MessageType.MsgReadIndex, { context: bytes('read-42') }),
    msg(MessageType.MsgSnap, {
      snapshot: {
        metadata: { index: 500, term: 6, confState: { voters: [1, 2, 3], learners: [4] } },
        data: new Uint8Array(1000).map((_, i) => i & 0xff),
      },
    }),
    msg(MessageType.MsgHeartbeat, { term: BIG, commit: BIG, to: BIG, from: 2 ** 32 + 5, index: 2 ** 31 }),
  );
  return out;
}

/** Compare with byte fields as plain arrays (views vs copies must not matter). */
function norm(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Array.from(x) : x)));
}

test('every message type round-trips in one batch', () => {
  const msgs = allMessages();
  const buf = encodeMessages(msgs);
  assert.deepEqual(norm(decodeMessages(buf)), norm(msgs));
  assert.deepEqual(decodeMessages(encodeMessages([])), []);
});

test('decoded entry data is a view of the input, not a copy', () => {
  const buf = encodeMessages([msg(MessageType.MsgApp, { entries: [entry(1, 1, 'hello')] })]);
  const [m] = decodeMessages(buf);
  const data = m!.entries[0]!.data;
  assert.equal(data.buffer, buf.buffer);
});

test('entries, hardstate, confstate, snapshot metadata, confchange round-trip', () => {
  const e = { index: BIG, term: 2 ** 40, type: EntryType.ConfChange, data: bytes('x') } as Entry;
  assert.deepEqual(norm(decodeEntry(encodeEntry(e))), norm(e));
  const hs = { term: 9, vote: 3, commit: 2 ** 33 };
  assert.deepEqual(decodeHardState(encodeHardState(hs)), hs);
  const cs = { voters: [1, 2, 2 ** 50], learners: [] };
  assert.deepEqual(decodeConfState(encodeConfState(cs)), cs);
  const md = { index: 10, term: 2, confState: cs };
  assert.deepEqual(decodeSnapshotMetadata(encodeSnapshotMetadata(md)), md);
  for (const type of Object.values(ConfChangeType)) {
    const cc = { type, nodeId: 4, context: bytes('http://127.0.0.1:42379') };
    assert.deepEqual(norm(decodeConfChange(encodeConfChange(cc))), norm(cc));
  }
});

test('varint and u64 edges round-trip; unsafe integers are refused on write', () => {
  const w = new BinaryWriter(1);
  const values = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 49, BIG];
  for (const v of values) w.varint(v).u64(v);
  const r = new BinaryReader(w.view());
  for (const v of values) {
    assert.equal(r.varint(), v);
    assert.equal(r.u64(), v);
  }
  r.expectEnd();
  assert.throws(() => w.varint(BIG + 1), RangeError);
  assert.throws(() => w.varint(-1), RangeError);
  assert.throws(() => w.u64(1.5), RangeError);
});

test('a batch truncated at every byte offset throws CodecError', () => {
  const buf = encodeMessages(allMessages());
  for (let cut = 0; cut < buf.length; cut++) {
    assert.throws(() => decodeMessages(buf.subarray(0, cut)), CodecError, `cut at ${cut}`);
  }
});

test('other records truncated at every byte offset throw CodecError', () => {
  const cases: [Uint8Array, (b: Uint8Array) => unknown][] = [
    [encodeEntry(entry(300, 4, 'payload')), decodeEntry],
    [encodeHardState({ term: 300, vote: 2, commit: 70000 }), decodeHardState],
    [encodeConfState({ voters: [1, 300], learners: [5] }), decodeConfState],
    [encodeSnapshotMetadata({ index: 300, term: 3, confState: { voters: [1], learners: [] } }), decodeSnapshotMetadata],
    [encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 300, context: bytes('url') }), decodeConfChange],
  ];
  for (const [buf, decode] of cases) {
    for (let cut = 0; cut < buf.length; cut++) assert.throws(() => decode(buf.subarray(0, cut)), CodecError);
  }
});

test('trailing bytes and unknown types are rejected', () => {
  const buf = encodeMessages([msg(MessageType.MsgHeartbeat)]);
  const longer = new Uint8Array(buf.length + 1);
  longer.set(buf);
  assert.throws(() => decodeMessages(longer), /trailing/);
  const badType = buf.slice();
  badType[2] = 200; // version, count, then the first message's type
  assert.throws(() => decodeMessages(badType), /unknown message type 200/);
  const badVersion = buf.slice();
  badVersion[0] = 9;
  assert.throws(() => decodeMessages(badVersion), /version 9/);
  const e = encodeEntry(entry(1, 1));
  e[2] = 7; // term, index, type
  assert.throws(() => decodeEntry(e), /unknown entry type 7/);
});

test('lying lengths and counts are rejected before allocating', () => {
  // A message whose context claims 2^53-1 bytes.
  const w = new BinaryWriter();
  w.u8(1).varint(1).u8(MessageType.MsgApp);
  for (let i = 0; i < 7; i++) w.varint(1);
  w.u8(0).varint(BIG);
  assert.throws(() => decodeMessages(w.copy()), (e: unknown) => e instanceof CodecError && /context length/.test(e.message));
  // A batch claiming 0xFFFFFFFF messages, and one claiming many entries in a short buffer.
  const w2 = new BinaryWriter().u8(1).varint(0xffffffff);
  assert.throws(() => decodeMessages(w2.copy()), /messages count 4294967295 exceeds limit/);
  assert.throws(() => decodeMessages(w2.copy(), { maxMessages: 2 ** 40 }), /cannot fit/);
  const w3 = new BinaryWriter().u8(1).varint(1).u8(MessageType.MsgApp);
  for (let i = 0; i < 7; i++) w3.varint(0);
  w3.u8(0).varint(0).varint(60000);
  assert.throws(() => decodeMessages(w3.copy()), /entries count 60000 cannot fit/);
  // Entry data over the configured limit.
  const big = encodeMessages([msg(MessageType.MsgApp, { entries: [entry(1, 1, 'x'.repeat(100))] })]);
  assert.throws(() => decodeMessages(big, { maxEntryBytes: 99 }), /entry data length 100 exceeds limit 99/);
  // An over-long varint.
  const w4 = new BinaryWriter().raw(new Uint8Array(9).fill(0xff));
  assert.throws(() => new BinaryReader(w4.view()).varint(), /longer than 8 bytes/);
  assert.throws(() => new BinaryReader(new Uint8Array(8).fill(0xff)).u64(), /exceeds 2\^53/);
});

test('random corruption never escapes as anything but CodecError', () => {
  const base = encodeMessages(allMessages());
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 2000; i++) {
    const buf = base.slice();
    const flips = 1 + Math.floor(rand() * 4);
    for (let j = 0; j < flips; j++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
    try {
      decodeMessages(buf);
    } catch (e) {
      assert.ok(e instanceof CodecError, `unexpected ${String(e)}`);
    }
  }
});

test('the writer is reusable and drops a huge buffer on reset', () => {
  const w = new BinaryWriter(16);
  w.raw(new Uint8Array(5 * 1024 * 1024));
  w.reset().u32(0).u8(1);
  w.patchU32(0, 0xdeadbeef);
  assert.deepEqual(Array.from(w.view()), [0xef, 0xbe, 0xad, 0xde, 1]);
  assert.throws(() => w.patchU32(2, 0), RangeError);
});

test('varintBytes and entryEncodedBytes match what the writer writes; utf8 writes raw UTF-8', () => {
  const values = [0, 1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28, 2 ** 32 + 5, 2 ** 49, Number.MAX_SAFE_INTEGER];
  for (const v of values) assert.equal(varintBytes(v), new BinaryWriter(16).varint(v).length, `varint ${v}`);
  for (const data of [bytes(''), bytes('x'.repeat(200)), new Uint8Array(70000)]) {
    const e: Entry = { term: 2 ** 33, index: 300, type: EntryType.Normal, data };
    assert.equal(entryEncodedBytes(e), encodeEntry(e).length);
  }
  const s = 'key/ünï-日本-🙂';
  assert.deepEqual(new BinaryWriter(1).utf8(s).copy(), bytes(s));
});
