// A kvstore snapshot at one applied index, written out a chunk at a time while later
// entries go on applying. The map never loses a key (a PUT adds one or replaces a value) and
// a JS Map iterates in insertion order with new keys at the end, so the state at the start is
// the first `pairsTotal` pairs of the live map, each with the value it had then: the value of
// the first overwrite, kept in `oldValues`, or else the current one.

import type { KvStateReader } from './node/snapshot-data.ts';
import { putVarint } from './raftpb/index.ts';

export class KvStateCapture implements KvStateReader {
  readonly bytes: number;
  private written = 0;
  private readonly pairsTotal: number;
  private pairsWritten = 0;
  private readonly pairs: Iterator<[string, Buffer]>;
  /** The value at the start of each key overwritten since (first overwrite only). */
  private readonly oldValues = new Map<string, Buffer>();
  /** Version and pair count: written first. */
  private readonly head: Uint8Array;
  /** The dedup table as it was at the start: written last. */
  private readonly tail: Uint8Array;
  private tailWritten = false;
  private cancelledFlag = false;
  private closedFlag = false;

  /**
   * `map` is the live map (it is read as it changes); `head` and `tail` are the bytes before
   * and after its pairs, `bytes` the whole state's length, all as they are now.
   */
  constructor(
    map: Map<string, Buffer>,
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
  beforeSet(key: string, current: Buffer | undefined): void {
    // A key new since the start is never written, so its old value is never read: keeping
    // it costs only memory, and telling it apart would cost a lookup per write.
    if (current !== undefined && !this.oldValues.has(key)) this.oldValues.set(key, current);
  }

  /** The state was replaced: nothing more can be written. */
  cancel(): void {
    this.cancelledFlag = true;
    this.close();
  }

  writeNext(into: Uint8Array, offset: number, chunkBytes: number): number {
    if (this.cancelledFlag) throw new Error('kv snapshot: cancelled (the state was replaced)');
    if (this.closedFlag) throw new Error('kv snapshot: written after close');
    const out = Buffer.from(into.buffer, into.byteOffset, into.byteLength);
    const start = offset;
    if (this.written === 0) offset = copyInto(out, offset, this.head);
    while (this.pairsWritten < this.pairsTotal && offset - start < chunkBytes) {
      const next = this.pairs.next();
      if (next.done === true) throw new Error(`kv snapshot: the map ended after ${this.pairsWritten} of ${this.pairsTotal} pairs`);
      const [key, current] = next.value;
      const value = this.oldValues.get(key) ?? current;
      offset = putVarint(out, offset, Buffer.byteLength(key, 'utf8'));
      offset += out.write(key, offset, 'utf8');
      offset = putVarint(out, offset, value.length);
      offset = copyInto(out, offset, value);
      this.pairsWritten++;
    }
    // The tail is small (the dedup table): it goes with the last pairs.
    const last = this.pairsWritten === this.pairsTotal && !this.tailWritten;
    if (last) offset = copyInto(out, offset, this.tail);
    this.tailWritten ||= last;
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
