// Contiguous log entries kept as columns (term, type, where the data lies in a few shared
// buffers) instead of an object and a view each: a log replayed from the WAL costs about 25
// bytes an entry on the heap, not about 190, and gives the garbage collector nothing to trace
// entry by entry. An Entry object is made only when one is asked for.

import type { Entry, EntryType } from './types.ts';

const INITIAL_SLOTS = 1024;

export class PackedEntries {
  private terms = new Float64Array(INITIAL_SLOTS);
  private types = new Uint8Array(INITIAL_SLOTS);
  /** Per slot: which of `chunks` holds its data, where, and how many bytes. */
  private chunkIds = new Uint32Array(INITIAL_SLOTS);
  private starts = new Uint32Array(INITIAL_SLOTS);
  private sizes = new Uint32Array(INITIAL_SLOTS);
  /** Data buffers, in the order added (so in slot order); null once no live slot refers to it. */
  private readonly chunks: (Uint8Array | null)[] = [];
  /** Every chunk below this id is null. */
  private chunksFreedBelow = 0;
  /** Slots [head, end) are the entries firstIndex, firstIndex + 1, ... */
  private head = 0;
  private end = 0;

  constructor(private first: number) {}

  /** Index of the first entry (the one the next push makes, when empty). */
  get firstIndex(): number {
    return this.first;
  }

  get length(): number {
    return this.end - this.head;
  }

  get lastIndex(): number {
    return this.first + this.length - 1;
  }

  /** Add a buffer that entries pushed after this hold their data in; returns its id for push(). */
  addChunk(bytes: Uint8Array): number {
    this.chunks.push(bytes);
    return this.chunks.length - 1;
  }

  /** Append the entry lastIndex + 1: its data is bytes [start, start + size) of the chunk. */
  push(term: number, type: EntryType, chunkId: number, start: number, size: number): void {
    if (chunkId >= this.chunks.length || start + size > this.chunks[chunkId]!.length) throw new RangeError(`packed entries: data outside chunk ${chunkId}`);
    if (this.end === this.terms.length) this.grow();
    const slot = this.end++;
    this.terms[slot] = term;
    this.types[slot] = type;
    this.chunkIds[slot] = chunkId;
    this.starts[slot] = start;
    this.sizes[slot] = size;
  }

  /** Keep only the first `count` entries (Raft's truncation), and the buffers they use. */
  truncate(count: number): void {
    if (count < 0 || count > this.length) throw new RangeError(`packed entries: cannot keep ${count} of ${this.length}`);
    this.end = this.head + count;
    // The newest chunk stays: entries of it may be pushed next (the truncation came in its batch).
    const lastUsed = count > 0 ? this.chunkIds[this.end - 1]! : this.chunksFreedBelow - 1;
    for (let id = lastUsed + 1; id < this.chunks.length - 1; id++) this.chunks[id] = null;
  }

  /** Drop the first `count` entries (a compaction), and the buffers only they used. */
  dropFront(count: number): void {
    if (count < 0 || count > this.length) throw new RangeError(`packed entries: cannot drop ${count} of ${this.length}`);
    this.head += count;
    this.first += count;
    // Chunks are added in slot order, so every chunk before the first live slot's is unused.
    const firstUsed = this.length > 0 ? this.chunkIds[this.head]! : this.chunks.length;
    for (let id = this.chunksFreedBelow; id < firstUsed; id++) this.chunks[id] = null;
    this.chunksFreedBelow = Math.max(this.chunksFreedBelow, firstUsed);
  }

  term(index: number): number {
    return this.terms[this.slot(index)]!;
  }

  /** Bytes of the entry's data, without making the entry. */
  dataBytes(index: number): number {
    return this.sizes[this.slot(index)]!;
  }

  /** The entry at index, made now (its data a view of the shared buffer). */
  entry(index: number): Entry {
    const slot = this.slot(index);
    const start = this.starts[slot]!;
    const data = this.chunks[this.chunkIds[slot]!]!.subarray(start, start + this.sizes[slot]!);
    return { term: this.terms[slot]!, index, type: this.types[slot] as EntryType, data };
  }

  /** Every entry, made now (for tests and tools; the log itself stays packed). */
  toArray(): Entry[] {
    const out: Entry[] = [];
    for (let i = this.first; i <= this.lastIndex; i++) out.push(this.entry(i));
    return out;
  }

  private slot(index: number): number {
    if (index < this.first || index > this.lastIndex) throw new RangeError(`packed entries: index ${index} outside [${this.first}, ${this.lastIndex}]`);
    return this.head + (index - this.first);
  }

  private grow(): void {
    const slots = this.terms.length * 2;
    const grown = <T extends Float64Array | Uint8Array | Uint32Array>(old: T, next: T): T => {
      next.set(old);
      return next;
    };
    this.terms = grown(this.terms, new Float64Array(slots));
    this.types = grown(this.types, new Uint8Array(slots));
    this.chunkIds = grown(this.chunkIds, new Uint32Array(slots));
    this.starts = grown(this.starts, new Uint32Array(slots));
    this.sizes = grown(this.sizes, new Uint32Array(slots));
  }
}
