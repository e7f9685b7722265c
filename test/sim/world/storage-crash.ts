// One node's storage (the real Wal and Snapshotter) on SimFs through a few lives, each
// ended by a power cut at a random time: after every crash, recovery must read back a
// state between the last synced save and the last one issued (batches are atomic), with
// any snapshot it uses matching the log. Used by wal-on-sim-fs.test.ts.

import type { Entry, HardState, Snapshot } from '../../../src/raftpb/index.ts';
import { EntryType } from '../../../src/raftpb/index.ts';
import { isStorageError, Snapshotter, Wal, type WalOptions } from '../../../src/storage/index.ts';
import { syncDir } from '../../../src/storage/fs.ts';
import { LOCK_FILE } from '../../../src/storage/lock.ts';
import { Prng } from '../prng.ts';
import { Scheduler } from './scheduler.ts';
import { SimDisk, type SimDiskOptions, type SimFs } from './sim-fs.ts';

const WAL_DIR = '/node/wal';
const SNAP_DIR = '/node/snap';
const META = { nodeId: 1, clusterId: 'sim' };

/** The log as a list of terms (entry i has term terms[i-1]) and the HardState after one save. */
interface LogState {
  terms: number[];
  hardState: HardState;
  /** The save that led here: entries from index `from` on, with these terms. */
  batch?: { from: number; terms: number[] };
}

/** Entry data follows from (index, term), of varied size, so small segments are cut often. */
function entryData(index: number, term: number): Buffer {
  return Buffer.from(`v${index}.${term}`.padEnd(8 + ((index * 7919 + term * 31) % 300), '.'));
}

const snapshotData = (terms: readonly number[]): Buffer => Buffer.from(terms.join(','));

/** What one seed's workload has issued, and what must survive. */
class Model {
  /** States after each save issued since the last recovery; states[0] is what that recovery read. */
  states: LogState[] = [{ terms: [], hardState: { term: 0, vote: 0, commit: 0 } }];
  /** Index into states of the newest save whose sync resolved. */
  syncedUpTo = 0;
  /** Terms of every entry ever committed: a cluster fact, never rewritten, even if a crash lost the commit here. */
  committedTerms: number[] = [];
  term = 1;

  get current(): LogState {
    return this.states[this.states.length - 1]!;
  }

  /** The entries and HardState of the next save, and the state after it. */
  nextBatch(prng: Prng): { hardState: HardState | null; entries: Entry[] } {
    const now = this.current;
    const terms = now.terms.slice();
    let from = terms.length + 1;
    const count = prng.range(0, 4);
    if (count > 0 && terms.length > this.committedTerms.length && prng.chance(0.15)) {
      from = prng.range(this.committedTerms.length + 1, terms.length); // Raft's truncation: a new leader's log
      this.term++;
    }
    const entries: Entry[] = [];
    for (let k = 0; k < count; k++) {
      const index = from + k;
      const term = this.committedTerms[index - 1] ?? this.term;
      entries.push({ index, term, type: EntryType.Normal, data: entryData(index, term) });
    }
    terms.length = from - 1;
    for (const e of entries) terms.push(e.term);
    let hardState: HardState | null = null;
    if (entries.length === 0 || prng.chance(0.7)) {
      const commit = prng.range(now.hardState.commit, terms.length);
      hardState = { term: this.term, vote: 1, commit };
      while (this.committedTerms.length < commit) this.committedTerms.push(terms[this.committedTerms.length]!);
    }
    this.states.push({ terms, hardState: hardState ?? now.hardState, batch: { from, terms: entries.map((e) => e.term) } });
    return { hardState, entries };
  }

  /** The recovery read back: it must be one of the states from the last synced save on. */
  matchRecovery(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState): LogState | string {
    const at = snapshot?.metadata.index ?? 0;
    const got = JSON.stringify(entries.map((e) => [e.index, e.term, Buffer.from(e.data).toString()]));
    for (const s of this.candidates()) {
      const want = s.terms.slice(at).map((term, i) => [at + i + 1, term, entryData(at + i + 1, term).toString()]);
      const commit = Math.max(s.hardState.commit, at);
      if (snapshot && (s.terms[at - 1] !== snapshot.metadata.term || !snapshotData(s.terms.slice(0, at)).equals(snapshot.data))) continue;
      if (got === JSON.stringify(want) && JSON.stringify({ ...s.hardState, commit }) === JSON.stringify(hardState)) {
        return { terms: s.terms.slice(), hardState };
      }
    }
    const brief = entries.map((e) => `${e.index}@${e.term}`).join(' ');
    return `recovered (snapshot at ${at}, entries ${brief}, ${JSON.stringify(hardState)}) matches no state from save ${this.syncedUpTo} to ${this.states.length - 1}`;
  }

  /**
   * The states a recovery may read back: after any save from the last synced one on, or
   * part way into the next one, when it was split at a segment cut (the old segment synced
   * with a prefix of its entries, the rest and the HardState in a segment the crash lost).
   */
  private *candidates(): Generator<LogState> {
    for (let k = this.states.length - 1; k >= this.syncedUpTo; k--) {
      const s = this.states[k]!;
      yield s;
      const next = this.states[k + 1]?.batch;
      if (next === undefined) continue;
      for (let m = 1; m <= next.terms.length; m++) {
        yield { terms: [...s.terms.slice(0, next.from - 1), ...next.terms.slice(0, m)], hardState: s.hardState };
      }
    }
  }

  rebase(state: LogState): void {
    this.states = [state];
    this.syncedUpTo = 0;
    this.term = Math.max(this.term, state.hardState.term, ...state.terms) + 1;
  }
}

