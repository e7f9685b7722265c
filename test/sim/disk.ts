// A fake disk for one node. Writes go to a volatile queue of records and become durable only
// when an fsync that was issued after them completes; a crash loses what is not durable
// (optionally keeping a random prefix of it, as a real disk may have flushed some of it on its
// own: records are sequential, like a WAL, so whatever survives is a prefix, possibly ending
// in the middle of one Ready).

import type { Entry, HardState, Snapshot } from '../../src/raft/index.ts';
import type { Prng } from './prng.ts';

export interface DiskWrite {
  /** 'raft': a snapshot received from the leader, replacing the log; 'app': our own snapshot. */
  snapshot: { snap: Snapshot; kind: 'raft' | 'app' } | null;
  entries: Entry[];
  hardState: HardState | null;
}

export interface DurableState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Contiguous entries; all after the snapshot's index. */
  entries: Entry[];
}

export class DiskError extends Error {}

export class SimDisk {
  private durable: DurableState = { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] };
  private volatile: { seq: number; write: DiskWrite }[] = [];
  private nextSeq = 1;
  private droppedFrom = Infinity;
  syncedWrites = 0;
  lostWrites = 0;

  /** Queues a write as WAL-like records (snapshot, each entry, then the HardState), so that a
   *  torn crash may keep part of one Ready. Returns the last record's sequence number. */
  write(w: DiskWrite): number {
    if (w.snapshot !== null) this.record({ snapshot: w.snapshot, entries: [], hardState: null });
    for (const e of w.entries) this.record({ snapshot: null, entries: [e], hardState: null });
    if (w.hardState !== null) this.record({ snapshot: null, entries: [], hardState: w.hardState });
    return this.lastSeq();
  }

  private record(w: DiskWrite): void {
    this.volatile.push({ seq: this.nextSeq++, write: w });
  }

  /** The newest write's sequence number: an fsync issued now makes everything up to it durable. */
  lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** An fsync issued when lastSeq() was `upTo` has completed. */
  synced(upTo: number): void {
    while (this.volatile.length > 0 && this.volatile[0]!.seq <= upTo) {
      this.noteDropped(applyWrite(this.durable, this.volatile.shift()!.write));
      this.syncedWrites++;
    }
  }

  /** Power loss: unsynced writes vanish, except a random prefix when `tornPrefix`. */
  crash(rng: Prng, tornPrefix: boolean): void {
    const keep = tornPrefix ? rng.int(this.volatile.length + 1) : 0;
    for (let i = 0; i < keep; i++) this.noteDropped(applyWrite(this.durable, this.volatile[i]!.write));
    this.lostWrites += this.volatile.length - keep;
    this.volatile = [];
  }

  private noteDropped(from: number): void {
    if (from < this.droppedFrom) this.droppedFrom = from;
  }

  /** The lowest index whose durable entry was dropped or replaced since the last call (or
   *  Infinity): the only way a committed entry could leave a quorum's disks. */
  takeDroppedFrom(): number {
    const from = this.droppedFrom;
    this.droppedFrom = Infinity;
    return from;
  }

  /** The commit index this disk vouches for after a power loss (its HardState, or its snapshot). */
  durableCommit(): number {
    return Math.max(this.durable.hardState.commit, this.durable.snapshot?.metadata.index ?? 0);
  }

  /** Is entry (index, term) durable here, itself or inside a durable snapshot? */
  holds(index: number, term: number): boolean {
    const d = this.durable;
    const snap = d.snapshot?.metadata;
    if (snap !== undefined && index <= snap.index) return index < snap.index || snap.term === term;
    const first = d.entries[0]?.index;
    return first !== undefined && d.entries[index - first]?.term === term;
  }

  /** What a restarting node reads back (copies, so the node cannot change the disk). */
  read(): DurableState {
    return {
      hardState: { ...this.durable.hardState },
      snapshot: this.durable.snapshot,
      entries: [...this.durable.entries],
    };
  }

  isBlank(): boolean {
    const d = this.durable;
    return d.snapshot === null && d.entries.length === 0 && d.hardState.term === 0 && d.hardState.commit === 0;
  }
}

/** Applies one write to the durable state; returns the lowest index of an entry it dropped or
 *  replaced with a different term (Infinity if none). */
function applyWrite(d: DurableState, w: DiskWrite): number {
  let dropped = Infinity;
  if (w.snapshot !== null) {
    const s = w.snapshot.snap;
    const idx = s.metadata.index;
    if (d.snapshot === null || idx > d.snapshot.metadata.index) {
      d.snapshot = s;
      if (w.snapshot.kind === 'raft') {
        if (d.entries.length > 0 && d.entries[d.entries.length - 1]!.index > idx) dropped = idx + 1;
        d.entries = [];
      } else d.entries = d.entries.filter((e) => e.index > idx);
    }
  }
  if (w.entries.length > 0) {
    const floor = d.snapshot?.metadata.index ?? 0;
    const ents = w.entries.filter((e) => e.index > floor);
    if (ents.length > 0) {
      const first = ents[0]!.index;
      const base = d.entries.length > 0 ? d.entries[0]!.index : floor + 1;
      const last = base + d.entries.length - 1;
      if (first > last + 1) throw new DiskError(`disk: write of entry ${first} leaves a gap after ${last}`);
      const kept = Math.max(0, first - base);
      for (let i = kept; i < d.entries.length; i++) {
        const replacement = ents[i - kept];
        if (replacement === undefined || replacement.term !== d.entries[i]!.term) {
          dropped = Math.min(dropped, d.entries[i]!.index);
          break;
        }
      }
      d.entries = d.entries.slice(0, kept).concat(ents);
    }
  }
  if (w.hardState !== null) d.hardState = { ...w.hardState };
  return dropped;
}
