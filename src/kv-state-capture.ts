// A kvstore snapshot at one applied index, written out a chunk at a time while later
// entries go on applying. The map never loses a key (a PUT adds one or replaces a value) and
// a JS Map iterates in insertion order with new keys at the end, so the state at the start is
// the first `pairsTotal` pairs of the live map, each with the value it had then: the value of
// the first overwrite, kept in `oldValues`, or else the current one.

import type { KvStateReader } from './node/snapshot-data.ts';
import { putVarint, varintBytes } from './raftpb/index.ts';

interface PendingPair {
  key: string;
  /** latin1: one char per byte. */
  value: string;
  keyBytes: number;
  /** The pair's encoded length. */
  bytes: number;
}

export class KvStateCapture implements KvStateReader {
  readonly bytes: number;
  private written = 0;
  private readonly pairsTotal: number;
  private pairsWritten = 0;
  private readonly pairs: Iterator<[string, string]>;
  /** The value at the start of each key overwritten since (first overwrite only). */
  private readonly oldValues = new Map<string, string>();
  /** Version and pair count: written first. */
  private readonly head: Uint8Array;
  /** The dedup table as it was at the start: written last. */
  private readonly tail: Uint8Array;
  private headWritten = false;
  private tailWritten = false;
  /** A pair taken from the map that did not fit in the last buffer. */
  private pending: PendingPair | null = null;
  private cancelledFlag = false;
  private closedFlag = false;

  /**
   * `map` is the live map (it is read as it changes); `head` and `tail` are the bytes before
   * and after its pairs, `bytes` the whole state's length, all as they are now.
   */
  constructor(
    map: Map<string, string>,
    head: Uint8Array,
    tail: Uint8Array,
    bytes: number,
    private readonly onClose: (capture: KvStateCapture) => void,
  ) {
    this.pairsTotal = map.size;
    this.pairs = map.entries();
    this.head = head;
    this.tail = tail;
    this.bytes = bytes;
  }

  get cancelled(): boolean {
    return this.cancelledFlag;
  }

  /** The kvstore is about to set `key` (its value now: `current`, undefined for a new key). */
  beforeSet(key: string, current: string | undefined): void {
    // A key new since the start is never written, so its old value is never read: keeping
    // it costs only memory, and telling it apart would cost a lookup per write.
    if (current !== undefined && !this.oldValues.has(key)) this.oldValues.set(key, current);
  }

  /** The state was replaced: nothing more can be written. */
  cancel(): void {
    this.cancelledFlag = true;
    this.close();
  }

  get nextPieceBytes(): number {
    if (!this.headWritten) return this.head.length;
    const p = this.peekPair();
    if (p !== null) return p.bytes;
    return this.tailWritten ? 0 : this.tail.length;
  }

  writeNext(into: Uint8Array, offset: number, end: number): number {
    if (this.cancelledFlag) throw new Error('kv snapshot: cancelled (the state was replaced)');
    if (this.closedFlag) throw new Error('kv snapshot: written after close');
    if (end > into.length) throw new RangeError(`kv snapshot: end ${end} is past the buffer's ${into.length} bytes`);
    const out = Buffer.from(into.buffer, into.byteOffset, into.byteLength);
    const start = offset;
    if (!this.headWritten) {
      if (this.head.length > end - offset) return offset;
      offset = copyInto(out, offset, this.head);
      this.headWritten = true;
    }
    for (let p = this.peekPair(); p !== null; p = this.peekPair()) {
      if (p.bytes > end - offset) return this.wrote(start, offset);
      this.pending = null;
      offset = putVarint(out, offset, p.keyBytes);
      offset += out.write(p.key, offset, 'utf8');
      offset = putVarint(out, offset, p.value.length);
      offset += out.write(p.value, offset, 'latin1'); // it fits: checked against p.bytes
      this.pairsWritten++;
    }
    // The tail (the dedup table) is written once every pair is.
    if (!this.tailWritten && this.tail.length <= end - offset) {
      offset = copyInto(out, offset, this.tail);
      this.tailWritten = true;
    }
    return this.wrote(start, offset);
  }

  /** The next pair to write (taken from the map once, kept until it is written), or null after the last. */
  private peekPair(): PendingPair | null {
    if (this.pending !== null) return this.pending;
    if (this.pairsWritten === this.pairsTotal) return null;
    const next = this.pairs.next();
    if (next.done === true) throw new Error(`kv snapshot: the map ended after ${this.pairsWritten} of ${this.pairsTotal} pairs`);
    const [key, current] = next.value;
    const value = this.oldValues.get(key) ?? current;
    const keyBytes = Buffer.byteLength(key, 'utf8');
    this.pending = { key, value, keyBytes, bytes: varintBytes(keyBytes) + keyBytes + varintBytes(value.length) + value.length };
    return this.pending;
  }

  private wrote(start: number, offset: number): number {
    this.written += offset - start;
    if (this.tailWritten ? this.written !== this.bytes : this.written >= this.bytes) {
      throw new Error(`kv snapshot: wrote ${this.written} bytes${this.tailWritten ? '' : ' before its end'}, expected ${this.bytes}`);
    }
    return offset;
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.oldValues.clear();
    this.onClose(this);
  }
}

/** Copy `bytes` into `out` at `offset` (RangeError past its end); the offset after them. */
function copyInto(out: Buffer, offset: number, bytes: Uint8Array): number {
  out.set(bytes, offset);
  return offset + bytes.length;
}
