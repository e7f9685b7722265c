// The MemoryStorage as first written (the log as one array of entries), kept as the reference
// model for the packed one (memory-storage-packed.test.ts). Not used by the node.

import {
  type ConfState,
  type Entry,
  type HardState,
  RaftError,
  RaftErrorCode,
  type Snapshot,
  type Storage,
} from '../../src/raftpb/types.ts';

export class ArrayMemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  };
  // ents[0] is a placeholder standing for the snapshot's last entry (index and term only).
  private ents: Entry[] = [{ index: 0, term: 0, type: 0, data: new Uint8Array(0) }];

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
    return this.offset() + this.ents.length - 1;
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
      const e = this.ents[i - offset]!;
      size += e.data.byteLength;
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new RaftError(RaftErrorCode.Compacted, `term: index ${i} is compacted`);
    if (i - offset >= this.ents.length) {
      throw new RaftError(RaftErrorCode.Unavailable, `term: index ${i} is beyond last index ${this.lastIndex()}`);
    }
    return this.ents[i - offset]!.term;
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
    const head = this.ents[index - offset]!;
    this.ents = [{ index: head.index, term: head.term, type: 0, data: new Uint8Array(0) }, ...this.ents.slice(index - offset + 1)];
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
    if (at > this.ents.length) {
      throw new RaftError(
        RaftErrorCode.Unavailable,
        `append: entry ${entries[0]!.index} leaves a gap after last index ${this.lastIndex()}`,
      );
    }
    this.ents.length = at; // drops a conflicting suffix, if any
    for (const e of entries) this.ents.push(e);
  }
}

function cloneConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
