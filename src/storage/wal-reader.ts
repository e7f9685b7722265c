// Reads a WAL directory back: every segment in order, every record checked, the chain
// verified across segments, and the line drawn between a torn tail and corruption.
//
// THE TORN-TAIL RULE. The writer appends whole batches to the last segment only, and a
// segment stops receiving records (it is synced) before its successor is created; a new
// segment appears by rename only after its head record is synced. So after a crash the
// only bytes that may legitimately be damaged are in the LAST segment, AFTER the last
// record that was synced, and everything from the damage to the end of the file belongs
// to writes that were never acknowledged. Reading stops at the first record that fails
// (header cut short, malformed header, length running past end of file, checksum
// mismatch). That failure is a TORN TAIL, repaired by cutting the file back, only if:
//   1. it is in the last segment, and not its head record (the head was synced before
//      the segment got its name), and
//   2. it is not a whole, self-consistent record that merely links to the wrong
//      predecessor (a complete record cannot be half-written), and
//   3. no self-consistent record (shape and checksum) starts anywhere after it. A valid
//      record after the damage proves the damaged bytes were written before something
//      that survived, i.e. the damage is rot or tampering, not an interrupted append.
//      One exception: a record lying inside the payload of the damaged record, when that
//      record's header is intact and linked, is taken for user data (an entry may carry
//      anything) unless it links to the damaged record's checksum.
// Zero-filled space has type 0 and never parses. The writer fills the last segment with
// zeros ahead of its records (and cuts a segment back to its records before the next one
// is created), so when everything from the failing offset to the end of the last segment
// is zero, that is the log's end, not a tear: nothing is cut off. Any other failure
// anywhere is CORRUPTION: the node refuses to start with a StorageError naming the file
// and offset. Limit: damage to the very last
// record of the last segment cannot be told from a torn write (nothing follows it), so
// rot there is repaired as a tear; every earlier record is protected by its successors.

import { join } from 'node:path';
import type { HardState } from '../raftpb/types.ts';
import { BinaryReader, CodecError, PackedEntries, type EntryInPlace } from '../raftpb/index.ts';
import { StorageError, StorageErrorCode } from './errors.ts';
import { readFileBounded, type StorageFs } from './fs.ts';
import {
  describeFault,
  findValidRecord,
  isFault,
  plausibleRecordEnd,
  MAX_RECORD_PAYLOAD_BYTES,
  readRecordAt,
  RecordType,
  zeroFrom,
  type RawRecord,
  type RecordFault,
} from './record.ts';
import {
  listSegments,
  splitAtLastHole,
  readHead,
  scanBatch,
  readMarker,
  type SegmentName,
  type SnapshotMarker,
  type WalMeta,
} from './segment.ts';

export interface SegmentInfo extends SegmentName {
  path: string;
  /** Highest entry index written in the segment (0 if none). */
  maxIndex: number;
}

export interface WalReadResult {
  meta: WalMeta;
  /** The last HardState recorded (zeros if none). */
  hardState: HardState;
  hasHardState: boolean;
  /** Entries after `at`, contiguous from at.index + 1 (empty when reading without `at`), packed. */
  entries: PackedEntries;
  /** Every snapshot marker found, in log order, duplicates removed. */
  markers: SnapshotMarker[];
  /**
   * The markers that vouch for their snapshot file: those the last HardState has committed
   * (a marker beyond the commit may belong to a snapshot whose HardState never reached the
   * disk), and those of snapshots installed from a leader, which hold only committed
   * entries and replaced the log whether or not the HardState that followed survived.
   */
  vouched: SnapshotMarker[];
  segments: SegmentInfo[];
  /** Paths of segments in front of a hole, left over from an interrupted purge and not read. */
  leftovers: string[];
  /** Chain value after the last valid record: the next record links to it. */
  lastCrc: number;
  /** Index of the last entry written, or of a later snapshot marker: the log continues after it. */
  lastIndex: number;
  lastMarker: SnapshotMarker | null;
  /** End of the last valid record in the last segment, and that file's size. */
  validEnd: number;
  size: number;
  /** End of the head record of the last segment. */
  lastHeadEnd: number;
  /** Why the bytes in [validEnd, size) are a torn tail; null when there are none, or only zeros. */
  tornReason: string | null;
}

