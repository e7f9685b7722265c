// Snapshot files: one file per snapshot, `<term:016x>-<index:016x>.snap`, written under a
// temporary name, synced and renamed. A file is
//
//   offset 0   8 bytes  magic "RXSNAP\0\x01"
//   offset 8   u32      CRC-32 of bytes [12, end of file)
//   offset 12  u32      metadata length m
//   offset 16  m bytes  SnapshotMetadata (index, term, ConfState)
//   16 + m     the state machine's data, to the end of the file
//
// Loading trusts only snapshots the WAL vouches for (a marker with the same index and
// term); a vouched-for file that fails its checks is renamed `.broken` and the next one
// is tried. Retention is a separate step, run once the new snapshot's marker is durable,
// and never removes the newest snapshot the WAL vouches for.

import { crc32 } from 'node:zlib';
import { basename, dirname, join } from 'node:path';
import type { Snapshot, SnapshotMetadata } from '../raftpb/types.ts';
import { BinaryReader, BinaryWriter, CodecError, readSnapshotMetadata, writeSnapshotMetadata } from '../raftpb/index.ts';
import { snapshotFileBytesMax, snapshotMetadataBytesMax } from '../limits.ts';
import { asStorageError, StorageError, StorageErrorCode } from './errors.ts';
import {
  dirBytes,
  isErrno,
  nodeFs,
  readFileBounded,
  removeTempFiles,
  syncDir,
  silentLogger,
  writeFileDurably,
  type StorageFileHandle,
  type StorageFs,
  writeAll,
  type StorageLogger,
  mkdirDurably,
} from './fs.ts';
import type { SnapshotMarker } from './segment.ts';

export interface SnapshotterOptions {
  /** Snapshot files kept by retain(); older ones are removed. Default 5. */
  maxSnapshots?: number;
  /** Refuse to load a snapshot file larger than this. Default 1 GiB. */
  maxSnapshotBytes?: number;
  logger?: StorageLogger;
  fs?: StorageFs;
}

const MAGIC = Buffer.from('RXSNAP\0\x01', 'latin1');
const FIXED_BYTES = 16;
const MAX_METADATA_BYTES = snapshotMetadataBytesMax;
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

interface SnapName {
  name: string;
  term: number;
  index: number;
}

const hex16 = (n: number) => n.toString(16).padStart(16, '0');
export const snapshotFileName = (term: number, index: number): string => `${hex16(term)}-${hex16(index)}.snap`;

function parseName(name: string): SnapName | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const term = Number.parseInt(m[1]!, 16);
  const index = Number.parseInt(m[2]!, 16);
  return Number.isSafeInteger(term) && Number.isSafeInteger(index) ? { name, term, index } : null;
}

/**
 * A snapshot file's head (magic, CRC, metadata) and its checksum, computed over the data a
 * chunk at a time as the data is produced: one pass over a large state at once would hold
 * the event loop for its whole length.
 */
export class SnapshotChecksum {
  private readonly head: Uint8Array;
  private crc: number;
  private bytes = 0;

  constructor(readonly metadata: SnapshotMetadata) {
    const w = new BinaryWriter(256);
    w.raw(MAGIC).u32(0).u32(0);
    writeSnapshotMetadata(w, metadata);
    w.patchU32(12, w.length - FIXED_BYTES);
    this.head = w.copy();
    this.crc = crc32(this.head.subarray(12));
  }

  /** The next bytes of the data, in order. */
  add(chunk: Uint8Array): void {
    this.crc = crc32(chunk, this.crc);
    this.bytes += chunk.length;
  }

  /** Bytes of the file's head (magic, CRC, metadata): where the data starts. */
  get headBytes(): number {
    return this.head.length;
  }

  /** The file's head, its CRC covering what was added, which must be exactly `dataBytes`. */
  headFor(dataBytes: number): Uint8Array {
    if (this.bytes !== dataBytes) throw new StorageError(StorageErrorCode.BadArgument, `snapshot checksum over ${this.bytes} bytes, the data has ${dataBytes}`);
    const head = this.head.slice();
    new DataView(head.buffer).setUint32(8, this.crc, true);
    return head;
  }
}

/**
 * A snapshot file being written as its data is produced, so that a large state is never
 * in memory at once: under a temporary name, the head's place reserved; commit() writes the
 * head with the CRC, syncs, renames and syncs the directory, as save() does for a whole one.
 */
export class SnapshotFileWriter {
  private position: number;
  private readonly checksum: SnapshotChecksum;
  private done = false;

  constructor(
    private readonly fs: StorageFs,
    private readonly fh: StorageFileHandle,
    private readonly tmp: string,
    private readonly path: string,
    private readonly logger: StorageLogger,
    readonly metadata: SnapshotMetadata,
  ) {
    this.checksum = new SnapshotChecksum(metadata);
    this.position = this.checksum.headBytes;
  }

