// Segment files: names (`<seq:016x>-<firstIndex:016x>.wal`, so order and first index read
// at a glance), listing, and the payloads of the Meta and Snapshot-marker records.

import { join } from 'node:path';
import type { HardState } from '../raftpb/types.ts';
import type { Entry } from '../raftpb/types.ts';
import { BinaryReader, BinaryWriter, readEntry, readEntryInPlace, readHardState, writeEntry, writeHardState, type EntryInPlace } from '../raftpb/index.ts';
import { clusterIdBytesMax, walBatchOverheadBytesMax } from '../limits.ts';
import { StorageError, StorageErrorCode } from './errors.ts';
import { isErrno, type StorageFs } from './fs.ts';

export interface WalMeta {
  nodeId: number;
  clusterId: string;
}

export interface SnapshotMarker {
  index: number;
  term: number;
}

export interface SegmentName {
  name: string;
  seq: number;
  firstIndex: number;
}

export const META_VERSION = 1;
export const CLUSTER_ID_MAX_BYTES = clusterIdBytesMax;
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

const hex16 = (n: number) => n.toString(16).padStart(16, '0');

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function parseSegmentName(name: string): SegmentName | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const seq = Number.parseInt(m[1]!, 16);
  const firstIndex = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return null;
  return { name, seq, firstIndex };
}

/** The segments in dir ordered by sequence number; [] if the directory does not exist. */
export async function listSegments(fs: StorageFs, dir: string): Promise<SegmentName[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const segs = names.map(parseSegmentName).filter((s): s is SegmentName => s !== null);
  segs.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < segs.length; i++) {
    const prev = segs[i - 1]!;
    const cur = segs[i]!;
    if (cur.seq === prev.seq) {
      throw new StorageError(StorageErrorCode.WalCorrupt, `two segments with sequence ${cur.seq}`, { file: join(dir, cur.name) });
    }
  }
  return segs;
}

/**
 * Segments in sequence order split at the last hole in the sequence: `run` is the contiguous
 * run after it (all of them when there is none), `before` what lies before it. Purging removes
 * the oldest segment first, one directory sync at a time; but when a sync fails, the removal
 * it should have made durable may come undone at a power cut while later ones stay done, so
 * an old segment can reappear in front of a hole. Whether `before` may be ignored is the
 * reader's decision (it holds nothing a restart needs when `run` starts early enough).
 */
export function splitAtLastHole(dir: string, segs: SegmentName[]): { run: SegmentName[]; before: SegmentName[]; hole: StorageError | null } {
  for (let i = segs.length - 1; i > 0; i--) {
    const prev = segs[i - 1]!;
    const cur = segs[i]!;
    if (cur.seq === prev.seq + 1) continue;
    const hole = new StorageError(
      StorageErrorCode.WalMissingSegment,
      `segment sequence jumps from ${prev.seq} to ${cur.seq}: ${cur.seq - prev.seq - 1} segment(s) missing before this one`,
      { file: join(dir, cur.name) },
    );
    return { run: segs.slice(i), before: segs.slice(0, i), hole };
  }
  return { run: segs, before: [], hole: null };
}

export function validateMeta(meta: WalMeta): void {
  if (!Number.isSafeInteger(meta.nodeId) || meta.nodeId <= 0) {
    throw new StorageError(StorageErrorCode.BadArgument, `node id must be a positive integer, got ${meta.nodeId}`);
  }
  if (Buffer.byteLength(meta.clusterId, 'utf8') > CLUSTER_ID_MAX_BYTES) {
    throw new StorageError(StorageErrorCode.BadArgument, `cluster id longer than ${CLUSTER_ID_MAX_BYTES} bytes`);
  }
}

/** What the head record of a segment says. */
export interface SegmentHead {
  seq: number;
  firstIndex: number;
  meta: WalMeta;
  hardState: HardState | null;
  marker: SnapshotMarker | null;
}

const HEAD_HAS_HARDSTATE = 1;
const HEAD_HAS_MARKER = 2;

