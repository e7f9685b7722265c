// A directory lock so two processes (or two Wal objects in one process) never write the
// same WAL: an exclusively created LOCK file holding the owner's pid and a newline. A lock
// left by a process that no longer runs (kill -9) is taken over, and so is one whose content
// is not a whole pid line: the file is never synced, so a power cut may tear it ("1" would
// name init, always running).

import { join, resolve } from 'node:path';
import { StorageError, StorageErrorCode } from './errors.ts';
import { isErrno, writeAll, type StorageFs } from './fs.ts';

export const LOCK_FILE = 'LOCK';
/** Directories locked by this process, per file system (each simulated node mounts its own). */
const heldHere = new WeakMap<StorageFs, Set<string>>();
const PID_LINE = /^([1-9][0-9]{0,15})\n$/;

function held(fs: StorageFs): Set<string> {
  let set = heldHere.get(fs);
  if (set === undefined) heldHere.set(fs, (set = new Set()));
  return set;
}

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
    if (held(fs).has(key)) throw new StorageError(StorageErrorCode.WalLocked, 'WAL directory already open in this process', { file: path });
    // Claimed before the first await: two overlapping acquires in this process must not both
    // pass the check above (the loser would then take our own pid's LOCK file over).
    held(fs).add(key);
    try {
      return await DirLock.take(fs, key, path);
    } catch (e) {
      held(fs).delete(key);
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
      const line = PID_LINE.exec(await fs.readFile(path, { encoding: 'utf8' }).catch(() => ''));
      const owner = line === null ? 0 : Number(line[1]);
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
    if (!held(this.fs).delete(this.key)) return;
    await this.fs.unlink(this.path).catch(() => {});
  }
}
