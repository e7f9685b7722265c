// A directory lock so two processes (or two Wal objects in one process) never write the
// same WAL: an exclusively created LOCK file holding the owner's pid. A lock left by a
// process that no longer runs (kill -9) is taken over.

import { join, resolve } from 'node:path';
import { StorageError, StorageErrorCode } from './errors.ts';
import { isErrno, writeAll, type StorageFs } from './fs.ts';

export const LOCK_FILE = 'LOCK';
const heldHere = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrno(e, 'EPERM'); // exists, owned by someone else
  }
}

export class DirLock {
  private constructor(
    private readonly fs: StorageFs,
    private readonly key: string,
    private readonly path: string,
  ) {}

  static async acquire(fs: StorageFs, dir: string): Promise<DirLock> {
    const key = resolve(dir);
    const path = join(dir, LOCK_FILE);
    if (heldHere.has(key)) throw new StorageError(StorageErrorCode.WalLocked, 'WAL directory already open in this process', { file: path });
    // Claimed before the first await: two overlapping acquires in this process must not both
    // pass the check above (the loser would then take our own pid's LOCK file over).
    heldHere.add(key);
    try {
      return await DirLock.take(fs, key, path);
    } catch (e) {
      heldHere.delete(key);
      throw e;
    }
  }

  private static async take(fs: StorageFs, key: string, path: string): Promise<DirLock> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await fs.open(path, 'wx');
        try {
          await writeAll(fh, Buffer.from(`${process.pid}\n`), 0);
        } finally {
          await fh.close();
        }
        return new DirLock(fs, key, path);
      } catch (e) {
        if (!isErrno(e, 'EEXIST')) throw e;
      }
      const owner = Number.parseInt((await fs.readFile(path, { encoding: 'utf8' }).catch(() => '')).trim(), 10);
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
        throw new StorageError(StorageErrorCode.WalLocked, `WAL directory locked by running process ${owner}`, { file: path });
      }
      await fs.unlink(path).catch((e: unknown) => {
        if (!isErrno(e, 'ENOENT')) throw e;
      });
    }
    throw new StorageError(StorageErrorCode.WalLocked, 'could not take the WAL directory lock', { file: path });
  }

  async release(): Promise<void> {
    if (!heldHere.delete(this.key)) return;
    await this.fs.unlink(this.path).catch(() => {});
  }
}
