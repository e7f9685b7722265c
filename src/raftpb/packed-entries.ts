// Contiguous log entries kept as columns (term, type, where the data lies in a few shared
// buffers) instead of an object and a view each: an entry costs about 21 bytes besides its
// data, not about 400 (an object, a Uint8Array and the part of the buffer it was cut from,
// by a heap snapshot of a follower),
// and gives the garbage collector nothing to trace entry by entry. An Entry object is made
// only when one is asked for. Both the log replayed from the WAL (whose read buffers are
// the chunks) and every entry appended while the node runs (copied into chunks of our own)
// are kept so.

import type { Entry, EntryType } from './types.ts';

const INITIAL_SLOTS = 1024;
/** Our own chunks, for entries copied in (pushCopy). */
const OWN_CHUNK_BYTES = 64 * 1024;
/** Data larger than this gets a chunk of its own size, not a place in a shared one. */
const OWN_CHUNK_SHARED_MAX_BYTES = 16 * 1024;
/** Freed chunk ids are renumbered away once there are this many (and they are most of them). */
const FREED_CHUNKS_REBASE_MIN = 1024;

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
  /** The chunk pushCopy fills (always the newest chunk while in use), and how much of it is used. */
  private own: Uint8Array | null = null;
  private ownUsed = 0;

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

  /**
   * Append the entry lastIndex + 1 with a copy of `data` (the caller's buffer is not kept).
   * Bytes once written are never written again, so a view handed out stays as it was.
   */
  pushCopy(term: number, type: EntryType, data: Uint8Array): void {
    const size = data.byteLength;
    if (size > OWN_CHUNK_SHARED_MAX_BYTES) {
      this.push(term, type, this.addChunk(data.slice()), 0, size);
      return;
    }
    // Filled only while it is the newest chunk: a chunk of its own for a large entry, or a
    // compaction or truncation that freed it, ends its use.
    const own = this.own;
    if (own === null || this.chunks[this.chunks.length - 1] !== own || this.ownUsed + size > own.length) {
      this.own = new Uint8Array(OWN_CHUNK_BYTES);
      this.ownUsed = 0;
      this.addChunk(this.own);
    }
    const start = this.ownUsed;
    this.own!.set(data, start);
    this.ownUsed = start + size;
    this.push(term, type, this.chunks.length - 1, start, size);
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
    if (this.chunksFreedBelow >= FREED_CHUNKS_REBASE_MIN && this.chunksFreedBelow * 2 >= this.chunks.length) this.rebaseChunks();
  }

  /** Renumber the chunks so that the freed ones (all below chunksFreedBelow) are gone. */
  private rebaseChunks(): void {
    const freed = this.chunksFreedBelow;
    this.chunks.splice(0, freed);
    for (let slot = this.head; slot < this.end; slot++) this.chunkIds[slot]! -= freed;
    this.chunksFreedBelow = 0;
  }

  /** How many chunk ids are held, freed ones included (for tests: it must stay bounded). */
  get chunkSlots(): number {
    return this.chunks.length;
  }

  /** Slots allocated per column (for tests: it must follow the live entries, not all ever pushed). */
  get capacity(): number {
    return this.terms.length;
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

  /**
   * Room for one more slot: the live slots [head, end) move to the front, into columns twice
   * their count (the same columns when that is no larger), so slots freed by compaction are
   * reused and the columns follow the live log rather than every entry ever pushed.
   */
  private grow(): void {
    const live = this.length;
    const slots = Math.max(INITIAL_SLOTS, live * 2);
    const inPlace = slots <= this.terms.length;
    const moved = <T extends Float64Array | Uint8Array | Uint32Array>(old: T, make: (length: number) => T): T => {
      if (inPlace) {
        old.copyWithin(0, this.head, this.end);
        return old;
      }
      const next = make(slots);
      next.set(old.subarray(this.head, this.end));
      return next;
    };
    this.terms = moved(this.terms, (n) => new Float64Array(n));
    this.types = moved(this.types, (n) => new Uint8Array(n));
    this.chunkIds = moved(this.chunkIds, (n) => new Uint32Array(n));
    this.starts = moved(this.starts, (n) => new Uint32Array(n));
    this.sizes = moved(this.sizes, (n) => new Uint32Array(n));
    this.head = 0;
    this.end = live;
  }
}
