// An in-memory Storage: the log since the last snapshot, the HardState and that snapshot.
// The application writes to it (persisting each Ready); the core only reads it. The log is
// kept packed (packed-entries.ts: columns and shared buffers, no object per entry): first
// the entries replayed from the WAL, in the WAL's read buffers, then copies of the entries
// appended since. Between two snapshots it holds up to --snapshot-count entries and the
// catch-up entries kept after the last one, so what an entry costs here is most of what the
// log costs a node.

import {
  type ConfState,
  type Entry,
  type HardState,
  RaftError,
  RaftErrorCode,
  type Snapshot,
  type Storage,
} from '../raftpb/types.ts';
import { PackedEntries } from '../raftpb/packed-entries.ts';

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  };
  /** The entry the log starts after (the snapshot's last, or the last compacted): index and term. */
  private offsetIndex = 0;
  private offsetTerm = 0;
  /** The entries offsetIndex + 1 ... lastIndex(). */
  private log = new PackedEntries(1);

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: cloneConfState(this.snap.metadata.confState) };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  firstIndex(): number {
    return this.offsetIndex + 1;
  }

  lastIndex(): number {
    return this.offsetIndex + this.log.length;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offsetIndex) throw new RaftError(RaftErrorCode.Compacted, `entries: index ${lo} is compacted`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftError(RaftErrorCode.Unavailable, `entries: hi ${hi} is beyond last index ${this.lastIndex()}`);
    }
    if (lo >= hi) return [];
    // Make only what fits: a far-behind follower must not cost the whole log.
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      size += this.log.dataBytes(i);
      if (out.length > 0 && size > maxBytes) break;
      out.push(this.log.entry(i));
    }
    return out;
  }

  term(i: number): number {
    if (i < this.offsetIndex) throw new RaftError(RaftErrorCode.Compacted, `term: index ${i} is compacted`);
    if (i > this.lastIndex()) {
      throw new RaftError(RaftErrorCode.Unavailable, `term: index ${i} is beyond last index ${this.lastIndex()}`);
    }
    return i === this.offsetIndex ? this.offsetTerm : this.log.term(i);
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
    this.offsetIndex = s.metadata.index;
    this.offsetTerm = s.metadata.term;
    this.log = new PackedEntries(s.metadata.index + 1);
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
    if (index <= this.offsetIndex) throw new RaftError(RaftErrorCode.Compacted, `compact: index ${index} is already compacted`);
    if (index > this.lastIndex()) {
      throw new RaftError(RaftErrorCode.Unavailable, `compact: index ${index} is beyond last index ${this.lastIndex()}`);
    }
    const term = this.term(index);
    this.log.dropFront(index - this.offsetIndex);
    this.offsetIndex = index;
    this.offsetTerm = term;
  }

  /**
   * Appends entries, first dropping any existing suffix that they overwrite. Entries already
   * covered by the snapshot are ignored. The new entries must be contiguous with the log.
   * Their data is copied: the caller's buffers (a peer message's body, say) are not kept.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const lastNew = entries[entries.length - 1]!.index;
    if (lastNew < first) return;
    const skip = entries[0]!.index < first ? first - entries[0]!.index : 0;
    const at = entries[skip]!.index;
    if (at > this.lastIndex() + 1) {
      throw new RaftError(
        RaftErrorCode.Unavailable,
        `append: entry ${at} leaves a gap after last index ${this.lastIndex()}`,
      );
    }
    if (at <= this.lastIndex()) this.log.truncate(at - first); // drops a conflicting suffix
    for (let k = skip; k < entries.length; k++) {
      const e = entries[k]!;
      this.log.pushCopy(e.term, e.type, e.data);
    }
  }

  /**
   * Append entries replayed from the WAL, kept as they are (packed, in the WAL's buffers); the
   * log must hold no entries yet and they must follow its snapshot. Later appends may still
   * overwrite a suffix of them.
   */
  appendPacked(entries: PackedEntries): void {
    if (entries.length === 0) return;
    if (this.lastIndex() !== this.offsetIndex) throw new RaftError(RaftErrorCode.Unavailable, 'appendPacked: the log already holds entries');
    if (entries.firstIndex !== this.offsetIndex + 1) {
      throw new RaftError(RaftErrorCode.Unavailable, `appendPacked: entry ${entries.firstIndex} does not follow the snapshot at ${this.offsetIndex}`);
    }
    this.log = entries;
  }
}

function cloneConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