  /** Bytes of data written so far. */
  get dataBytes(): number {
    return this.position - this.checksum.headBytes;
  }

  /** Append the next bytes of the data (the chunk may be reused once this resolves). */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new StorageError(StorageErrorCode.BadArgument, 'snapshot file: written after commit or abort');
    await writeAll(this.fh, chunk, this.position);
    this.checksum.add(chunk);
    this.position += chunk.length;
  }

  /** The data is complete: make the file durable under its final name. */
  async commit(): Promise<void> {
    if (this.done) throw new StorageError(StorageErrorCode.BadArgument, 'snapshot file: committed twice or after abort');
    this.done = true;
    const bytes = this.dataBytes;
    try {
      await writeAll(this.fh, this.checksum.headFor(bytes), 0);
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
    await this.fs.rename(this.tmp, this.path);
    await syncDir(this.fs, dirname(this.path));
    const { index, term } = this.metadata;
    this.logger.info({ file: basename(this.path), index, term, bytes }, 'saved snapshot');
  }

  /** Give up: close and remove the temporary file (a leftover is removed at the next load anyway). */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh.close().catch(() => {});
    await this.fs.unlink(this.tmp).catch(() => {});
  }
}

/** Encode a snapshot file: the fixed part and metadata as one chunk, the data (not copied) as another. */
function encodeFile(s: Snapshot, checksum: SnapshotChecksum | null): [Uint8Array, Uint8Array] {
  let sum = checksum;
  if (sum === null) {
    sum = new SnapshotChecksum(s.metadata);
    sum.add(s.data);
  } else if (sum.metadata !== s.metadata) {
    throw new StorageError(StorageErrorCode.BadArgument, `snapshot checksum for index ${sum.metadata.index}, the snapshot is at ${s.metadata.index}`);
  }
  return [sum.headFor(s.data.length), s.data];
}

/** Decode and verify a snapshot file; returns the reason it is unusable instead of throwing. */
function decodeFile(buf: Uint8Array, expect: SnapName): Snapshot | string {
  if (buf.length < FIXED_BYTES) return `file of ${buf.length} bytes is too short`;
  if (!MAGIC.equals(buf.subarray(0, 8))) return 'bad magic';
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (crc32(buf.subarray(12)) !== dv.getUint32(8, true)) return 'checksum mismatch';
  const metaLen = dv.getUint32(12, true);
  if (metaLen > MAX_METADATA_BYTES || FIXED_BYTES + metaLen > buf.length) return `metadata length ${metaLen} out of bounds`;
  try {
    const r = new BinaryReader(buf, FIXED_BYTES, FIXED_BYTES + metaLen);
    const metadata = readSnapshotMetadata(r);
    r.expectEnd('snapshot metadata');
    if (metadata.index !== expect.index || metadata.term !== expect.term) {
      return `metadata says index ${metadata.index} term ${metadata.term}, the file name index ${expect.index} term ${expect.term}`;
    }
    return { metadata, data: buf.subarray(FIXED_BYTES + metaLen) };
  } catch (e) {
    if (e instanceof CodecError) return e.message;
    throw e;
  }
}

export class Snapshotter {
  private readonly maxSnapshots: number;
  private readonly maxSnapshotBytes: number;
  private readonly logger: StorageLogger;
  private readonly fs: StorageFs;
  private dirReady = false;

  constructor(
    readonly dir: string,
    opts: SnapshotterOptions = {},
  ) {
    this.maxSnapshots = opts.maxSnapshots ?? 5;
    this.maxSnapshotBytes = opts.maxSnapshotBytes ?? snapshotFileBytesMax;
    if (!Number.isSafeInteger(this.maxSnapshots) || this.maxSnapshots < 1) {
      throw new StorageError(StorageErrorCode.BadArgument, `maxSnapshots must be a positive integer, got ${this.maxSnapshots}`);
    }
    this.logger = opts.logger ?? silentLogger;
    this.fs = opts.fs ?? nodeFs;
  }

  /**
   * Write the snapshot durably. Removes nothing: until the WAL holds its marker, the
   * snapshot a restart would use is an older one (see retain()). `checksum`: the data's,
   * computed as it was produced (else computed here, in one pass).
   */
  async save(s: Snapshot, checksum: SnapshotChecksum | null = null): Promise<void> {
    if (!this.dirReady) {
      await mkdirDurably(this.fs, this.dir);
      this.dirReady = true;
    }
    const name = snapshotFileName(s.metadata.term, s.metadata.index);
    await writeFileDurably(this.fs, join(this.dir, name), encodeFile(s, checksum));
    this.logger.info({ file: name, index: s.metadata.index, term: s.metadata.term, bytes: s.data.length }, 'saved snapshot');
  }

