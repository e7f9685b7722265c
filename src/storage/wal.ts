// The write-ahead log: appends entries, HardStates and snapshot markers to segment files
// with one synchronous-data write per batch (O_DSYNC; where the platform lacks it, one
// write and at most one fdatasync), over space zero-filled ahead of it (walPreallocateBytes
// at a time, so a batch's write does not also change the file's size); cuts segments at a
// size limit; repairs a torn tail on open; purges segments a snapshot has made unnecessary.

import { dirname, join } from 'node:path';
import type { Entry, HardState } from '../raftpb/types.ts';
import { BinaryWriter, entryEncodedBytes, type PackedEntries } from '../raftpb/index.ts';
import { asStorageError, isStorageError, StorageError, StorageErrorCode } from './errors.ts';
import {
  dirBytes,
  isErrno,
  nodeFs,
  readAll,
  removeTempFiles,
  silentLogger,
  syncDir,
  unlinkDurably,
  writeAll,
  writeFileDurably,
  type StorageFileHandle,
  type StorageFs,
  type StorageLogger,
  mkdirDurably,
} from './fs.ts';
import { DirLock } from './lock.ts';
import { walPreallocateBytes } from '../limits.ts';
import { beginRecord, endBeforeZeros, endRecord, HEADER_BYTES, MAX_RECORD_PAYLOAD_BYTES, RecordType, zeros } from './record.ts';
import {
  BATCH_OVERHEAD_MAX_BYTES,
  parseSegmentName,
  segmentName,
  validateMeta,
  writeBatch,
  writeHead,
  writeMarker,
  type SnapshotMarker,
  type WalMeta,
} from './segment.ts';
import { readWal, type SegmentInfo } from './wal-reader.ts';

export interface WalOptions {
  /** Cut a new segment when the next batch would take the current one past this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Segments no longer needed (wholly before the released index) kept anyway. Default 5. */
  maxWals?: number;
  /** Refuse to read a segment file larger than this. Default: max(segmentBytes, 64 MiB) + the largest record. */
  maxSegmentFileBytes?: number;
  logger?: StorageLogger;
  /** The file system; tests inject faults here. */
  fs?: StorageFs;
  /** Planted bug, for the simulator only: replay keeps the entries an installed snapshot superseded. */
  keepSupersededEntries?: boolean;
}

export interface WalOpenResult {
  wal: Wal;
  meta: WalMeta;
  hardState: HardState;
  /** The entries after `at`, packed: what a node's log keeps of them. */
  packedEntries: PackedEntries;
  /** The same entries as objects, made on each read of it (for tests and tools). */
  readonly entries: Entry[];
  /** True when a torn tail was cut off (and kept in a .broken file). */
  repaired: boolean;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_WALS = 5;

interface Resolved {
  segmentBytes: number;
  maxWals: number;
  maxSegmentFileBytes: number;
  logger: StorageLogger;
  fs: StorageFs;
}

function resolveOptions(o: WalOptions = {}): Resolved {
  const segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const maxWals = o.maxWals ?? DEFAULT_MAX_WALS;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1024) {
    throw new StorageError(StorageErrorCode.BadArgument, `segmentBytes must be an integer >= 1024, got ${segmentBytes}`);
  }
  if (!Number.isSafeInteger(maxWals) || maxWals < 0) {
    throw new StorageError(StorageErrorCode.BadArgument, `maxWals must be a non-negative integer, got ${maxWals}`);
  }
  return {
    segmentBytes,
    maxWals,
    maxSegmentFileBytes:
      o.maxSegmentFileBytes ?? Math.max(segmentBytes, DEFAULT_SEGMENT_BYTES) + HEADER_BYTES + MAX_RECORD_PAYLOAD_BYTES,
    logger: o.logger ?? silentLogger,
    fs: o.fs ?? nodeFs,
  };
}

const isCount = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;

function checkNumbers(what: string, ...values: number[]): void {
  for (const v of values) {
    if (!isCount(v)) throw new StorageError(StorageErrorCode.BadArgument, `${what}: ${v} is not a non-negative safe integer`);
  }
}

