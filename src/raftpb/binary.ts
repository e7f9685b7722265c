// Little-endian binary writer and bounds-checked reader: the primitives under the WAL
// records and the peer messages. The reader never reads out of range and never allocates
// on the say-so of a length field it has not checked against the bytes actually present.

/** Malformed or hostile input. `offset` is where in the buffer decoding gave up. */
export class CodecError extends Error {
  readonly code = 'ERR_CODEC';
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'CodecError';
    this.offset = offset;
  }
}

const TWO_32 = 0x1_0000_0000;
/** Buffers grown beyond this are dropped on reset so one huge snapshot does not pin memory. */
const KEEP_CAPACITY_MAX_BYTES = 4 * 1024 * 1024;

/** A growable output buffer, meant to be reused: `reset()` then write, then `view()` or `copy()`. */
export class BinaryWriter {
  private buf: Uint8Array;
  private dv: DataView;
  private pos = 0;
  private readonly initialBytes: number;

  constructor(initialBytes = 4096) {
    this.initialBytes = initialBytes;
    this.buf = new Uint8Array(initialBytes);
    this.dv = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  reset(): this {
    if (this.buf.length > KEEP_CAPACITY_MAX_BYTES) this.realloc(this.initialBytes);
    this.pos = 0;
    return this;
  }

  /** The bytes written so far, as a view valid until the next write or reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** The bytes written so far, as an independent copy. */
  copy(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** Make room for n more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    this.realloc(cap);
  }

  private realloc(cap: number): void {
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, Math.min(this.pos, cap)));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v >= TWO_32) throw new RangeError(`u32 out of range: ${v}`);
    this.ensure(4);
    this.dv.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }

  /** A non-negative safe integer as 8 bytes (low word first). */
  u64(v: number): this {
    checkSafe(v);
    this.ensure(8);
    this.dv.setUint32(this.pos, v % TWO_32, true);
    this.dv.setUint32(this.pos + 4, Math.floor(v / TWO_32), true);
    this.pos += 8;
    return this;
  }

  /** A non-negative safe integer, 7 bits per byte (at most 8 bytes). */
  varint(v: number): this {
    checkSafe(v);
    this.ensure(8);
    this.pos = putVarint(this.buf, this.pos, v);
    return this;
  }

  /** Raw bytes, no length. */
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Bytes preceded by their length as a varint. */
  bytes(b: Uint8Array): this {
    this.varint(b.length);
    return this.raw(b);
  }

  /** A string as raw UTF-8, no length (callers that need one write it first: see utf8Bytes). */
  utf8(s: string): this {
    this.ensure(s.length * 3); // the most UTF-8 bytes a UTF-16 string can need
    this.pos += utf8Encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
    return this;
  }

  /** Overwrite a u32 written earlier (for lengths and checksums known only afterwards). */
  patchU32(at: number, v: number): void {
    if (at < 0 || at + 4 > this.pos) throw new RangeError(`patch outside written bytes: ${at}`);
    this.dv.setUint32(at, v >>> 0, true);
  }
}

const utf8Encoder = new TextEncoder();

/**
 * BinaryWriter.varint's encoding of a non-negative safe integer into `buf` at `offset`, which
 * must have room (varintBytes(v)); returns the offset after it. For writers into a buffer sized
 * beforehand.
 */
export function putVarint(buf: Uint8Array, offset: number, v: number): number {
  while (v >= 0x80) {
    buf[offset++] = (v & 0x7f) | 0x80; // `&` takes the value mod 2^32: the low 7 bits are exact
    v = v < TWO_32 ? v >>> 7 : Math.floor(v / 128);
  }
  buf[offset++] = v;
  return offset;
}

/** Bytes `BinaryWriter.varint(v)` writes, for sizing a buffer before writing. */
export function varintBytes(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  let n = 4;
  for (v = Math.floor(v / 0x10000000); v > 0; v = Math.floor(v / 128)) n++;
  return n;
}

function checkSafe(v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a non-negative safe integer: ${v}`);
}

/** Reads what BinaryWriter wrote. Every read is bounds-checked; failures throw CodecError. */
export class BinaryReader {
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private pos: number;
  private readonly end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) throw new RangeError('reader window outside buffer');
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.end = end;
  }

  /** Where the next read starts. */
  get offset(): number {
    return this.pos;
  }

  fail(message: string): never {
    throw new CodecError(message, this.pos);
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) this.fail(`truncated ${what}: need ${n} bytes, ${this.end - this.pos} left`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): number {
    this.need(8, what);
    const lo = this.dv.getUint32(this.pos, true);
    const hi = this.dv.getUint32(this.pos + 4, true);
    if (hi > 0x1f_ffff) this.fail(`${what} exceeds 2^53`);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  varint(what = 'varint'): number {
    const buf = this.buf;
    let pos = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (pos >= this.end) this.fail(`truncated ${what}`);
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) this.fail(`${what} exceeds 2^53`);
        this.pos = pos;
        return result;
      }
      mul *= 128;
    }
    this.fail(`${what} longer than 8 bytes`);
  }

  /** n raw bytes as a view of the input (no copy). */
  raw(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length-prefixed bytes as a view of the input; the length is checked against max and what is left. */
  bytes(max: number, what = 'bytes'): Uint8Array {
    return this.raw(this.lengthPrefix(max, what), what);
  }

  /** Length-prefixed bytes passed over, checked as bytes() checks them, without a view; returns where they start. */
  skipBytes(max: number, what = 'bytes'): number {
    const n = this.lengthPrefix(max, what); // first: it moves pos past the length
    const start = this.pos;
    this.pos += n;
    return start;
  }

  /** The length before length-prefixed bytes: within max and within what is left. */
  private lengthPrefix(max: number, what: string): number {
    const start = this.pos;
    const n = this.varint(`${what} length`);
    if (n > max) throw new CodecError(`${what} length ${n} exceeds limit ${max}`, start);
    if (n > this.end - this.pos) {
      throw new CodecError(`${what} length ${n} runs past the end (${this.end - this.pos} bytes left)`, start);
    }
    return n;
  }

  /** A count of items each at least minItemBytes long: bounded by max and by the bytes left. */
  count(max: number, minItemBytes: number, what: string): number {
    const start = this.pos;
    const n = this.varint(`${what} count`);
    if (n > max) throw new CodecError(`${what} count ${n} exceeds limit ${max}`, start);
    if (n * minItemBytes > this.end - this.pos) {
      throw new CodecError(`${what} count ${n} cannot fit in ${this.end - this.pos} bytes`, start);
    }
    return n;
  }

  /** Decoding must consume the whole input: trailing bytes mean a framing error. */
  expectEnd(what = 'input'): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes after ${what}`);
  }
}
