import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesceMessages } from '../../src/transport/coalesce.ts';
import { MessageType, type Entry, type Message } from '../../src/raft/index.ts';

const ent = (index: number, term = 2): Entry => ({ index, term, type: 0, data: new Uint8Array([index]) });
function msg(type: MessageType, to: number, over: Partial<Message> = {}): Message {
  return {
    type, to, from: 1, term: 2, logTerm: 2, index: 0, entries: [], commit: 0, snapshot: null,
    reject: false, rejectHint: 0, context: new Uint8Array(0), ...over,
  };
}

test('contiguous appends to one peer become one; others keep their order', () => {
  const msgs = [
    msg(MessageType.MsgApp, 2, { index: 10, entries: [ent(11)], commit: 9 }),
    msg(MessageType.MsgApp, 3, { index: 10, entries: [ent(11)], commit: 9 }),
    msg(MessageType.MsgApp, 2, { index: 11, entries: [ent(12)], commit: 10 }),
    msg(MessageType.MsgApp, 2, { index: 12, entries: [ent(13), ent(14)], commit: 10 }),
    msg(MessageType.MsgHeartbeat, 3),
    msg(MessageType.MsgApp, 3, { index: 11, entries: [ent(12)], commit: 10 }),
  ];
  const before = JSON.stringify(msgs);
  const out = coalesceMessages(msgs);
  assert.equal(JSON.stringify(msgs), before, 'input untouched');
  assert.equal(out.length, 4);
  assert.deepEqual(out[0]!.entries.map((e) => e.index), [11, 12, 13, 14]);
  assert.equal(out[0]!.commit, 10);
  assert.equal(out[0]!.index, 10);
  assert.deepEqual(out.slice(1).map((m) => [m.to, m.type]), [[3, MessageType.MsgApp], [3, MessageType.MsgHeartbeat], [3, MessageType.MsgApp]]);
});

test('appends that do not continue each other, or from another term, stay apart', () => {
  const gap = coalesceMessages([
    msg(MessageType.MsgApp, 2, { index: 10, entries: [ent(11)] }),
    msg(MessageType.MsgApp, 2, { index: 12, entries: [ent(13)] }),
  ]);
  assert.equal(gap.length, 2);
  const term = coalesceMessages([
    msg(MessageType.MsgApp, 2, { index: 10, entries: [ent(11)] }),
    msg(MessageType.MsgApp, 2, { index: 11, logTerm: 2, term: 3, entries: [ent(12, 3)] }),
  ]);
  assert.equal(term.length, 2);
});

test('accepting append responses collapse to the highest; rejections are kept', () => {
  const out = coalesceMessages([
    msg(MessageType.MsgAppResp, 1, { from: 2, index: 11 }),
    msg(MessageType.MsgAppResp, 1, { from: 2, index: 13 }),
    msg(MessageType.MsgAppResp, 1, { from: 2, index: 12, reject: true, rejectHint: 9 }),
    msg(MessageType.MsgAppResp, 1, { from: 2, index: 14 }),
  ]);
  assert.deepEqual(out.map((m) => [m.index, m.reject]), [[13, false], [12, true], [14, false]]);
});