interface WalState {
  fh: StorageFileHandle;
  segments: SegmentInfo[];
  offset: number;
  /** The last segment's size: zeros from offset to here, filled ahead of the records. */
  allocatedEnd: number;
  headEnd: number;
  lastCrc: number;
  lastIndex: number;
  hardState: HardState | null;
  lastMarker: SnapshotMarker | null;
  /** The newest marker known to vouch for its snapshot (at or below a synced commit). */
  newestVouched: SnapshotMarker | null;
  /** Markers written after it, not yet vouched for: oldest first, at most MARKERS_PENDING_MAX. */
  pendingMarkers: SnapshotMarker[];
}

/** Pending markers remembered; forgetting one only makes snapshot retention keep more. */
const MARKERS_PENDING_MAX = 8;

export class Wal {
  private readonly writer = new BinaryWriter(64 * 1024);
  private queue: Promise<unknown> = Promise.resolve();
  private failure: StorageError | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private dirty = false;
  private releasedIndex = 0;
  /** An unsynced HardState not yet written (see save). */
  private deferredHardState: HardState | null = null;

  private constructor(
    readonly dir: string,
    readonly meta: WalMeta,
    private readonly opts: Resolved,
    private readonly lock: DirLock,
    private s: WalState,
  ) {}

  /** True when dir holds at least one WAL segment. */
  static async exists(dir: string, opts: { fs?: StorageFs } = {}): Promise<boolean> {
    const fs = opts.fs ?? nodeFs;
    try {
      return (await fs.readdir(dir)).some((n) => parseSegmentName(n) !== null);
    } catch (e) {
      // Only a missing directory means "no WAL". Reading EIO or EACCES as "none" would let a
      // new WAL be created over an existing one.
      if (isErrno(e, 'ENOENT')) return false;
      throw new StorageError(StorageErrorCode.Io, `cannot list the WAL directory: ${(e as Error).message}`, { file: dir });
    }
  }

  /** Create a new WAL in dir (created if missing); refuses if dir already holds one. */
  static async create(dir: string, meta: WalMeta, options?: WalOptions): Promise<Wal> {
    const opts = resolveOptions(options);
    validateMeta(meta);
    const { fs } = opts;
    if (await Wal.exists(dir, opts)) throw new StorageError(StorageErrorCode.WalExists, 'a WAL already exists here', { file: dir });
    await mkdirDurably(fs, dir);
    const lock = await DirLock.acquire(fs, dir);
    try {
      await removeTempFiles(fs, dir, opts.logger);
      const seg: SegmentInfo = { name: segmentName(0, 0), seq: 0, firstIndex: 0, path: '', maxIndex: 0 };
      seg.path = join(dir, seg.name);
      const w = new BinaryWriter(256);
      const start = beginRecord(w, RecordType.Meta, 0);
      writeHead(w, { seq: 0, firstIndex: 0, meta, hardState: null, marker: null });
      const lastCrc = endRecord(w, start);
      const fh = await createSegmentFile(fs, seg.path, w.view());
      opts.logger.info({ dir, nodeId: meta.nodeId, clusterId: meta.clusterId }, 'created WAL');
      const state: WalState = {
        fh,
        segments: [seg],
        offset: w.length,
        allocatedEnd: w.length,
        headEnd: w.length,
        lastCrc,
        lastIndex: 0,
        hardState: null,
        lastMarker: null,
        newestVouched: null,
        pendingMarkers: [],
      };
      return new Wal(dir, { ...meta }, opts, lock, state);
    } catch (e) {
      await lock.release();
      throw asStorageError(e, 'creating the WAL failed', dir);
    }
  }