export interface ReadWalOptions {
  /** Return entries after this snapshot; null: only validate and collect markers. */
  at: SnapshotMarker | null;
  maxSegmentFileBytes: number;
  /** Planted bug, for the simulator only: keep the entries an installed snapshot superseded. */
  keepSupersededEntries?: boolean;
}

const ZERO_HS: HardState = { term: 0, vote: 0, commit: 0 };

function corrupt(file: string, offset: number, message: string, cause?: unknown): StorageError {
  return new StorageError(StorageErrorCode.WalCorrupt, message, { file, offset, cause });
}

/** Decide whether the fault that ended the last segment is a torn tail (null) or corruption (the reason). */
function corruptionBehindTail(buf: Uint8Array, fault: RecordFault, chain: number | null): string | null {
  if (fault.kind === 'chain') return describeFault(fault);
  const extent = chain === null ? null : plausibleRecordEnd(buf, fault.offset, chain);
  const storedCrc = buf.length - fault.offset >= 4 ? new DataView(buf.buffer, buf.byteOffset).getUint32(fault.offset, true) : -1;
  for (let at = fault.offset + 1; ; at++) {
    at = findValidRecord(buf, at);
    if (at < 0) return null;
    const inside = extent !== null && at < extent;
    const links = new DataView(buf.buffer, buf.byteOffset).getUint32(at + 12, true) === storedCrc;
    if (!inside || links) return `${describeFault(fault)}, yet a valid record follows at offset ${at}`;
  }
}

/**
 * The terms of the log as replayed so far, kept as runs, so a snapshot marker can be
 * matched against the log the way the core matches an installed snapshot (matchTerm).
 * Known from `base` (the entry before the first one read, or an installed snapshot) to
 * `last`; nothing before `base` is known (purged segments).
 */
class LogTerms {
  private baseIndex = 0;
  /** null: the term at baseIndex is unknown (a purged segment, or a hole before it). */
  private baseTerm: number | null = 0;
  private runs: { index: number; term: number }[] = [];
  private last = 0;

  /** The first segment read starts at firstIndex: what came before it was purged. */
  startAt(firstIndex: number): void {
    if (firstIndex <= 1) return;
    this.baseIndex = this.last = firstIndex - 1;
    this.baseTerm = null;
  }

  append(index: number, term: number): void {
    if (index <= this.baseIndex || index > this.last + 1) {
      this.baseIndex = index - 1;
      this.baseTerm = null;
      this.runs = [];
    } else {
      while (this.runs.length > 0 && this.runs[this.runs.length - 1]!.index >= index) this.runs.pop(); // Raft's truncation
    }
    if (this.runs.length === 0 || this.runs[this.runs.length - 1]!.term !== term) this.runs.push({ index, term });
    this.last = index;
  }

  /** Whether the log holds entry `index` at `term`; null when that part of the log is not known. */
  holds(index: number, term: number): boolean | null {
    if (index < this.baseIndex) return null;
    if (index === this.baseIndex) return this.baseTerm === null ? null : this.baseTerm === term;
    if (index > this.last) return false;
    for (let k = this.runs.length - 1; k >= 0; k--) if (this.runs[k]!.index <= index) return this.runs[k]!.term === term;
    return null;
  }

  /** An installed snapshot replaced the log: it now ends at the snapshot. */
  replaceWith(m: SnapshotMarker): void {
    this.baseIndex = this.last = m.index;
    this.baseTerm = m.term;
    this.runs = [];
  }
}

interface ScannedMarker extends SnapshotMarker {
  /** It replaced the log (a snapshot installed from a leader), so it vouches for its file whatever the commit. */
  replacedLog: boolean;
}

