// The file-system seam: the few fs/promises calls storage makes, behind an interface so
// tests can inject failures (a failing fsync, a short write), plus durable-write helpers.

import * as fsp from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

export interface StorageFileHandle {
  /**
   * True only on a handle opened with `dataSync` where the platform honours it: a write
   * that completed is durable. Anything else (a wrapper that does not forward it) reads as
   * false, and storage then follows its writes with datasync() as usual.
   */
  readonly dataSync?: boolean;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /**
   * Synchronous data writes (O_DSYNC): each write returns once its bytes, and what is needed
   * to read them back (the file size), are on stable storage, as if followed by an
   * fdatasync of its range. One call to the thread pool where write + fdatasync took two.
   * Only with flags 'r+' and 'w+'.
   */
  dataSync?: boolean;
}

export interface StorageFs {
  open(path: string, flags: string, options?: OpenOptions): Promise<StorageFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string, opts: { recursive: true }): Promise<unknown>;
  readFile(path: string, opts: { encoding: 'utf8' }): Promise<string>;
}

/** The open(2) flags for node's 'r+' and 'w+' with O_DSYNC added. */
function dataSyncFlags(flags: string): number {
  const { O_RDWR, O_CREAT, O_TRUNC, O_DSYNC } = fsp.constants;
  if (flags === 'r+') return O_RDWR | O_DSYNC;
  if (flags === 'w+') return O_RDWR | O_CREAT | O_TRUNC | O_DSYNC;
  throw new Error(`synchronous data writes need flags 'r+' or 'w+', not '${flags}'`);
}

export const nodeFs: StorageFs = {
  async open(path, flags, options) {
    // O_DSYNC is not defined everywhere (Windows): there the handle is a plain one.
    if (options?.dataSync !== true || fsp.constants.O_DSYNC === undefined) return fsp.open(path, flags);
    const fh = await fsp.open(path, dataSyncFlags(flags), 0o666);
    return Object.assign(fh, { dataSync: true });
  },
  rename: fsp.rename,
  unlink: fsp.unlink,
  readdir: (path) => fsp.readdir(path),
  mkdir: fsp.mkdir,
  readFile: fsp.readFile,
};

/** Pino-compatible subset; storage logs repairs and set-aside files. */
export interface StorageLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = () => {};
export const silentLogger: StorageLogger = { info: noop, warn: noop, error: noop };

/**
 * Total bytes of the files in `dir`, by opening each through `fs` and asking its size (the
 * seam has no stat of a path): for status, never on a hot path. A file that goes away
 * meanwhile (a purge) counts 0; a missing directory is 0 bytes.
 */
export async function dirBytes(fs: StorageFs, dir: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return 0;
    throw e;
  }
  let total = 0;
  for (const name of names) {
    try {
      const fh = await fs.open(join(dir, name), 'r');
      try {
        total += (await fh.stat()).size;
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (!isErrno(e, 'ENOENT') && !isErrno(e, 'EISDIR')) throw e;
    }
  }
  return total;
}

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

export async function writeAll(fh: StorageFileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`short write: 0 bytes at ${position + done}`);
    done += bytesWritten;
  }
}

export async function readAll(fh: StorageFileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead <= 0) throw new Error(`file shrank while reading: EOF at ${position + done}`);
    done += bytesRead;
  }
}

/** Make a directory's entries (creations, renames, unlinks) durable. */
export async function syncDir(fs: StorageFs, dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Remove a file and sync its directory, so the removal survives a power cut. */
export async function unlinkDurably(fs: StorageFs, dir: string, path: string): Promise<void> {
  await fs.unlink(path);
  await syncDir(fs, dir);
}

/**
 * Create `dir` and any missing parents so that a crash cannot lose them: each new level's
 * entry is made durable by syncing the directory it was created in.
 */
export async function mkdirDurably(fs: StorageFs, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (await exists(fs, d)) break;
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    await fs.mkdir(d, { recursive: true });
    await syncDir(fs, dirname(d));
  }
  // Levels that existed may have been made by a plain mkdir (RaftNode.open makes the snapshot
  // dir so), or by a process killed before its fsync (the page cache kept them): sync their
  // entries too, top down, or a power cut may take them back.
  const levels: string[] = [];
  for (let d = resolve(dir); dirname(d) !== d; d = dirname(d)) levels.unshift(d);
  for (const d of levels) if (!missing.includes(d)) await syncDir(fs, dirname(d));
}

async function exists(fs: StorageFs, dir: string): Promise<boolean> {
  try {
    await fs.readdir(dir);
    return true;
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  }
}

/** Write a whole file durably: temporary name, fsync, rename, fsync the directory. */
export async function writeFileDurably(fs: StorageFs, path: string, chunks: Uint8Array[]): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    let pos = 0;
    for (const c of chunks) {
      await writeAll(fh, c, pos);
      pos += c.length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, path);
  await syncDir(fs, dirname(path));
}

/** Read a whole file whose size must not exceed maxBytes (checked before allocating). */
export async function readFileBounded(
  fs: StorageFs,
  path: string,
  maxBytes: number,
  tooLarge: (size: number) => Error,
): Promise<Uint8Array> {
  const fh = await fs.open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) throw tooLarge(size);
    const buf = new Uint8Array(size);
    await readAll(fh, buf, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Remove `*.tmp` leftovers of a crash in the middle of a durable write. */
export async function removeTempFiles(fs: StorageFs, dir: string, logger: StorageLogger): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    if (!name.endsWith('.tmp')) continue;
    await fs.unlink(`${dir}/${name}`);
    logger.info({ file: name }, 'removed leftover temporary file');
  }
}