  /**
   * Open the WAL in dir for appending, reading back everything after the snapshot `at`
   * ({index: 0, term: 0} when there is none). A torn tail is cut off (kept in a .broken
   * file, `repaired: true`); any other damage throws a StorageError naming file and offset.
   */
  static async open(dir: string, at: SnapshotMarker, options?: WalOptions): Promise<WalOpenResult> {
    const opts = resolveOptions(options);
    const { fs, logger } = opts;
    if (!(await Wal.exists(dir, opts))) throw new StorageError(StorageErrorCode.WalNotFound, `no WAL segments in ${dir}`, { file: dir });
    const lock = await DirLock.acquire(fs, dir);
    try {
      await removeTempFiles(fs, dir, logger);
      const r = await readWal(fs, dir, { at, maxSegmentFileBytes: opts.maxSegmentFileBytes, keepSupersededEntries: options?.keepSupersededEntries });
      await removeLeftovers(fs, logger, dir, r.leftovers);
      const last = r.segments[r.segments.length - 1]!;
      const repaired = r.tornReason !== null;
      if (repaired) await cutTornTail(fs, logger, last, r.validEnd, r.size, r.tornReason!);
      const fh = await fs.open(last.path, 'r+', { dataSync: true });
      // What was read back may be only in the page cache: a process killed before its fsync
      // leaves its writes there, and the next one must not vote, acknowledge or build a chain
      // on them as if durable. Sync the last segment (earlier ones were synced at their cut)
      // and the directory (the last segment's name) before anything is used.
      await fh.datasync();
      await syncDir(fs, dir);
      const state: WalState = {
        fh,
        segments: r.segments,
        offset: r.validEnd,
        allocatedEnd: repaired ? r.validEnd : r.size,
        headEnd: r.lastHeadEnd,
        lastCrc: r.lastCrc,
        lastIndex: r.lastIndex,
        hardState: r.hasHardState ? r.hardState : null,
        lastMarker: r.lastMarker,
        ...splitVouched(r.markers, r.vouched),
      };
      logger.info({ dir, segments: r.segments.length, entries: r.entries.length, at, repaired }, 'opened WAL');
      // A snapshot holds only committed entries: the commit is at least its index, even when
      // the HardState that followed an installed snapshot did not reach the disk.
      const hardState = r.hardState.commit < at.index ? { ...r.hardState, commit: at.index } : r.hardState;
      const packedEntries = r.entries;
      return {
        wal: new Wal(dir, r.meta, opts, lock, state),
        meta: r.meta,
        hardState,
        packedEntries,
        get entries() {
          return packedEntries.toArray();
        },
        repaired,
      };
    } catch (e) {
      await lock.release();
      throw asStorageError(e, 'opening the WAL failed', dir);
    }
  }

  /**
   * The snapshots the WAL vouches for: every marker it holds whose index the last
   * HardState has committed (a marker beyond the commit may belong to a snapshot whose
   * HardState never reached the disk), and every snapshot installed from a leader (it
   * replaced the log, and holds only committed entries). Read-only: a torn tail is
   * ignored, not repaired.
   */
  static async snapshotMarkers(dir: string, options?: WalOptions): Promise<SnapshotMarker[]> {
    const opts = resolveOptions(options);
    try {
      const r = await readWal(opts.fs, dir, { at: null, maxSegmentFileBytes: opts.maxSegmentFileBytes });
      return r.vouched;
    } catch (e) {
      throw asStorageError(e, 'reading the WAL failed', dir);
    }
  }

  /**
   * Append entries and the HardState (either may be empty) as one batch record, durable
   * when this resolves if `sync`. The segment's writes are synchronous (O_DSYNC), so that
   * is one write, and a save without `sync` that carries entries is durable too; one that
   * carries only a HardState is held back for the next save or close. On a handle without
   * them: one write, then one fdatasync when `sync` (covering earlier unsynced saves too).
   * A batch that does not fit the current segment is split into several records at a cut.
   */
  save(hs: HardState | null, entries: readonly Entry[], sync: boolean): Promise<void> {
    return this.serial(async () => {
      this.checkBatch(hs, entries);
      const latest = this.deferredHardState ?? this.s.hardState;
      if (!sync && entries.length === 0 && hs !== null && this.s.fh.dataSync === true && latest !== null && hs.term === latest.term && hs.vote === latest.vote) {
        // A HardState alone that need not be durable, moving nothing but the commit index,
        // would cost a flush here: it rides with the next save instead, or is written at
        // close. Lost in a crash meanwhile, as an unsynced write could be; the commit index
        // is learnt again from the leader.
        this.deferredHardState = hs;
        return;
      }
      const lead = this.deferredHardState;
      this.deferredHardState = null;
      if (hs !== null || entries.length > 0 || lead !== null) await this.appendBatch(hs, entries, lead);
      if (sync) await this.syncNow();
    });
  }