class WalScan {
  meta: WalMeta | null = null;
  hardState: HardState = ZERO_HS;
  hasHardState = false;
  /** The entries kept: after `at`, their data in copies of the batch records they came in. */
  readonly entries: PackedEntries;
  markers: ScannedMarker[] = [];
  lastMarker: SnapshotMarker | null = null;
  lastIndex = 0;
  readonly terms = new LogTerms();
  chain: number | null = null;
  /**
   * Content errors reported after the snapshot check, so an unknown snapshot is named as
   * such: one about the entries kept (dropped with them if a later marker replaces them),
   * and one about a log replaced after `at`.
   */
  keptEntriesError: StorageError | null = null;
  /** The entry keptEntriesError is about: one written later at or below it rewrote it (Raft's truncation), and the error goes with it. */
  private keptEntriesErrorIndex = Infinity;
  replacedAfterAtError: StorageError | null = null;

  constructor(
    readonly at: SnapshotMarker | null,
    private readonly keepSuperseded = false,
  ) {
    this.entries = new PackedEntries(at === null ? 1 : at.index + 1);
  }

  /** Apply one record; throws CodecError on a payload that does not decode, StorageError on bad content. */
  apply(rec: RawRecord, seg: SegmentInfo, isHead: boolean): void {
    if (isHead !== (rec.type === RecordType.Meta)) {
      throw corrupt(seg.path, rec.offset, isHead ? 'segment does not start with a head record' : 'head record in the middle of a segment');
    }
    switch (rec.type) {
      case RecordType.Meta:
        return this.head(rec, seg);
      case RecordType.Batch: {
        const hardState = this.batch(rec, seg);
        if (hardState) {
          this.hardState = hardState;
          this.hasHardState = true;
        }
        return;
      }
      case RecordType.Snapshot: {
        const r = new BinaryReader(rec.payload);
        const m = readMarker(r);
        r.expectEnd('snapshot marker record');
        const installed = this.terms.holds(m.index, m.term) === false && !this.keepSuperseded;
        return this.marker(m, installed ? { seg, offset: rec.offset } : null);
      }
    }
  }

  private head(rec: RawRecord, seg: SegmentInfo): void {
    const h = readHead(rec.payload);
    if (h.seq !== seg.seq || h.firstIndex !== seg.firstIndex) {
      throw corrupt(seg.path, rec.offset, `segment head says seq ${h.seq} first index ${h.firstIndex}, the file name says seq ${seg.seq} first index ${seg.firstIndex}`);
    }
    if (this.meta === null) {
      this.meta = h.meta;
      this.terms.startAt(h.firstIndex);
    } else if (h.meta.nodeId !== this.meta.nodeId || h.meta.clusterId !== this.meta.clusterId) {
      throw corrupt(seg.path, rec.offset, `segment belongs to node ${h.meta.nodeId} of cluster "${h.meta.clusterId}", not node ${this.meta.nodeId} of "${this.meta.clusterId}"`);
    }
    if (h.hardState) {
      this.hardState = h.hardState;
      this.hasHardState = true;
    }
    if (h.marker) this.marker(h.marker, null); // a restatement: it took effect where it was written
  }

  /**
   * A marker whose snapshot the log does not hold (index and term) records a snapshot
   * installed from a leader: as in the core, it replaced the whole log (`replaced` says
   * where it was written). A local snapshot's entry is always on disk before its marker.
   */
  private marker(m: SnapshotMarker, replaced: { seg: SegmentInfo; offset: number } | null): void {
    this.lastMarker = m;
    if (replaced) this.replaceLog(m, replaced.seg, replaced.offset);
    else if (m.index > this.lastIndex) this.lastIndex = m.index; // the log resumes after the snapshot
    const prev = this.markers[this.markers.length - 1];
    if (!prev || prev.index !== m.index || prev.term !== m.term) this.markers.push({ index: m.index, term: m.term, replacedLog: replaced !== null });
  }

