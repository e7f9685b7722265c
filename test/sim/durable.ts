// What one node's disk durably holds, as the node reports it (observer.persisted, installed,
// restarted): the Quorum Durability check asks it whether an entry is on that disk. Durable
// means persisted by a Ready whose fsync completed and not lost since; what a restart reads
// back after a kill -9 may sit in the page cache only, so it counts once the next fsync of
// the new process covers it.

import type { Entry, HardState, Ready, Snapshot } from '../../src/raftpb/index.ts';

export class DurableLog {
  private snapIndex = 0;
  private snapTerm = 0;
  /** Terms of the entries after the snapshot: entry snapIndex + 1 + k has terms[k]. */
  private terms: number[] = [];
  /** Entries from this index on were read back from the page cache and are not yet synced. */
  private volatileFrom = Infinity;
  commit = 0;

  lastIndex(): number {
    return this.snapIndex + this.terms.length;
  }

  /** Is entry (index, term) durable here, itself or inside a snapshot? */
  holds(index: number, term: number): boolean {
    if (index <= this.snapIndex) return index < this.snapIndex || this.snapTerm === term;
    if (index >= this.volatileFrom) return false;
    return this.terms[index - this.snapIndex - 1] === term;
  }

  /**
   * A Ready is persisted. Returns the lowest index of a durable entry it dropped or replaced
   * (Infinity if none).
   */
  persisted(rd: Ready): number {
    let dropped = Infinity;
    if (rd.snapshot !== null) dropped = this.installSnapshot(rd.snapshot);
    if (rd.entries.length > 0) dropped = Math.min(dropped, this.append(rd.entries));
    // The fsync of this Ready covers the segment it wrote, earlier unsynced writes included.
    if (rd.mustSync) {
      this.volatileFrom = Infinity;
      if (rd.hardState !== null) this.commit = Math.max(this.commit, rd.hardState.commit);
    }
    return dropped;
  }

  /**
   * The node restarted and read back this state. `maybeUnsynced`: the previous process was
   * killed with the power on, so what it wrote after its last fsync may still be unsynced.
   * Returns the lowest index of an entry the model held durably that is gone (Infinity if none).
   */
  restarted(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState, maybeUnsynced: boolean): number {
    const before = { snapIndex: this.snapIndex, snapTerm: this.snapTerm, terms: this.terms, volatileFrom: this.volatileFrom };
    const wasHeld = (index: number, term: number): boolean => {
      if (index <= before.snapIndex) return index < before.snapIndex || before.snapTerm === term;
      return index < before.volatileFrom && before.terms[index - before.snapIndex - 1] === term;
    };
    this.snapIndex = snapshot?.metadata.index ?? 0;
    this.snapTerm = snapshot?.metadata.term ?? 0;
    this.terms = [];
    for (const e of entries) if (e.index > this.snapIndex) this.terms.push(e.term);
    this.commit = hardState.commit;
    this.volatileFrom = Infinity;
    if (maybeUnsynced) {
      for (let i = this.snapIndex + 1; i <= this.lastIndex(); i++) {
        if (!wasHeld(i, this.terms[i - this.snapIndex - 1]!)) {
          this.volatileFrom = i;
          break;
        }
      }
    }
    // An entry the model held durably (past its old snapshot) that did not come back was lost.
    for (let k = 0; k < before.terms.length; k++) {
      const index = before.snapIndex + 1 + k;
      if (index >= before.volatileFrom) break;
      if (!this.contains(index, before.terms[k]!)) return index;
    }
    return Infinity;
  }

  /** Is (index, term) on the disk, durable or not (read back after a kill, or persisted)? */
  contains(index: number, term: number): boolean {
    if (index <= this.snapIndex) return index < this.snapIndex || this.snapTerm === term;
    return this.terms[index - this.snapIndex - 1] === term;
  }

  /** A snapshot from the leader replaces the log (entries after it too: replay drops them). */
  private installSnapshot(snap: Snapshot): number {
    const { index, term } = snap.metadata;
    if (index <= this.snapIndex) return Infinity;
    const dropped = this.lastIndex() > index ? index + 1 : Infinity;
    this.snapIndex = index;
    this.snapTerm = term;
    this.terms = [];
    return dropped;
  }

  private append(entries: readonly Entry[]): number {
    const fresh = entries.filter((e) => e.index > this.snapIndex);
    if (fresh.length === 0) return Infinity;
    const k = fresh[0]!.index - this.snapIndex - 1;
    if (k > this.terms.length) throw new Error(`durable model: entry ${fresh[0]!.index} after last index ${this.lastIndex()}`);
    // The WAL replays a batch as replacing everything from its first index on.
    let dropped = Infinity;
    for (let j = k; j < this.terms.length; j++) {
      if (fresh[j - k]?.term !== this.terms[j]) {
        dropped = this.snapIndex + 1 + j;
        break;
      }
    }
    this.terms.length = k;
    for (const e of fresh) this.terms.push(e.term);
    return dropped;
  }
}