  /** Record that a snapshot at (index, term) was saved; synced before it resolves. */
  saveSnapshotMarker(m: SnapshotMarker): Promise<void> {
    return this.serial(async () => {
      checkNumbers('snapshot marker', m.index, m.term);
      // A marker is vouched for by a HardState committing its index; a snapshot's index is
      // committed, but that commit may be the one held back (see save). Written first, it
      // vouches for the marker on disk, before releaseTo lets the segments under it go.
      await this.writeHeldBack();
      if (this.s.offset + HEADER_BYTES + 16 > this.opts.segmentBytes && this.s.offset > this.s.headEnd) await this.cut();
      const w = this.writer.reset();
      const start = beginRecord(w, RecordType.Snapshot, this.s.lastCrc);
      writeMarker(w, m);
      await this.write(endRecord(w, start));
      this.s.lastMarker = { index: m.index, term: m.term };
      if (m.index > this.s.lastIndex) this.s.lastIndex = m.index;
      const pending = this.s.pendingMarkers;
      pending.push({ index: m.index, term: m.term });
      if (pending.length > MARKERS_PENDING_MAX) pending.shift();
      await this.syncNow();
    });
  }

  /**
   * The newest snapshot this WAL vouches for as written so far: its marker is synced and
   * so is a HardState committing its index. Snapshot retention must never remove it (a
   * snapshot installed from a leader is vouched for only once its commit is synced here,
   * which errs on the side of keeping files).
   */
  newestVouchedMarker(): SnapshotMarker | null {
    return this.s.newestVouched;
  }

  /** Entries up to `index` are in a snapshot: segments holding nothing after it may go (beyond maxWals). */
  releaseTo(index: number): Promise<void> {
    return this.serial(async () => {
      if (index > this.releasedIndex) this.releasedIndex = index;
      await this.purge();
    });
  }

  /** Sync what is pending and close. Always releases the directory lock, even when failed. */
  close(): Promise<void> {
    // Queued behind the calls made before it; calls made after it find the WAL closed.
    this.closing ??= this.queue.then(async () => {
      this.closed = true;
      try {
        if (this.failure === null) await this.writeHeldBack();
        if (this.failure === null && this.dirty) await this.s.fh.datasync();
      } finally {
        await this.s.fh.close().catch(() => {});
        await this.lock.release();
      }
    });
    this.queue = this.closing.catch(() => {});
    return this.closing;
  }

  /** Names of the segment files currently part of the log, oldest first (for tests and status). */
  segmentNames(): string[] {
    return this.s.segments.map((s) => s.name);
  }

  // ---- internals ----

