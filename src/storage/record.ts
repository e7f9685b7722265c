// WAL record framing. Every record is a 16-byte header and a payload:
//
//   offset 0   u32 crc      CRC-32 (zlib) of bytes [4, 16 + len): the rest of the header and the payload
//   offset 4   u32 len      payload length
//   offset 8   u8  type     RecordType (never 0, so zero-filled space never parses as a record)
//   offset 9   u8[3]        zero
//   offset 12  u32 prevCrc  the crc of the record before it, across segments (the chain)
//   offset 16  payload
//
// A record is self-validating (its crc covers its own length, type and chain link), and
// the chain links it to its predecessor: a lost, reordered or swapped record or segment
// breaks `prevCrc === crc of the record before`.

import { crc32 } from 'node:zlib';
import { BinaryWriter } from '../raftpb/index.ts';
import { walPreallocateBytes, walRecordBytesMax } from '../limits.ts';

export const RecordType = {
  /** Head of every segment: identity, position, and the HardState/snapshot marker carried over. */
  Meta: 1,
  /**
   * One save(): entries and/or a HardState, atomic as a whole. A batch is the unit of write
   * and of fsync, so it is the unit of checksum too (one CRC per batch, not per entry).
   */
  Batch: 2,
  /** A snapshot marker: (index, term) of a snapshot saved to the snapshotter. */
  Snapshot: 3,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];
const MAX_RECORD_TYPE = RecordType.Snapshot;

export const HEADER_BYTES = 16;
/** No record is larger: bounds every allocation made while reading. */
export const MAX_RECORD_PAYLOAD_BYTES = walRecordBytesMax;

/** Start a record in w; write the payload, then call endRecord with the returned start. */
export function beginRecord(w: BinaryWriter, type: RecordType, prevCrc: number): number {
  const start = w.length;
  w.u32(0).u32(0).u8(type).u8(0).u8(0).u8(0).u32(prevCrc);
  return start;
}

/** Finish the record begun at start: fill in its length and crc; returns the crc (the next link). */
export function endRecord(w: BinaryWriter, start: number): number {
  const len = w.length - start - HEADER_BYTES;
  w.patchU32(start + 4, len);
  const crc = crc32(w.view().subarray(start + 4));
  w.patchU32(start, crc);
  return crc;
}

export interface RawRecord {
  type: RecordType;
  offset: number;
  /** A view of the segment buffer. */
  payload: Uint8Array;
  crc: number;
  prevCrc: number;
}

/** Why a record could not be taken at some offset. */
export type RecordFault =
  | { kind: 'short-header'; offset: number }
  | { kind: 'bad-header'; offset: number; detail: string }
  | { kind: 'past-eof'; offset: number; len: number }
  | { kind: 'bad-crc'; offset: number }
  | { kind: 'chain'; offset: number; expected: number; found: number };

const u32At = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** A header whose type and padding are well-formed and whose length is within bounds of the limit. */
function headerShapeOk(buf: Uint8Array, at: number): boolean {
  const type = buf[at + 8]!;
  return type >= 1 && type <= MAX_RECORD_TYPE && buf[at + 9] === 0 && buf[at + 10] === 0 && buf[at + 11] === 0;
}

/**
 * Parse the record at `offset`. `expectedPrev` is the chain value it must link to, or null
 * when unknown (the first record read). Returns the record or what is wrong with it.
 */
export function readRecordAt(buf: Uint8Array, offset: number, expectedPrev: number | null): RawRecord | RecordFault {
  if (buf.length - offset < HEADER_BYTES) return { kind: 'short-header', offset };
  if (!headerShapeOk(buf, offset)) {
    return { kind: 'bad-header', offset, detail: `type ${buf[offset + 8]} / padding not zero` };
  }
  const len = u32At(buf, offset + 4);
  if (len > MAX_RECORD_PAYLOAD_BYTES) {
    return { kind: 'bad-header', offset, detail: `length ${len} exceeds limit ${MAX_RECORD_PAYLOAD_BYTES}` };
  }
  const end = offset + HEADER_BYTES + len;
  if (end > buf.length) return { kind: 'past-eof', offset, len };
  const crc = u32At(buf, offset);
  if (crc32(buf.subarray(offset + 4, end)) !== crc) return { kind: 'bad-crc', offset };
  const prevCrc = u32At(buf, offset + 12);
  if (expectedPrev !== null && prevCrc !== expectedPrev) {
    return { kind: 'chain', offset, expected: expectedPrev, found: prevCrc };
  }
  return { type: buf[offset + 8] as RecordType, offset, payload: buf.subarray(offset + HEADER_BYTES, end), crc, prevCrc };
}

export function isFault(r: RawRecord | RecordFault): r is RecordFault {
  return 'kind' in r;
}

/** The claimed extent of a record whose header looks genuine (well-formed and linked to the chain), else null. */
export function plausibleRecordEnd(buf: Uint8Array, offset: number, expectedPrev: number): number | null {
  if (buf.length - offset < HEADER_BYTES || !headerShapeOk(buf, offset)) return null;
  const len = u32At(buf, offset + 4);
  if (len > MAX_RECORD_PAYLOAD_BYTES || u32At(buf, offset + 12) !== expectedPrev) return null;
  return offset + HEADER_BYTES + len;
}

/** The offset of the first self-consistent record (shape and crc, any chain) at or after `from`, or -1. */
export function findValidRecord(buf: Uint8Array, from: number): number {
  for (let at = from; at + HEADER_BYTES <= buf.length; at++) {
    const type = buf[at + 8]!;
    if (type === 0 || type > MAX_RECORD_TYPE) continue; // the cheap filter first: most bytes fail here
    if (!headerShapeOk(buf, at)) continue;
    const len = u32At(buf, at + 4);
    if (len > MAX_RECORD_PAYLOAD_BYTES || at + HEADER_BYTES + len > buf.length) continue;
    if (crc32(buf.subarray(at + 4, at + HEADER_BYTES + len)) === u32At(buf, at)) return at;
  }
  return -1;
}

let zeroBuffer: Uint8Array | null = null;
/** A view of n zero bytes (n at most walPreallocateBytes), shared: never written into. */
export function zeros(n: number): Uint8Array {
  zeroBuffer ??= new Uint8Array(walPreallocateBytes);
  return zeroBuffer.subarray(0, n);
}

/** True when every byte of buf from `from` on is zero: the space the writer fills ahead of its records. */
export function zeroFrom(buf: Uint8Array, from: number): boolean {
  for (let at = from; at < buf.length; at += walPreallocateBytes) {
    const n = Math.min(walPreallocateBytes, buf.length - at);
    if (Buffer.compare(buf.subarray(at, at + n), zeros(n)) !== 0) return false;
  }
  return true;
}

/** Where the bytes of buf end once the run of zeros at its end is left off. */
export function endBeforeZeros(buf: Uint8Array): number {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return end;
}

export function describeFault(f: RecordFault): string {
  switch (f.kind) {
    case 'short-header':
      return 'record header cut short by end of file';
    case 'bad-header':
      return `malformed record header (${f.detail})`;
    case 'past-eof':
      return `record length ${f.len} runs past end of file`;
    case 'bad-crc':
      return 'record checksum mismatch';
    case 'chain':
      return `record chain broken (links to crc ${f.found.toString(16)}, expected ${f.expected.toString(16)})`;
  }
}