export function writeHead(w: BinaryWriter, h: SegmentHead): void {
  w.u8(META_VERSION).u64(h.seq).u64(h.firstIndex).varint(h.meta.nodeId);
  w.bytes(Buffer.from(h.meta.clusterId, 'utf8'));
  w.u8((h.hardState ? HEAD_HAS_HARDSTATE : 0) | (h.marker ? HEAD_HAS_MARKER : 0));
  if (h.hardState) writeHardState(w, h.hardState);
  if (h.marker) writeMarker(w, h.marker);
}

/** Throws CodecError on a malformed payload. */
export function readHead(payload: Uint8Array): SegmentHead {
  const r = new BinaryReader(payload);
  const version = r.u8('meta version');
  if (version !== META_VERSION) r.fail(`unsupported segment version ${version}`);
  const seq = r.u64('segment seq');
  const firstIndex = r.u64('segment first index');
  const nodeId = r.varint('node id');
  const clusterId = Buffer.from(r.bytes(CLUSTER_ID_MAX_BYTES, 'cluster id')).toString('utf8');
  const flags = r.u8('meta flags');
  if (flags & ~(HEAD_HAS_HARDSTATE | HEAD_HAS_MARKER)) r.fail(`unknown meta flags ${flags}`);
  const hardState = flags & HEAD_HAS_HARDSTATE ? readHardState(r) : null;
  const marker = flags & HEAD_HAS_MARKER ? readMarker(r) : null;
  r.expectEnd('segment head');
  return { seq, firstIndex, meta: { nodeId, clusterId }, hardState, marker };
}

export function writeMarker(w: BinaryWriter, m: SnapshotMarker): void {
  w.varint(m.index).varint(m.term);
}

export function readMarker(r: BinaryReader): SnapshotMarker {
  const index = r.varint('snapshot marker index');
  const term = r.varint('snapshot marker term');
  return { index, term };
}

// ---- Batch records: [u8 flags][HardState if flagged][varint count][entries] ----

const BATCH_HAS_HARDSTATE = 1;
/** Flags, a HardState of three varints and the entry count, at their largest. */
export const BATCH_OVERHEAD_MAX_BYTES = walBatchOverheadBytesMax;
const ENTRY_MIN_BYTES = 4;

export function writeBatch(w: BinaryWriter, hs: HardState | null, entries: readonly Entry[], from: number, to: number): void {
  w.u8(hs ? BATCH_HAS_HARDSTATE : 0);
  if (hs) writeHardState(w, hs);
  w.varint(to - from);
  for (let i = from; i < to; i++) writeEntry(w, entries[i]!);
}

/** Throws CodecError on a malformed payload. Entry data are views of the payload. */
export function readBatch(payload: Uint8Array, maxEntryBytes: number): { hardState: HardState | null; entries: Entry[] } {
  const r = new BinaryReader(payload);
  const { hardState, count } = readBatchHead(r);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) entries.push(readEntry(r, maxEntryBytes));
  r.expectEnd('batch record');
  return { hardState, entries };
}

/**
 * readBatch's checks, in its order, without making the entries: `visit` gets each entry read
 * in place (one object, overwritten for the next; its data's offset is in `payload`).
 * Returns the batch's HardState.
 */
export function scanBatch(payload: Uint8Array, maxEntryBytes: number, visit: (entry: EntryInPlace) => void): HardState | null {
  const r = new BinaryReader(payload);
  const { hardState, count } = readBatchHead(r);
  const entry: EntryInPlace = { term: 0, index: 0, type: 0, dataStart: 0, dataBytes: 0 };
  for (let i = 0; i < count; i++) {
    readEntryInPlace(r, entry, maxEntryBytes);
    visit(entry);
  }
  r.expectEnd('batch record');
  return hardState;
}

function readBatchHead(r: BinaryReader): { hardState: HardState | null; count: number } {
  const flags = r.u8('batch flags');
  if (flags & ~BATCH_HAS_HARDSTATE) r.fail(`unknown batch flags ${flags}`);
  const hardState = flags & BATCH_HAS_HARDSTATE ? readHardState(r) : null;
  return { hardState, count: r.count(Number.MAX_SAFE_INTEGER, ENTRY_MIN_BYTES, 'batch entries') };
}
