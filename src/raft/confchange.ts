// The entry data of a ConfChange entry. The core writes it (proposeConfChange, bootstrap) and
// reads it back (to vet a forwarded proposal); the application decodes it to call applyConfChange.
// Layout, byte-compatible with src/codec: u8 type, LEB128 nodeId, LEB128 length + context bytes.

import { type ConfChange, ConfChangeType } from './types.ts';

const MAX_CONTEXT_BYTES = 64 * 1024;

function writeVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0) {
    throw new Error(`conf change: node id must be a positive integer, got ${cc.nodeId}`);
  }
  const head: number[] = [cc.type];
  writeVarint(head, cc.nodeId);
  writeVarint(head, cc.context.byteLength);
  const out = new Uint8Array(head.length + cc.context.byteLength);
  out.set(head, 0);
  out.set(cc.context, head.length);
  return out;
}

/** Throws an Error on anything malformed. The context is a view of `buf`. */
export function decodeConfChange(buf: Uint8Array): ConfChange {
  let pos = 0;
  const fail = (why: string): never => {
    throw new Error(`conf change: ${why} at byte ${pos}`);
  };
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (pos >= buf.length) fail('truncated varint');
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return Number.isSafeInteger(result) ? result : fail('varint exceeds 2^53');
      mul *= 128;
    }
    return fail('varint too long');
  };
  if (buf.length < 1) fail('empty');
  const type = buf[pos++]!;
  if (type > ConfChangeType.AddLearnerNode) fail(`unknown type ${type}`);
  const nodeId = varint();
  const len = varint();
  if (len > MAX_CONTEXT_BYTES || pos + len !== buf.length) fail(`bad context length ${len}`);
  return { type: type as ConfChangeType, nodeId, context: buf.subarray(pos, pos + len) };
}
