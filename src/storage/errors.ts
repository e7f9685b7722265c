// The one table of storage error codes. Every failure to read back or write durable
// state surfaces as a StorageError naming the code, and where known the file and offset.

export const StorageErrorCode = {
  /** No WAL segment in the directory. */
  WalNotFound: 'ERR_WAL_NOT_FOUND',
  /** Wal.create on a directory that already holds a WAL. */
  WalExists: 'ERR_WAL_EXISTS',
  /** Another process (or another Wal in this process) holds the directory. */
  WalLocked: 'ERR_WAL_LOCKED',
  /** Damage that cannot be a torn tail: checksum mismatch, broken chain, bad record. */
  WalCorrupt: 'ERR_WAL_CORRUPT',
  /** A segment missing from the middle of the sequence. */
  WalMissingSegment: 'ERR_WAL_MISSING_SEGMENT',
  /** A segment file larger than any the writer produces. */
  WalSegmentTooLarge: 'ERR_WAL_SEGMENT_TOO_LARGE',
  /** Entries after the snapshot are not contiguous: the WAL cannot rebuild the log from it. */
  WalGap: 'ERR_WAL_GAP',
  /** Wal.open at a snapshot the WAL holds no marker for. */
  WalSnapshotNotFound: 'ERR_WAL_SNAPSHOT_NOT_FOUND',
  /** A record the writer refuses (too large); nothing was written. */
  WalRecordTooLarge: 'ERR_WAL_RECORD_TOO_LARGE',
  /** A write or fsync failed earlier: the WAL accepts nothing more. */
  WalFailed: 'ERR_WAL_FAILED',
  WalClosed: 'ERR_WAL_CLOSED',
  /** The file system failed while reading back (permissions, EIO, a file vanishing). */
  Io: 'ERR_STORAGE_IO',
  /** Bad arguments (node id, cluster id, options). */
  BadArgument: 'ERR_STORAGE_BAD_ARGUMENT',
  /** A damaged snapshot file that could not be renamed out of the way. */
  SnapCorrupt: 'ERR_SNAP_CORRUPT',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;

  constructor(code: StorageErrorCode, message: string, where: { file?: string; offset?: number; cause?: unknown } = {}) {
    const at = where.file === undefined ? '' : ` [${where.file}${where.offset === undefined ? '' : ` at offset ${where.offset}`}]`;
    super(`${message}${at}`, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'StorageError';
    this.code = code;
    this.file = where.file;
    this.offset = where.offset;
  }
}

export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}

/** Wrap a raw file-system error so callers see one error type; StorageErrors pass through. */
export function asStorageError(e: unknown, what: string, file?: string): StorageError {
  if (e instanceof StorageError) return e;
  const path = (e as { path?: unknown })?.path;
  return new StorageError(StorageErrorCode.Io, `${what}: ${(e as Error)?.message ?? String(e)}`, {
    file: typeof path === 'string' ? path : file,
    cause: e,
  });
}
