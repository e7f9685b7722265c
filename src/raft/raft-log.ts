// The node's view of the whole log: what the storage holds, then the unstable tail, plus the
// commit and apply positions. Indexes are 1-based; index 0 (term 0) is the empty log.

import { UnstableLog } from './unstable-log.ts';
import { type Entry, RaftError, RaftErrorCode, type Snapshot, type Storage } from '../raftpb/types.ts';
import { entriesSize } from './util.ts';

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: UnstableLog;
  /** Highest index known to be on a quorum. */
  committed: number;
  /** Highest index handed to the application in a Ready, not yet acknowledged by advance(). */
  applying: number;
  /** Highest index the application has applied (acknowledged by advance()). */
  applied: number;
  /** Bound on the data of the committed entries handed out in one Ready. */
  private readonly maxApplyingSize: number;

  constructor(storage: Storage, maxApplyingSize: number) {
    this.storage = storage;
    this.maxApplyingSize = maxApplyingSize;
    const first = storage.firstIndex();
    this.unstable = new UnstableLog(storage.lastIndex() + 1);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The last index of the log that is on disk: the storage, minus any suffix being replaced. */
  persistedIndex(): number {
    return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term of entry i, or undefined outside [firstIndex-1, lastIndex]: the lookups below never throw. */
  private termAt(i: number): number | undefined {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    return this.unstable.maybeTerm(i) ?? this.storage.term(i);
  }

  /** Term of entry i; throws ERR_COMPACTED / ERR_UNAVAILABLE outside [firstIndex-1, lastIndex]. */
  term(i: number): number {
    const t = this.termAt(i);
    if (t !== undefined) return t;
    if (i < this.firstIndex() - 1) throw new RaftError(RaftErrorCode.Compacted, `term: index ${i} is compacted`);
    throw new RaftError(RaftErrorCode.Unavailable, `term: index ${i} is not in the log`);
  }

  /** Term of entry i, or 0 if it is compacted or missing. */
  termOrZero(i: number): number {
    return this.termAt(i) ?? 0;
  }

  matchTerm(i: number, t: number): boolean {
    return this.termAt(i) === t;
  }

  /** Raft's freshness order on logs: is (lasti, term) at least as up to date as ours? */
  isUpToDate(lasti: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lasti >= this.lastIndex());
  }

  /**
   * The follower side of MsgApp: if our entry at `index` has term `logTerm`, keep the entries
   * that agree, replace the first conflicting one and everything after it, and advance the
   * commit index (never past what the leader has shown us). Returns the last index the leader's
   * message covers, or undefined if our log does not contain (index, logTerm).
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(`raft log: entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(ents.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      throw new Error(`raft log: append after ${after} would overwrite committed ${this.committed}`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** The index of the first entry whose term differs from ours (or that we lack), else 0. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * For fast backtracking: the largest index <= `index` whose term is <= `term`, with its term.
   * Every entry above it has a higher term, so it cannot match an entry of term <= `term`.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    if (index > this.lastIndex()) return { index, term: 0 };
    for (; index > 0; index--) {
      const ours = this.termAt(index);
      if (ours === undefined) return { index, term: 0 }; // compacted: stop at the boundary
      if (ours <= term) return { index, term: ours };
    }
    return { index: 0, term: 0 };
  }

  commitTo(toCommit: number): void {
    if (toCommit <= this.committed) return;
    if (toCommit > this.lastIndex()) {
      throw new Error(`raft log: commit ${toCommit} is beyond last index ${this.lastIndex()}`);
    }
    this.committed = toCommit;
  }

  /**
   * Commits up to `maxIndex` if it is an entry of `term` (the leader's current term): entries of
   * earlier terms are committed only indirectly (Raft's Figure 8 rule), unless `anyTerm` plants
   * the bug that skips the check.
   */
  maybeCommit(maxIndex: number, term: number, anyTerm = false): boolean {
    if (maxIndex <= this.committed) return false;
    if (!anyTerm && this.termOrZero(maxIndex) !== term) return false;
    this.commitTo(maxIndex);
    return true;
  }

  appliedTo(i: number): void {
    if (i === 0 || i <= this.applied) return;
    if (i > this.committed) throw new Error(`raft log: applied ${i} is beyond committed ${this.committed}`);
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  /** The application has taken committed entries up to `i` to apply. */
  acceptApplying(i: number): void {
    if (i > this.applying) this.applying = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** Committed entries not yet handed out, bounded by size; none while a snapshot is pending. */
  nextCommittedEntries(): Entry[] {
    if (this.hasPendingSnapshot()) return [];
    const lo = this.applying + 1;
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxApplyingSize);
  }

  hasNextCommittedEntries(): boolean {
    return !this.hasPendingSnapshot() && this.applying < this.committed;
  }

  /** The snapshot to send a follower: the pending one if any, else the storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Entries from i to the end, bounded by maxBytes (at least one if any). */
  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** Entries in [lo, hi), bounded by maxBytes; throws ERR_COMPACTED if lo is compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new RaftError(RaftErrorCode.Compacted, `slice: index ${lo} is compacted`);
    if (hi > this.lastIndex() + 1) {
      throw new Error(`raft log: slice [${lo}, ${hi}) is beyond last index ${this.lastIndex()}`);
    }
    if (lo >= hi) return [];
    const offset = this.unstable.offset;
    let out: Entry[] = [];
    let size = 0;
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      out = this.storage.entries(lo, storedHi, maxBytes);
      // The storage stopped early because of the size bound: that is the answer.
      if (out.length < storedHi - lo) return out;
      size = entriesSize(out);
    }
    // Walk the unstable tail only as far as the bound allows: it may hold many small entries.
    const tail = this.unstable.entries;
    for (let i = Math.max(lo, offset); i < hi; i++) {
      const e = tail[i - offset]!;
      size += e.data.byteLength;
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Replaces the log with a snapshot received from the leader. */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }
}