  /** Run operations one at a time; an I/O failure poisons the WAL for good. */
  private serial(op: () => Promise<void>): Promise<void> {
    const run = async () => {
      if (this.closed) throw new StorageError(StorageErrorCode.WalClosed, 'WAL is closed', { file: this.dir });
      if (this.failure) throw this.failure;
      try {
        await op();
      } catch (e) {
        if (isStorageError(e, StorageErrorCode.BadArgument) || isStorageError(e, StorageErrorCode.WalRecordTooLarge)) throw e; // nothing written
        this.failure ??= new StorageError(StorageErrorCode.WalFailed, `WAL write failed, refusing all further writes: ${(e as Error).message}`, { file: this.currentPath(), cause: e });
        this.opts.logger.error({ err: e, file: this.currentPath() }, 'WAL failed');
        throw this.failure;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  private currentPath(): string {
    return this.s.segments[this.s.segments.length - 1]!.path;
  }

  private noteEntry(index: number): void {
    this.s.lastIndex = index;
    const seg = this.s.segments[this.s.segments.length - 1]!;
    if (index > seg.maxIndex) seg.maxIndex = index;
  }

  /**
   * Check before writing what the reader will check after: entries contiguous, not
   * leaving a hole after the log, terms not going down, each within the record limit.
   * A refusal writes nothing and leaves the WAL usable.
   */
  private checkBatch(hs: HardState | null, entries: readonly Entry[]): void {
    if (hs) checkNumbers('HardState', hs.term, hs.vote, hs.commit);
    let prev: Entry | null = null;
    for (const e of entries) {
      // Per entry on every save: the message (and its string) only when something is wrong.
      if (!isCount(e.index) || !isCount(e.term)) checkNumbers(`entry ${e.index}`, e.index, e.term);
      const why =
        e.index < 1
          ? 'entry index 0'
          : prev === null && e.index > this.s.lastIndex + 1
            ? `entry ${e.index} would leave a hole after the last index ${this.s.lastIndex}`
            : prev !== null && e.index !== prev.index + 1
              ? `entry ${e.index} does not follow entry ${prev.index} in the batch`
              : prev !== null && e.term < prev.term
                ? `entry ${e.index} has term ${e.term}, below ${prev.term} before it`
                : null;
      if (why) throw new StorageError(StorageErrorCode.BadArgument, why, { file: this.currentPath() });
      if (entryEncodedBytes(e) + BATCH_OVERHEAD_MAX_BYTES > MAX_RECORD_PAYLOAD_BYTES) {
        throw new StorageError(StorageErrorCode.WalRecordTooLarge, `entry ${e.index} is ${e.data.length} bytes, above the record limit`);
      }
      prev = e;
    }
  }

  /**
   * Encode the batch as records and write them: all that fit the current segment in one
   * write, the rest after a cut. The HardState rides in the last record, a held-back one
   * (`lead`) in the first.
   */
  private async appendBatch(hs: HardState | null, entries: readonly Entry[], lead: HardState | null = null): Promise<void> {
    const n = entries.length;
    let i = 0;
    let hsDone = hs === null;
    // A held-back HardState goes in the first record (the last when it is the only one, unless
    // hs replaces it): a crash that keeps only the first records of a split batch keeps it too.
    let leadDone = lead === null;
    while (i < n || !hsDone || !leadDone) {
      const w = this.writer.reset();
      let crc = this.s.lastCrc;
      const firstOfWrite = i;
      let written: HardState | null = null;
      // Records while they fit, each taking as many entries as fit in the room left.
      while (i < n || !hsDone || !leadDone) {
        const room = Math.min(this.opts.segmentBytes - this.s.offset - w.length, HEADER_BYTES + MAX_RECORD_PAYLOAD_BYTES);
        let j = i;
        let bytes = HEADER_BYTES + BATCH_OVERHEAD_MAX_BYTES;
        for (; j < n; j++) {
          const b = entryEncodedBytes(entries[j]!);
          if (bytes + b > room) break;
          bytes += b;
        }
        if (j === i && (i < n || bytes > room)) {
          const segmentEmpty = this.s.offset === this.s.headEnd && w.length === 0;
          if (!segmentEmpty) break; // cut, then go on
          if (i < n) j = i + 1; // an entry larger than a whole segment gets a segment of its own
        }
        const last = j === n;
        const withHs = last ? (hs ?? lead) : leadDone ? null : lead;
        const start = beginRecord(w, RecordType.Batch, crc);
        writeBatch(w, withHs, entries, i, j);
        crc = endRecord(w, start);
        i = j;
        if (withHs !== null) {
          written = withHs;
          leadDone = true;
        }
        if (last) hsDone = true;
      }
      if (w.length > 0) {
        await this.write(crc);
        for (let k = firstOfWrite; k < i; k++) this.noteEntry(entries[k]!.index);
        if (written !== null) this.s.hardState = { ...written };
      }
      if (i < n || !hsDone || !leadDone) await this.cut();
    }
  }

  /** Write the writer's contents at the end of the log; `crc` is the chain value after them. */
  private async write(crc: number): Promise<void> {
    if (this.s.fh.dataSync !== true) this.dirty = true; // else durable once it returns
    await this.fillAhead(this.writer.length);
    await writeAll(this.s.fh, this.writer.view(), this.s.offset);
    this.s.offset += this.writer.length;
    if (this.s.offset > this.s.allocatedEnd) this.s.allocatedEnd = this.s.offset;
    this.s.lastCrc = crc;
  }

  /**
   * Before `bytes` are written at the end of the log: when they would reach past the zeros
   * filled ahead, fill walPreallocateBytes more (never past the segment limit). A batch
   * that would reach past that too is not filled for: its own write extends the file, as
   * zeros written first would, and writing its bytes twice gains nothing. The zeros are
   * written, not a hole or fallocate's unwritten extents, so that the batch's own write
   * changes no block map or size. On a synchronous handle they are durable, size
   * included, once written; on another the next fdatasync covers them.
   */
  private async fillAhead(bytes: number): Promise<void> {
    const s = this.s;
    const end = s.offset + bytes;
    const target = Math.min(this.opts.segmentBytes, s.allocatedEnd + walPreallocateBytes);
    if (end <= s.allocatedEnd || end > target) return;
    await writeAll(s.fh, zeros(target - s.allocatedEnd), s.allocatedEnd);
    s.allocatedEnd = target;
  }

  /** Write the HardState save() held back, if any, as a record of its own. */
  private async writeHeldBack(): Promise<void> {
    const lead = this.deferredHardState;
    if (lead === null) return;
    this.deferredHardState = null;
    await this.appendBatch(null, [], lead);
  }

  /** Make everything written durable (a no-op when the writes were synchronous), then vouch for the markers it commits. */
  private async syncNow(): Promise<void> {
    const commit = this.s.hardState?.commit ?? 0; // written before the fsync, so covered by it
    if (this.dirty) await this.s.fh.datasync();
    this.dirty = false;
    const pending = this.s.pendingMarkers;
    while (pending.length > 0 && pending[0]!.index <= commit) this.s.newestVouched = pending.shift()!;
  }

  /**
   * Start the next segment. The current one is synced first (nothing may follow unsynced
   * bytes in a segment that is not the last), and the new one only gets its name once its
   * head record (identity, chain link, the last HardState and snapshot marker) is synced.
   */
  private async cut(): Promise<void> {
    const s = this.s;
    if (s.allocatedEnd > s.offset) {
      // Only the last segment may end in zeros: cut back to its records, durably, before a
      // segment follows it.
      await s.fh.truncate(s.offset);
      s.allocatedEnd = s.offset;
      this.dirty = true;
    }
    if (this.dirty) await this.syncNow();
    const prev = s.segments[s.segments.length - 1]!;
    const seq = prev.seq + 1;
    const firstIndex = s.lastIndex + 1;
    const seg: SegmentInfo = { name: segmentName(seq, firstIndex), seq, firstIndex, path: '', maxIndex: 0 };
    seg.path = join(this.dir, seg.name);
    const w = this.writer.reset();
    const start = beginRecord(w, RecordType.Meta, s.lastCrc);
    writeHead(w, { seq, firstIndex, meta: this.meta, hardState: s.hardState, marker: s.lastMarker });
    const crc = endRecord(w, start);
    const fh = await createSegmentFile(this.opts.fs, seg.path, w.view());
    await s.fh.close();
    s.fh = fh;
    s.segments.push(seg);
    s.offset = s.headEnd = s.allocatedEnd = w.length;
    s.lastCrc = crc;
    this.opts.logger.info({ file: seg.path }, 'cut WAL segment');
    await this.purge();
  }

  /** Bytes of the WAL directory on disk (segments, lock, set-aside files), for status. */
  diskBytes(): Promise<number> {
    return dirBytes(this.opts.fs, this.dir);
  }

  /** Remove the oldest segments that hold nothing after the released index, keeping maxWals of them. */
  private async purge(): Promise<void> {
    const segs = this.s.segments;
    let releasable = 0;
    while (releasable < segs.length - 1 && segs[releasable]!.maxIndex <= this.releasedIndex) releasable++;
    const excess = releasable - this.opts.maxWals;
    for (let k = 0; k < excess; k++) {
      const seg = segs[0]!;
      try {
        await unlinkDurably(this.opts.fs, this.dir, seg.path); // one at a time: a crash leaves no hole in the sequence
      } catch (e) {
        this.opts.logger.warn({ err: e, file: seg.path }, 'could not purge WAL segment');
        return;
      }
      segs.shift();
      this.opts.logger.info({ file: seg.path, releasedIndex: this.releasedIndex }, 'purged WAL segment');
    }
  }
}

/**
 * Segments an interrupted purge left in front of a hole (see splitAtLastHole): removed, oldest
 * first, one directory sync each, as a purge does. One that cannot be removed is only logged:
 * it is not read, and the next open tries again.
 */
async function removeLeftovers(fs: StorageFs, logger: StorageLogger, dir: string, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    try {
      await unlinkDurably(fs, dir, path);
      logger.warn({ file: path }, 'removed a WAL segment an interrupted purge left behind');
    } catch (e) {
      logger.warn({ err: e, file: path }, 'could not remove a WAL segment an interrupted purge left behind');
    }
  }
}

/** At open: the newest vouched-for marker, and the markers after it that are not (yet) vouched for. */
function splitVouched(markers: readonly SnapshotMarker[], vouched: readonly SnapshotMarker[]): Pick<WalState, 'newestVouched' | 'pendingMarkers'> {
  const isVouched = (m: SnapshotMarker) => vouched.some((v) => v.index === m.index && v.term === m.term);
  let k = markers.length - 1;
  while (k >= 0 && !isVouched(markers[k]!)) k--;
  return { newestVouched: k >= 0 ? markers[k]! : null, pendingMarkers: markers.slice(k + 1).slice(-MARKERS_PENDING_MAX) };
}

/** Create a segment durably (temporary name, sync, rename, sync the directory); returns it open for appending. */
async function createSegmentFile(fs: StorageFs, path: string, head: Uint8Array): Promise<StorageFileHandle> {
  const tmp = `${path}.tmp`;
  const fh = await fs.open(tmp, 'w+', { dataSync: true });
  try {
    await writeAll(fh, head, 0);
    await fh.sync();
    await fs.rename(tmp, path);
    await syncDir(fs, dirname(path));
    return fh;
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

/**
 * Keep the torn bytes (less the zeros filled ahead of them) in a .broken file, then cut the
 * segment back to its last whole record; the writer fills ahead again from there.
 */
async function cutTornTail(fs: StorageFs, logger: StorageLogger, seg: SegmentInfo, validEnd: number, size: number, reason: string): Promise<void> {
  const fh = await fs.open(seg.path, 'r+');
  try {
    const tail = new Uint8Array(size - validEnd);
    await readAll(fh, tail, validEnd);
    const torn = tail.subarray(0, endBeforeZeros(tail));
    const taken = new Set(await fs.readdir(dirname(seg.path)));
    let broken = `${seg.name}@${validEnd}.broken`;
    for (let n = 1; taken.has(broken); n++) broken = `${seg.name}@${validEnd}-${n}.broken`;
    await writeFileDurably(fs, join(dirname(seg.path), broken), [torn]);
    await fh.truncate(validEnd);
    await fh.sync();
    logger.warn({ file: seg.path, offset: validEnd, bytes: torn.length, keptIn: broken, reason }, 'repaired torn WAL tail');
  } finally {
    await fh.close();
  }
}