  /** Drop every entry the installed snapshot m superseded: the log continues at m.index + 1. */
  private replaceLog(m: SnapshotMarker, seg: SegmentInfo, offset: number): void {
    this.terms.replaceWith(m);
    this.lastIndex = m.index;
    const at = this.at;
    if (at === null) return;
    // Every kept entry is above at.index, so above m.index unless m is newer than `at`; what
    // was wrong with them (a gap, a term going down) went with the log they belonged to.
    this.entries.truncate(0);
    this.keptEntriesError = null;
    this.keptEntriesErrorIndex = Infinity;
    if (m.index > at.index) {
      // What the log held in (at.index, m.index] was replaced by the snapshot m: only its file has it.
      this.replacedAfterAtError ??= new StorageError(
        StorageErrorCode.WalGap,
        `the snapshot at index ${m.index} term ${m.term} replaced the log after index ${at.index}: restarting from the snapshot at ${at.index} needs that snapshot's file`,
        { file: seg.path, offset },
      );
    }
  }

  /**
   * A batch record's entries, read in place. Those kept have their data in one copy of the
   * record, made at the first kept entry: not in the segment buffer (which they must not
   * pin), and one allocation per batch, not per entry. The copy lives as long as any entry
   * of it is in the log, and is no larger than the record.
   */
  private batch(rec: RawRecord, seg: SegmentInfo): HardState | null {
    let indexZero = false;
    let chunkId = -1;
    const hardState = scanBatch(rec.payload, MAX_RECORD_PAYLOAD_BYTES, (e) => {
      if (indexZero) return;
      if (e.index === 0) indexZero = true;
      else if (this.position(e.index, e.term, seg)) {
        if (chunkId < 0) chunkId = this.entries.addChunk(Buffer.from(rec.payload)); // the same offsets as in rec.payload
        this.keep(e, chunkId, seg, rec.offset);
      }
    });
    // The whole record decodes before an entry in it is found wrong (what readBatch reported first).
    if (indexZero) throw corrupt(seg.path, rec.offset, 'entry with index 0');
    return hardState;
  }

  /**
   * What every entry read does to the scan: the log's terms, the segment's last index, Raft's
   * truncation at or below `at`. Returns whether the entry is after `at` (one to keep).
   */
  private position(index: number, term: number, seg: SegmentInfo): boolean {
    this.lastIndex = index;
    this.terms.append(index, term);
    if (index > seg.maxIndex) seg.maxIndex = index;
    const at = this.at;
    if (at === null) return false;
    if (index <= this.keptEntriesErrorIndex) {
      this.keptEntriesError = null;
      this.keptEntriesErrorIndex = Infinity;
    }
    if (index <= at.index) {
      this.entries.truncate(0); // rewritten at or below the snapshot: everything after it goes too
      return false;
    }
    return true;
  }

  /** An entry after `at` (position() said so): kept, its data in chunk `chunkId` of the entries, unless it is wrong. */
  private keep(e: EntryInPlace, chunkId: number, seg: SegmentInfo, offset: number): void {
    const at = this.at!;
    const kept = this.entries;
    const first = at.index + 1;
    if (e.index < first + kept.length) kept.truncate(e.index - first); // Raft's truncation, logged by appending
    if (this.keptEntriesError) return;
    if (e.index > first + kept.length) {
      this.keptEntriesErrorIndex = e.index;
      this.keptEntriesError = new StorageError(
        StorageErrorCode.WalGap,
        `entry ${e.index} follows ${first + kept.length - 1}: entries missing after the snapshot at ${at.index}`,
        { file: seg.path, offset },
      );
      return;
    }
    const prevTerm = kept.length > 0 ? kept.term(kept.lastIndex) : at.term;
    if (e.term < prevTerm) {
      this.keptEntriesErrorIndex = e.index;
      this.keptEntriesError = corrupt(seg.path, offset, `entry ${e.index} has term ${e.term}, below the term ${prevTerm} before it`);
      return;
    }
    kept.push(e.term, e.type, chunkId, e.dataStart, e.dataBytes);
  }
}

