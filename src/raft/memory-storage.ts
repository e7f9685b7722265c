// An in-memory Storage: the log since the last snapshot, the HardState and that snapshot.
// The application writes to it (persisting each Ready); the core only reads it. The log is
// the entries replayed from the WAL, packed (no object each), then the entries appended since.

import {
  type ConfState,
  type Entry,
  type HardState,
  RaftError,
  RaftErrorCode,
  type Snapshot,
  type Storage,
} from '../raftpb/types.ts';
import type { PackedEntries } from '../raftpb/packed-entries.ts';

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  };
  // ents[0] is a placeholder standing for the snapshot's last entry (index and term only).
  // The entries after it are those of `packed` (if any), then ents[1], ents[2], ...
  private ents: Entry[] = [{ index: 0, term: 0, type: 0, data: new Uint8Array(0) }];
  /** The log's first entries as replayed at start-up (appendPacked); null when there are none. */
  private packed: PackedEntries | null = null;

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: cloneConfState(this.snap.metadata.confState) };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.packedCount() + this.ents.length - 1;
  }

  private packedCount(): number {
    return this.packed === null ? 0 : this.packed.length;
  }

  /** Entry i, for offset < i <= lastIndex(). */
  private entryAt(i: number): Entry {
    const packed = this.packed;
    if (packed !== null && i <= packed.lastIndex) return packed.entry(i);
    return this.ents[i - this.offset() - this.packedCount()]!;
  }

  private dataBytesAt(i: number): number {
    const packed = this.packed;
    if (packed !== null && i <= packed.lastIndex) return packed.dataBytes(i);
    return this.ents[i - this.offset() - this.packedCount()]!.data.byteLength;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new RaftError(RaftErrorCode.Compacted, `entries: index ${lo} is compacted`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftError(RaftErrorCode.Unavailable, `entries: hi ${hi} is beyond last index ${this.lastIndex()}`);
    }
    if (lo >= hi) return [];
    // Copy only what fits: a far-behind follower must not cost a copy of the whole log.
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      size += this.dataBytesAt(i);
      if (out.length > 0 && size > maxBytes) break;
      out.push(this.entryAt(i));
    }
    return out;
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new RaftError(RaftErrorCode.Compacted, `term: index ${i} is compacted`);
    if (i > this.lastIndex()) {
      throw new RaftError(RaftErrorCode.Unavailable, `term: index ${i} is beyond last index ${this.lastIndex()}`);
    }
    if (i === offset) return this.ents[0]!.term;
    const packed = this.packed;
    if (packed !== null && i <= packed.lastIndex) return packed.term(i);
    return this.ents[i - offset - this.packedCount()]!.term;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with the snapshot. Throws ERR_SNAP_OUT_OF_DATE if it is not newer. */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.snap.metadata.index) {
      throw new RaftError(
        RaftErrorCode.SnapOutOfDate,
        `snapshot at ${s.metadata.index} is not newer than ${this.snap.metadata.index}`,
      );
    }
    this.snap = s;
    this.ents = [{ index: s.metadata.index, term: s.metadata.term, type: 0, data: new Uint8Array(0) }];
    this.packed = null;
  }

  /**
   * Records a snapshot of the state machine at `index` (which must be applied, hence in the log).
   * `cs` null keeps the previous membership. Does not drop log entries: call compact() for that.
   */
  createSnapshot(index: number, cs: ConfState | null, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw new RaftError(
        RaftErrorCode.SnapOutOfDate,
        `snapshot at ${index} is not newer than ${this.snap.metadata.index}`,
      );
    }
    if (index > this.lastIndex()) {
      throw new RaftError(RaftErrorCode.Unavailable, `snapshot index ${index} is beyond last index ${this.lastIndex()}`);
    }
    const confState = cs === null ? this.snap.metadata.confState : cloneConfState(cs);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** Drops entries up to and including `index`; it must not be beyond the last index. */
  compact(index: number): void {
    const offset = this.offset();
    if (index <= offset) throw new RaftError(RaftErrorCode.Compacted, `compact: index ${index} is already compacted`);
    if (index > this.lastIndex()) {
      throw new RaftError(RaftErrorCode.Unavailable, `compact: index ${index} is beyond last index ${this.lastIndex()}`);
    }
    const placeholder = { index, term: this.term(index), type: 0 as const, data: new Uint8Array(0) };
    const dropped = index - offset;
    const packed = this.packed;
    if (packed !== null && dropped < packed.length) {
      packed.dropFront(dropped);
      this.ents[0] = placeholder;
      return;
    }
    this.ents = [placeholder, ...this.ents.slice(dropped - this.packedCount() + 1)];
    this.packed = null;
  }

  /**
   * Appends entries, first dropping any existing suffix that they overwrite. Entries already
   * covered by the snapshot are ignored. The new entries must be contiguous with the log.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const lastNew = entries[entries.length - 1]!.index;
    if (lastNew < first) return;
    if (entries[0]!.index < first) entries = entries.slice(first - entries[0]!.index);
    const at = entries[0]!.index - this.offset();
    if (at > this.packedCount() + this.ents.length) {
      throw new RaftError(
        RaftErrorCode.Unavailable,
        `append: entry ${entries[0]!.index} leaves a gap after last index ${this.lastIndex()}`,
      );
    }
    this.keep(at - 1); // drops a conflicting suffix, if any
    for (const e of entries) this.ents.push(e);
  }

  /**
   * Append entries replayed from the WAL, kept packed; the log must hold no entries yet and
   * they must follow its snapshot. Later appends may still overwrite a suffix of them.
   */
  appendPacked(entries: PackedEntries): void {
    if (entries.length === 0) return;
    if (this.lastIndex() !== this.offset()) throw new RaftError(RaftErrorCode.Unavailable, 'appendPacked: the log already holds entries');
    if (entries.firstIndex !== this.offset() + 1) {
      throw new RaftError(RaftErrorCode.Unavailable, `appendPacked: entry ${entries.firstIndex} does not follow the snapshot at ${this.offset()}`);
    }
    this.packed = entries;
  }

  /** Keep the first `count` entries after the snapshot, dropping the rest. */
  private keep(count: number): void {
    const packed = this.packed;
    const packedCount = this.packedCount();
    if (count >= packedCount) {
      this.ents.length = count - packedCount + 1;
      return;
    }
    this.ents.length = 1;
    if (count === 0) this.packed = null;
    else packed!.truncate(count);
  }
}

function cloneConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