  /** Start a snapshot file to be written a chunk at a time (SnapshotFileWriter). */
  async create(metadata: SnapshotMetadata): Promise<SnapshotFileWriter> {
    if (!this.dirReady) {
      await mkdirDurably(this.fs, this.dir);
      this.dirReady = true;
    }
    const path = join(this.dir, snapshotFileName(metadata.term, metadata.index));
    const tmp = `${path}.tmp`;
    return new SnapshotFileWriter(this.fs, await this.fs.open(tmp, 'w'), tmp, path, this.logger, metadata);
  }

  /**
   * The snapshot in the file for `at` (index and term), checked as at start-up; for sending
   * a snapshot whose data is not kept in memory. Throws ERR_SNAP_CORRUPT if the file fails
   * its checks (it is left in place: start-up decides what to do with it).
   */
  async load(at: { index: number; term: number }): Promise<Snapshot> {
    const name = snapshotFileName(at.term, at.index);
    const path = join(this.dir, name);
    let snap: Snapshot | string;
    try {
      snap = await this.readChecked({ name, index: at.index, term: at.term });
    } catch (e) {
      throw asStorageError(e, 'reading a snapshot failed', path);
    }
    if (typeof snap === 'string') throw new StorageError(StorageErrorCode.SnapCorrupt, `damaged snapshot (${snap})`, { file: path });
    return snap;
  }

  /** Read a snapshot file and check it: the snapshot, or why it is unusable (I/O errors throw). */
  private async readChecked(cand: SnapName): Promise<Snapshot | string> {
    const buf = await readFileBounded(this.fs, join(this.dir, cand.name), this.maxSnapshotBytes, () => tooLarge).catch((e: unknown) => {
      if (e === tooLarge) return `larger than the limit ${this.maxSnapshotBytes} bytes`;
      throw e;
    });
    return typeof buf === 'string' ? buf : decodeFile(buf, cand);
  }

  /** Bytes of the snapshot directory on disk, for status. */
  diskBytes(): Promise<number> {
    return dirBytes(this.fs, this.dir);
  }

  /**
   * The newest snapshot that a WAL marker vouches for and that passes its checks, or null.
   * Damaged candidates are renamed `<name>.broken` and skipped; unvouched files are ignored.
   */
  async loadNewestAvailable(markers: readonly SnapshotMarker[]): Promise<Snapshot | null> {
    try {
      return await this.loadNewest(markers);
    } catch (e) {
      throw asStorageError(e, 'loading a snapshot failed', this.dir);
    }
  }

  private async loadNewest(markers: readonly SnapshotMarker[]): Promise<Snapshot | null> {
    const vouched = new Set(markers.map((m) => `${m.term}/${m.index}`));
    await removeTempFiles(this.fs, this.dir, this.logger).catch((e: unknown) => {
      if (!isErrno(e, 'ENOENT')) throw e;
    });
    for (const cand of await this.list()) {
      if (!vouched.has(`${cand.term}/${cand.index}`)) {
        this.logger.info({ file: cand.name }, 'snapshot not vouched for by the WAL: ignored');
        continue;
      }
      const snap = await this.readChecked(cand);
      if (typeof snap !== 'string') return snap;
      await this.setAside(cand.name, snap);
    }
    return null;
  }

  /** Snapshot files, newest first. */
  private async list(): Promise<SnapName[]> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
    const snaps = names.map(parseName).filter((s): s is SnapName => s !== null);
    return snaps.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  private async setAside(name: string, reason: string): Promise<void> {
    const from = join(this.dir, name);
    try {
      await this.fs.rename(from, `${from}.broken`);
      await syncDir(this.fs, this.dir);
    } catch (e) {
      throw new StorageError(StorageErrorCode.SnapCorrupt, `damaged snapshot (${reason}) could not be set aside`, { file: from, cause: e });
    }
    this.logger.warn({ file: from, reason }, `damaged snapshot set aside as ${name}.broken`);
  }

  /**
   * Remove the files beyond the newest maxSnapshots, but never the one `newestVouched`
   * names (Wal.newestVouchedMarker()): a restart can only use a snapshot the WAL vouches
   * for, and the newer files may not be vouched for yet.
   */
  async retain(newestVouched: SnapshotMarker | null): Promise<void> {
    const snaps = await this.list();
    const isKept = (s: SnapName, rank: number) =>
      rank < this.maxSnapshots || (newestVouched !== null && s.index === newestVouched.index && s.term === newestVouched.term);
    const removed = snaps.filter((s, rank) => !isKept(s, rank));
    for (const old of removed) {
      try {
        await this.fs.unlink(join(this.dir, old.name));
        this.logger.info({ file: old.name }, 'removed old snapshot');
      } catch (e) {
        this.logger.warn({ err: e, file: old.name }, 'could not remove old snapshot');
      }
    }
    if (removed.length > 0) await syncDir(this.fs, this.dir);
  }
}

const tooLarge = new Error('snapshot too large');