/** Read and verify the WAL in dir. Throws StorageError on anything but a torn tail. */
export async function readWal(fs: StorageFs, dir: string, opts: ReadWalOptions): Promise<WalReadResult> {
  const listed = await listSegments(fs, dir);
  if (listed.length === 0) throw new StorageError(StorageErrorCode.WalNotFound, `no WAL segments in ${dir}`, { file: dir });
  // Segments in front of a hole are left over from an interrupted purge when the run after
  // the hole begins at or before the first entry a restart from `at` needs: then they hold
  // only entries the snapshot covers, and are read as if purged. Otherwise entries are lost.
  // (The markers pass, at null, reads the run; the open from the snapshot it picks decides.)
  const { run: names, before: leftovers, hole } = splitAtLastHole(dir, listed);
  if (hole !== null && opts.at !== null && names[0]!.firstIndex > opts.at.index + 1) throw hole;
  const scan = new WalScan(opts.at, opts.keepSupersededEntries === true);
  const segments: SegmentInfo[] = [];
  let validEnd = 0;
  let size = 0;
  let lastHeadEnd = 0;
  let tornReason: string | null = null;

  for (let i = 0; i < names.length; i++) {
    const seg: SegmentInfo = { ...names[i]!, path: join(dir, names[i]!.name), maxIndex: 0 };
    segments.push(seg);
    const isLast = i === names.length - 1;
    const buf = await readFileBounded(fs, seg.path, opts.maxSegmentFileBytes, (n) =>
      new StorageError(StorageErrorCode.WalSegmentTooLarge, `segment is ${n} bytes, more than the limit ${opts.maxSegmentFileBytes}`, { file: seg.path }),
    );
    if (scan.chain === null && seg.seq === 0) scan.chain = 0; // the very first record links to 0
    let offset = 0;
    while (offset < buf.length || offset === 0) {
      const rec = readRecordAt(buf, offset, scan.chain);
      if (isFault(rec)) {
        if (!isLast || offset === 0) throw corrupt(seg.path, offset, `${describeFault(rec)}${isLast ? ' in the segment head' : ' in a segment that is not the last'}`);
        if (zeroFrom(buf, offset)) break; // the space filled ahead: the end of the log
        const why = corruptionBehindTail(buf, rec, scan.chain);
        if (why !== null) throw corrupt(seg.path, offset, why);
        tornReason = describeFault(rec);
        break;
      }
      try {
        scan.apply(rec, seg, offset === 0);
      } catch (e) {
        if (e instanceof CodecError) throw corrupt(seg.path, offset, `record with a valid checksum does not decode: ${e.message}`, e);
        throw e;
      }
      scan.chain = rec.crc;
      offset = rec.offset + 16 + rec.payload.length;
      if (rec.offset === 0) lastHeadEnd = offset;
    }
    validEnd = offset;
    size = buf.length;
  }

  const at = opts.at;
  if (at !== null && at.index > 0 && !scan.markers.some((m) => m.index === at.index && m.term === at.term)) {
    throw new StorageError(StorageErrorCode.WalSnapshotNotFound, `the WAL holds no marker for the snapshot at index ${at.index} term ${at.term}`, { file: dir });
  }
  const deferred = scan.replacedAfterAtError ?? scan.keptEntriesError;
  if (deferred) throw deferred;
  return {
    meta: scan.meta!,
    hardState: scan.hardState,
    hasHardState: scan.hasHardState,
    entries: scan.entries,
    markers: scan.markers.map(({ index, term }) => ({ index, term })),
    vouched: scan.markers.filter((m) => m.replacedLog || m.index <= scan.hardState.commit).map(({ index, term }) => ({ index, term })),
    segments,
    leftovers: leftovers.map((l) => join(dir, l.name)),
    lastCrc: scan.chain!,
    lastIndex: scan.lastIndex,
    lastMarker: scan.lastMarker,
    validEnd,
    size,
    lastHeadEnd,
    tornReason,
  };
}