interface Recovered {
  wal: Wal;
  snapshotter: Snapshotter;
  snapshot: Snapshot | null;
}

/** The start-up order of src/storage/index.ts. */
async function recover(fs: SimFs, opts: WalOptions): Promise<Recovered & { entries: Entry[]; hardState: HardState } | null> {
  const snapshotter = new Snapshotter(SNAP_DIR, { fs, maxSnapshots: 2 });
  if (!(await Wal.exists(WAL_DIR, { fs }))) return null;
  const markers = await Wal.snapshotMarkers(WAL_DIR, opts);
  const snapshot = await snapshotter.loadNewestAvailable(markers);
  const at = snapshot ? { index: snapshot.metadata.index, term: snapshot.metadata.term } : { index: 0, term: 0 };
  const { wal, entries, hardState } = await Wal.open(WAL_DIR, at, opts);
  return { wal, snapshotter, snapshot, entries, hardState };
}

/** Saves (some pipelined, half of them synced) and snapshots until the process dies. */
async function workload(model: Model, prng: Prng, scheduler: Scheduler, node: Recovered): Promise<void> {
  const { wal, snapshotter } = node;
  let snapshotIndex = node.snapshot?.metadata.index ?? 0;
  const inFlight: Promise<void>[] = [];
  for (;;) {
    const roll = prng.float();
    if (roll < 0.7) {
      const { hardState, entries } = model.nextBatch(prng);
      const k = model.states.length - 1;
      const sync = prng.chance(0.5);
      const saved = wal.save(hardState, entries, sync).then(() => {
        if (sync && k > model.syncedUpTo) model.syncedUpTo = k;
      });
      saved.catch(() => {}); // observed by Promise.all below, or by the test once the process is dead
      inFlight.push(saved);
      if (prng.chance(0.6)) await Promise.all(inFlight.splice(0));
    } else if (roll < 0.8) {
      await Promise.all(inFlight.splice(0));
      const commit = model.current.hardState.commit;
      if (commit <= snapshotIndex) continue;
      const terms = model.current.terms.slice(0, commit);
      await snapshotter.save({ metadata: { index: commit, term: terms[commit - 1]!, confState: { voters: [1], learners: [] } }, data: snapshotData(terms) });
      await wal.saveSnapshotMarker({ index: commit, term: terms[commit - 1]! });
      await wal.releaseTo(commit);
      await snapshotter.retain(wal.newestVouchedMarker());
      snapshotIndex = commit;
    } else {
      await scheduler.sleep(prng.range(0, 3));
    }
  }
}

export interface SeedOutcome {
  crashes: number;
  /** Recoveries refused with a StorageError (allowed only where the fault model goes beyond the WAL's crash rules). */
  refusals: string[];
  failure: string | null;
}

/** One seed: a few lives of one node's storage, each ended by a power cut at a random time. */
export interface SeedOptions {
  disk: SimDiskOptions;
  lives: number;
  /**
   * Remove the LOCK file before each restart. The lock trusts a pid in a file it never
   * syncs: torn to a prefix ("1" of "12345"), it names a running process and the restart
   * is refused (ERR_WAL_LOCKED). Reported; cleared here so the runs go on to test the WAL.
   */
  clearStaleLock: boolean;
}

export async function runSeed(seed: number, { disk, lives, clearStaleLock }: SeedOptions): Promise<SeedOutcome> {
  const prng = new Prng(seed);
  const scheduler = new Scheduler();
  const simDisk = new SimDisk(scheduler, prng.fork(), 'n1', { deadProcess: 'fail', ...disk });
  const workloadPrng = prng.fork();
  const model = new Model();
  const opts = (fs: SimFs): WalOptions => ({ fs, segmentBytes: 1024, maxWals: 1 });
  const setup = simDisk.mount();
  await scheduler.complete(setup.mkdir('/node', { recursive: true }).then(() => syncDir(setup, '/')));
  const outcome: SeedOutcome = { crashes: 0, refusals: [], failure: null };

  for (let life = 0; life < lives && outcome.failure === null; life++) {
    if (clearStaleLock) simDisk.remove(`${WAL_DIR}/${LOCK_FILE}`);
    const fs = simDisk.mount();
    let wal: Wal | null = null;
    const lifetime = (async () => {
      const node = await recover(fs, opts(fs));
      if (node === null) {
        if (life > 0 && model.syncedUpTo > 0) throw new Error('the WAL vanished');
        wal = await Wal.create(WAL_DIR, META, opts(fs));
        await workload(model, workloadPrng, scheduler, { wal, snapshotter: new Snapshotter(SNAP_DIR, { fs, maxSnapshots: 2 }), snapshot: null });
        return;
      }
      wal = node.wal;
      const state = model.matchRecovery(node.snapshot, node.entries, node.hardState);
      if (typeof state === 'string') throw new Error(state);
      model.rebase(state);
      await workload(model, workloadPrng, scheduler, node);
    })();
    scheduler.after(workloadPrng.range(0, 120), () => simDisk.crash());
    try {
      await scheduler.complete(lifetime);
    } catch (e) {
      if (fs.isAlive) {
        if (!isStorageError(e)) outcome.failure = `life ${life}: ${(e as Error).stack ?? String(e)}`;
        else outcome.refusals.push(`life ${life}: ${e.code} ${e.message}`);
        if (isStorageError(e)) break;
      }
    }
    if (fs.isAlive) simDisk.crash();
    outcome.crashes++;
    const dead: Wal | null = wal;
    // The dead process's Wal fails every call; closing it frees the in-process directory lock (see the report).
    if (dead !== null) await scheduler.complete((dead as Wal).close().catch(() => {}));
  }
  return outcome;
}

