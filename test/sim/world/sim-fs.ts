// A simulated disk per node (SimDisk) and the file system a process sees on it (SimFs,
// implementing src/storage/fs.ts StorageFs), on the scheduler's virtual time.
//
// FAULT MODEL (what a power cut, a full disk and a failing disk do):
// - A file's bytes are its durable bytes plus the changes (writes, truncations) made since
//   its last fsync. datasync()/sync() on a handle make the changes that completed before
//   the call durable when it completes (datasync and sync are the same here). Reads always see every completed change.
// - A write on a handle opened with dataSync (O_DSYNC) is a write followed by an fsync in
//   one call: it completes as a write (from then on a crash keeps, tears or loses it like
//   any unsynced change), then as an fsync of the file's changes up to it, and only then
//   resolves. (Linux syncs the range written and the metadata, so earlier unsynced writes
//   elsewhere in the file may stay in the page cache; storage never mixes unsynced and
//   synchronous writes on one file.) Either part can fail: a failed sync leaves what it
//   covered readable but doomed, and the write rejects with EIO.
// - Creating, renaming and unlinking a file, and mkdir, are changes to a directory; they are
//   durable only once that directory is fsynced (open it, sync(): syncDir). A rename is one
//   change (atomic) within a directory; across directories it is an unlink in one and a link
//   in the other, each durable on its own.
// - crash() is a power cut. For every file, its unsynced changes survive as a prefix in
//   issue order (crashOrder 'prefix': the first k kept, the next one torn with
//   tornProbability, the rest lost) or each independently (crashOrder 'independent':
//   kept, torn or lost, so a later write may survive an earlier one). A torn write keeps
//   a prefix of its bytes, cut at any byte; with zeroFillProbability the rest of its range
//   reads as zeros (the file grew, its data never reached the platter). A truncation is
//   kept or lost whole. Every unsynced directory change is kept or lost on its own
//   (dirChangeKeepProbability). A file or directory no durable name reaches is gone.
// - Every process using the disk dies at a crash (and at killProcess(), which keeps the
//   page cache: nothing is lost, only the process stops). A dead process's operations,
//   pending or new, never settle (deadProcess 'freeze': its code never runs again) or
//   reject with EIO (deadProcess 'fail': lets a test release what the dead code held).
// - ENOSPC: the sum of the sizes of the files that have a name or an open handle may not
//   exceed capacityBytes; a write that does not fit writes what fits (a short write) and
//   the next one fails. Unlink or truncate frees space; setCapacity() changes it.
// - EIO: a write fails with writeFailProbability (nothing written), an fsync with
//   syncFailProbability; failNext(kind) fails the next operation of a kind on demand.
//   After a failed fsync the changes it covered stay readable but are doomed, as on Linux
//   (the kernel marks the pages clean): a later fsync that succeeds does not make them
//   durable, and a crash always loses them.
// - Short writes (shortWriteProbability): a write returns fewer bytes than asked.
// - Errors carry node's `code`, `errno` and `syscall`: ENOENT, EEXIST, ENOTDIR, EISDIR,
//   ENOTEMPTY, EBADF, EINVAL, ENOSPC, EIO.
// - Latency: every operation completes after latencyMs (an fsync after syncLatencyMs), drawn
//   at random, on the scheduler, so concurrent operations interleave and may complete out
//   of order; an operation takes effect when it completes. A write copies its buffer when
//   it completes, so a caller that reuses a buffer too early is caught.
// - readdir lists names in a seeded random order, as a real directory has no order.
// Not modelled: permissions, links, O_APPEND on concurrent writers, renaming a directory
// into itself, bit rot (the WAL tests corrupt files directly).

import { posix } from 'node:path';
import type { OpenOptions, StorageFileHandle, StorageFs } from '../../../src/storage/fs.ts';
import type { Prng } from '../prng.ts';
import type { Scheduler } from './scheduler.ts';

export interface LatencyRange {
  minMs: number;
  maxMs: number;
}

export interface SimDiskOptions {
  /** Default: unbounded. */
  capacityBytes?: number;
  /** Every operation but fsync. Default 0.05..0.5 ms. */
  latencyMs?: LatencyRange;
  /** datasync and sync. Default 1..5 ms. */
  syncLatencyMs?: LatencyRange;
  writeFailProbability?: number;
  syncFailProbability?: number;
  shortWriteProbability?: number;
  crashOrder?: 'prefix' | 'independent';
  /** For the first lost write of a prefix (or any write, 'independent'): torn instead. Default 0.5. */
  tornProbability?: number;
  /** For a torn write: the rest of its range reads as zeros. Default 0.25. */
  zeroFillProbability?: number;
  /** Default 0.5. */
  dirChangeKeepProbability?: number;
  /** Honour OpenOptions.dataSync (O_DSYNC). false: a platform without it, where such a handle is a plain one. Default true. */
  dataSync?: boolean;
  deadProcess?: 'freeze' | 'fail';
  /** Receives one line per operation and per crash decision. */
  trace?: (line: string) => void;
}

export type SimFsOp = 'open' | 'read' | 'write' | 'sync' | 'truncate' | 'stat' | 'close' | 'rename' | 'unlink' | 'readdir' | 'mkdir' | 'readFile';

/** What a crash did, for traces and tests. */
export interface CrashReport {
  changesKept: number;
  changesTorn: number;
  changesLost: number;
  dirChangesKept: number;
  dirChangesLost: number;
}

type DataChange =
  | { seq: number; doomed: boolean; kind: 'write'; position: number; bytes: Uint8Array }
  | { seq: number; doomed: boolean; kind: 'truncate'; length: number };

type DirChange =
  | { seq: number; doomed: boolean; kind: 'link'; name: string; inode: number }
  | { seq: number; doomed: boolean; kind: 'unlink'; name: string }
  | { seq: number; doomed: boolean; kind: 'rename'; from: string; to: string; inode: number };

interface FileInode {
  kind: 'file';
  id: number;
  current: ByteFile;
  durable: ByteFile;
  pending: DataChange[];
  links: number;
  handles: number;
}

interface DirInode {
  kind: 'dir';
  id: number;
  entries: Map<string, number>;
  durable: Map<string, number>;
  pending: DirChange[];
  links: number;
  handles: number;
}

type Inode = FileInode | DirInode;

const ERRNO: Record<string, number> = { ENOENT: -2, EIO: -5, EBADF: -9, EEXIST: -17, ENOTDIR: -20, EISDIR: -21, EINVAL: -22, ENOSPC: -28, ENOTEMPTY: -39 };

/** An error shaped like node's fs errors: the storage layer looks at `code`. */
export function fsError(code: string, syscall: string, path: string, detail = ''): Error {
  return Object.assign(new Error(`${code}: ${detail || 'simulated failure'}, ${syscall} '${path}'`), { code, errno: ERRNO[code] ?? -1, syscall, path });
}

/** A file's bytes: a buffer with spare room, so appends are not quadratic. */
class ByteFile {
  private bytes = new Uint8Array(0);
  size = 0;

  write(position: number, data: Uint8Array): void {
    const end = position + data.length;
    this.reserve(end);
    if (position > this.size) this.bytes.fill(0, this.size, position);
    this.bytes.set(data, position);
    if (end > this.size) this.size = end;
  }

  truncate(length: number): void {
    this.reserve(length);
    if (length > this.size) this.bytes.fill(0, this.size, length);
    this.size = length;
  }

  read(position: number, length: number): Uint8Array {
    return this.bytes.subarray(Math.min(position, this.size), Math.min(position + length, this.size));
  }

  copy(): ByteFile {
    const other = new ByteFile();
    other.write(0, this.read(0, this.size));
    return other;
  }

  apply(change: DataChange): void {
    if (change.kind === 'write') this.write(change.position, change.bytes);
    else this.truncate(change.length);
  }

  private reserve(bytes: number): void {
    if (bytes <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(bytes, this.bytes.length * 2, 256));
    grown.set(this.bytes.subarray(0, this.size));
    this.bytes = grown;
  }
}

const ROOT = 1;

/** One node's disk: survives crashes; processes come and go as SimFs views of it. */
export class SimDisk {
  private readonly inodes = new Map<number, Inode>();
  private nextInode = ROOT + 1;
  private nextChangeSeq = 1;
  private views: SimFs[] = [];
  private readonly failures: { op: SimFsOp; code: string }[] = [];
  capacityBytes: number;
  /** Told of every operation that completed (for faults aimed at a moment, such as a snapshot file removed). */
  onOperation: ((op: SimFsOp, path: string) => void) | null = null;
  readonly opts: Required<Omit<SimDiskOptions, 'capacityBytes' | 'trace'>> & { trace: ((line: string) => void) | undefined };

  constructor(
    readonly scheduler: Scheduler,
    readonly prng: Prng,
    readonly name: string,
    options: SimDiskOptions = {},
  ) {
    this.capacityBytes = options.capacityBytes ?? Infinity;
    this.opts = {
      latencyMs: options.latencyMs ?? { minMs: 0.05, maxMs: 0.5 },
      syncLatencyMs: options.syncLatencyMs ?? { minMs: 1, maxMs: 5 },
      writeFailProbability: options.writeFailProbability ?? 0,
      syncFailProbability: options.syncFailProbability ?? 0,
      shortWriteProbability: options.shortWriteProbability ?? 0,
      crashOrder: options.crashOrder ?? 'prefix',
      tornProbability: options.tornProbability ?? 0.5,
      zeroFillProbability: options.zeroFillProbability ?? 0.25,
      dirChangeKeepProbability: options.dirChangeKeepProbability ?? 0.5,
      dataSync: options.dataSync ?? true,
      deadProcess: options.deadProcess ?? 'freeze',
      trace: options.trace,
    };
    this.inodes.set(ROOT, { kind: 'dir', id: ROOT, entries: new Map(), durable: new Map(), pending: [], links: 1, handles: 0 });
  }

  /** A new process's view of the disk. */
  mount(): SimFs {
    const view = new SimFs(this);
    this.views.push(view);
    return view;
  }

  /** The process dies (kill -9); the page cache survives, so nothing written is lost. */
  killProcess(): void {
    for (const view of this.views) view.die();
    this.views = [];
    for (const inode of this.inodes.values()) inode.handles = 0;
  }

  /** Power cut: every process dies and what was not durable is lost, kept or torn (see the top of the file). */
  crash(): CrashReport {
    this.killProcess();
    const report: CrashReport = { changesKept: 0, changesTorn: 0, changesLost: 0, dirChangesKept: 0, dirChangesLost: 0 };
    for (const inode of this.inodes.values()) {
      if (inode.kind === 'file') this.crashFile(inode, report);
      else this.crashDir(inode, report);
    }
    this.collectUnreachable();
    this.trace(`crash: ${JSON.stringify(report)}`);
    return report;
  }

  /** Fail the next operation of this kind ('sync' covers datasync and sync) with `code`. */
  failNext(op: SimFsOp, code = 'EIO'): void {
    this.failures.push({ op, code });
  }

  /** Forget the failures asked for with failNext that have not happened yet. */
  clearFailures(): void {
    this.failures.length = 0;
  }

  setCapacity(bytes: number): void {
    this.capacityBytes = bytes;
  }

  /** Bytes held by files that have a name or an open handle. */
  usedBytes(): number {
    let used = 0;
    for (const inode of this.inodes.values()) if (inode.kind === 'file' && (inode.links > 0 || inode.handles > 0)) used += inode.current.size;
    return used;
  }

  // ---- inspection, for tests (synchronous, no latency, no faults) ----

  /** A file's current contents, or null when there is no such file. */
  peek(path: string): Uint8Array | null {
    const inode = this.lookup(path);
    return inode?.kind === 'file' ? inode.current.read(0, inode.current.size).slice() : null;
  }

  /** Files the disk holds in memory, named or not (a deleted one until no crash can bring it back). */
  heldFiles(): number {
    let n = 0;
    for (const inode of this.inodes.values()) if (inode.kind === 'file') n++;
    return n;
  }

  /** Names in a directory, sorted, or null when there is no such directory. */
  list(path: string): string[] | null {
    const inode = this.lookup(path);
    return inode?.kind === 'dir' ? [...inode.entries.keys()].sort() : null;
  }

  /** Overwrite a file's bytes durably (as bit rot or an operator would), for tests. */
  poke(path: string, position: number, bytes: Uint8Array): void {
    const inode = this.lookup(path);
    if (inode?.kind !== 'file') throw new Error(`poke: no file ${path}`);
    inode.current.write(position, bytes);
    inode.durable.write(position, bytes);
  }

  /** Remove a file durably (as an operator would), for tests. */
  remove(path: string): void {
    if (this.lookup(path) === null) return;
    const { dir, name } = this.parentOf(path, 'unlink');
    this.changeDir(dir, { seq: this.changeSeq(), doomed: false, kind: 'unlink', name });
    applyDirChange(dir.durable, { seq: 0, doomed: false, kind: 'unlink', name });
    dir.pending.pop();
  }

  // ---- used by SimFs ----

  trace(line: string): void {
    this.opts.trace?.(`${this.scheduler.now.toFixed(3)} disk ${this.name} ${line}`);
  }

  latency(range: LatencyRange): number {
    return range.minMs + this.prng.float() * (range.maxMs - range.minMs);
  }

  /** The code an operation issued now fails with, if it is to fail. */
  drawFailure(op: SimFsOp): string | null {
    const k = this.failures.findIndex((f) => f.op === op);
    if (k >= 0) return this.failures.splice(k, 1)[0]!.code;
    if (op === 'write' && this.prng.chance(this.opts.writeFailProbability)) return 'EIO';
    if (op === 'sync' && this.prng.chance(this.opts.syncFailProbability)) return 'EIO';
    return null;
  }

  changeSeq(): number {
    return this.nextChangeSeq++;
  }

  lookup(path: string): Inode | null {
    let inode: Inode = this.inodes.get(ROOT)!;
    for (const part of splitPath(path)) {
      if (inode.kind !== 'dir') return null;
      const next = inode.entries.get(part);
      if (next === undefined) return null;
      inode = this.inodes.get(next)!;
    }
    return inode;
  }

  /** The directory holding `path` and the last name, or the error node would raise. */
  parentOf(path: string, syscall: string): { dir: DirInode; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw fsError('EISDIR', syscall, path, 'the root');
    let inode: Inode = this.inodes.get(ROOT)!;
    for (const part of parts) {
      if (inode.kind !== 'dir') throw fsError('ENOTDIR', syscall, path, 'not a directory');
      const next = inode.entries.get(part);
      if (next === undefined) throw fsError('ENOENT', syscall, path, 'no such file or directory');
      inode = this.inodes.get(next)!;
    }
    if (inode.kind !== 'dir') throw fsError('ENOTDIR', syscall, path, 'not a directory');
    return { dir: inode, name };
  }

  inode(id: number): Inode {
    return this.inodes.get(id)!;
  }

  newFile(): FileInode {
    const file: FileInode = { kind: 'file', id: this.nextInode++, current: new ByteFile(), durable: new ByteFile(), pending: [], links: 0, handles: 0 };
    this.inodes.set(file.id, file);
    return file;
  }

  newDir(): DirInode {
    const dir: DirInode = { kind: 'dir', id: this.nextInode++, entries: new Map(), durable: new Map(), pending: [], links: 0, handles: 0 };
    this.inodes.set(dir.id, dir);
    return dir;
  }

  /** Record a directory change: applied now to what processes see, durable at the directory's fsync. */
  changeDir(dir: DirInode, change: DirChange): void {
    applyDirChange(dir.entries, change, (id, delta) => (this.inodes.get(id)!.links += delta));
    dir.pending.push(change);
  }

  /** Make the changes issued up to `upTo` durable (or doom them when the fsync failed). */
  syncInode(inode: Inode, upTo: number, failed: boolean): void {
    if (inode.kind === 'file') {
      const covered = inode.pending.filter((c) => c.seq <= upTo);
      inode.pending = inode.pending.filter((c) => c.seq > upTo || (failed && !c.doomed));
      for (const c of covered) {
        if (failed) c.doomed = true;
        else if (!c.doomed) inode.durable.apply(c);
      }
    } else {
      const covered = inode.pending.filter((c) => c.seq <= upTo);
      inode.pending = inode.pending.filter((c) => c.seq > upTo || (failed && !c.doomed));
      for (const c of covered) {
        if (failed) c.doomed = true;
        else if (!c.doomed) applyDirChange(inode.durable, c);
      }
      this.dropForgotten();
    }
  }

  /**
   * Free the files no crash can bring back: no name in any directory's current, durable or
   * pending entries, and no open handle. Without this, every deleted snapshot and WAL segment
   * stayed in memory until the next crash (16 MiB snapshots every few entries: 6 GiB).
   */
  dropForgotten(): void {
    const reached = new Set<number>([ROOT]);
    const stack = [ROOT];
    const reach = (id: number) => {
      if (reached.has(id)) return;
      reached.add(id);
      stack.push(id);
    };
    while (stack.length > 0) {
      const inode = this.inodes.get(stack.pop()!);
      if (inode?.kind !== 'dir') continue;
      for (const id of inode.entries.values()) reach(id);
      for (const id of inode.durable.values()) reach(id);
      for (const c of inode.pending) if (c.kind !== 'unlink') reach(c.inode);
    }
    for (const [id, inode] of this.inodes) if (!reached.has(id) && inode.handles === 0) this.inodes.delete(id);
  }

  private crashFile(file: FileInode, report: CrashReport): void {
    const survivor = file.durable;
    const live = file.pending.filter((c) => !c.doomed);
    report.changesLost += file.pending.length - live.length;
    const keptInOrder = this.opts.crashOrder === 'prefix' ? this.prng.int(live.length + 1) : -1;
    live.forEach((change, k) => {
      const outcome =
        keptInOrder >= 0
          ? k < keptInOrder ? 'kept' : k === keptInOrder && this.prng.chance(this.opts.tornProbability) ? 'torn' : 'lost'
          : this.prng.pick(['kept', 'torn', 'lost'] as const);
      if (outcome === 'lost' || (outcome === 'torn' && change.kind === 'truncate')) return void report.changesLost++;
      if (outcome === 'kept') {
        survivor.apply(change);
        return void report.changesKept++;
      }
      report.changesTorn++;
      if (change.kind === 'write') this.tear(survivor, change);
    });
    file.pending = [];
    file.current = survivor.copy();
  }

  private tear(survivor: ByteFile, change: DataChange & { kind: 'write' }): void {
    const keptBytes = this.prng.int(change.bytes.length + 1);
    const zeroFill = this.prng.chance(this.opts.zeroFillProbability);
    survivor.write(change.position, change.bytes.subarray(0, keptBytes));
    if (zeroFill) survivor.write(change.position + keptBytes, new Uint8Array(change.bytes.length - keptBytes));
  }

  private crashDir(dir: DirInode, report: CrashReport): void {
    for (const change of dir.pending) {
      if (!change.doomed && this.prng.chance(this.opts.dirChangeKeepProbability)) {
        applyDirChange(dir.durable, change);
        report.dirChangesKept++;
      } else report.dirChangesLost++;
    }
    dir.pending = [];
    dir.entries = new Map(dir.durable);
  }

  /** After a crash: drop what no durable name reaches, and recount links. */
  private collectUnreachable(): void {
    const reached = new Set<number>([ROOT]);
    const stack = [ROOT];
    for (const inode of this.inodes.values()) inode.links = 0;
    while (stack.length > 0) {
      const inode = this.inodes.get(stack.pop()!)!;
      if (inode.kind !== 'dir') continue;
      for (const child of inode.entries.values()) {
        this.inodes.get(child)!.links++;
        if (!reached.has(child)) {
          reached.add(child);
          stack.push(child);
        }
      }
    }
    for (const id of [...this.inodes.keys()]) if (!reached.has(id)) this.inodes.delete(id);
  }
}

function applyDirChange(entries: Map<string, number>, change: DirChange, countLink?: (inode: number, delta: number) => void): void {
  const unlink = (name: string) => {
    const old = entries.get(name);
    if (old !== undefined) countLink?.(old, -1);
    entries.delete(name);
  };
  if (change.kind === 'unlink') return unlink(change.name);
  const name = change.kind === 'link' ? change.name : change.to;
  if (change.kind === 'rename') unlink(change.from);
  unlink(name);
  entries.set(name, change.inode);
  countLink?.(change.inode, +1);
}

function splitPath(path: string): string[] {
  return posix.resolve('/', path).split('/').filter((p) => p !== '');
}

interface OpenFlags {
  /** O_DSYNC: each write durable as it completes. */
  dataSync: boolean;
  readable: boolean;
  writable: boolean;
  append: boolean;
  create: boolean;
  exclusive: boolean;
  truncate: boolean;
}

/** node's string flags, as far as storage uses them. */
function parseFlags(flags: string, path: string, dataSync: boolean): OpenFlags {
  const table: Record<string, Omit<OpenFlags, 'exclusive' | 'dataSync'>> = {
    r: { readable: true, writable: false, append: false, create: false, truncate: false },
    'r+': { readable: true, writable: true, append: false, create: false, truncate: false },
    w: { readable: false, writable: true, append: false, create: true, truncate: true },
    'w+': { readable: true, writable: true, append: false, create: true, truncate: true },
    a: { readable: false, writable: true, append: true, create: true, truncate: false },
    'a+': { readable: true, writable: true, append: true, create: true, truncate: false },
  };
  const exclusive = flags.includes('x');
  const base = table[flags.replace('x', '')];
  if (base === undefined || (exclusive && !base.create)) throw fsError('EINVAL', 'open', path, `flags '${flags}' not simulated`);
  if (dataSync && flags !== 'r+' && flags !== 'w+') throw fsError('EINVAL', 'open', path, `dataSync with flags '${flags}'`);
  return { ...base, exclusive, dataSync };
}

/**
 * One process's file system on a SimDisk (StorageFs). Every call completes after a latency
 * on the scheduler; once the process is dead (disk.crash(), disk.killProcess()) nothing it
 * started settles, or everything fails (deadProcess).
 */
export class SimFs implements StorageFs {
  private alive = true;

  constructor(readonly disk: SimDisk) {}

  get isAlive(): boolean {
    return this.alive;
  }

  die(): void {
    this.alive = false;
  }

  /** Run `work` when the operation completes, after its latency; the failure, if any, is drawn now. */
  run<T>(op: SimFsOp, path: string, work: (failure: string | null) => T): Promise<T> {
    const disk = this.disk;
    const failure = this.alive ? disk.drawFailure(op) : null;
    const latency = disk.latency(op === 'sync' ? disk.opts.syncLatencyMs : disk.opts.latencyMs);
    return new Promise<T>((resolve, reject) => {
      disk.scheduler.after(latency, () => {
        if (!this.alive) {
          if (disk.opts.deadProcess === 'fail') reject(fsError('EIO', op, path, 'the process crashed'));
          return;
        }
        try {
          const result = work(failure);
          disk.trace(`${op} ${path}${failure ? ` ${failure}` : ''}`);
          resolve(result);
          disk.onOperation?.(op, path);
        } catch (e) {
          disk.trace(`${op} ${path} ${(e as { code?: string }).code ?? (e as Error).message}`);
          reject(e);
        }
      });
    });
  }

  open(path: string, flags: string, options?: OpenOptions): Promise<StorageFileHandle> {
    return this.run('open', path, (failure) => {
      if (failure) throw fsError(failure, 'open', path);
      const mode = parseFlags(flags, path, options?.dataSync === true && this.disk.opts.dataSync);
      const inode = this.openInode(path, mode);
      inode.handles++;
      return new SimFileHandle(this, inode, mode, path);
    });
  }

  private openInode(path: string, mode: OpenFlags): Inode {
    const disk = this.disk;
    const found = disk.lookup(path);
    if (found === null) {
      const { dir, name } = disk.parentOf(path, 'open');
      if (!mode.create) throw fsError('ENOENT', 'open', path, 'no such file or directory');
      const file = disk.newFile();
      disk.changeDir(dir, { seq: disk.changeSeq(), doomed: false, kind: 'link', name, inode: file.id });
      return file;
    }
    if (mode.create && mode.exclusive) throw fsError('EEXIST', 'open', path, 'file already exists');
    if (found.kind === 'dir') {
      if (mode.writable) throw fsError('EISDIR', 'open', path, 'illegal operation on a directory');
      return found;
    }
    if (mode.truncate && found.current.size > 0) {
      const change: DataChange = { seq: disk.changeSeq(), doomed: false, kind: 'truncate', length: 0 };
      found.current.apply(change);
      found.pending.push(change);
    }
    return found;
  }

  rename(from: string, to: string): Promise<void> {
    return this.run('rename', from, (failure) => {
      if (failure) throw fsError(failure, 'rename', from);
      const disk = this.disk;
      const source = disk.parentOf(from, 'rename');
      const inode = source.dir.entries.get(source.name);
      if (inode === undefined) throw fsError('ENOENT', 'rename', from, 'no such file or directory');
      const target = disk.parentOf(to, 'rename');
      this.checkRenameTarget(disk.inode(inode), target.dir.entries.get(target.name), to);
      if (source.dir === target.dir) {
        disk.changeDir(source.dir, { seq: disk.changeSeq(), doomed: false, kind: 'rename', from: source.name, to: target.name, inode });
      } else {
        disk.changeDir(target.dir, { seq: disk.changeSeq(), doomed: false, kind: 'link', name: target.name, inode });
        disk.changeDir(source.dir, { seq: disk.changeSeq(), doomed: false, kind: 'unlink', name: source.name });
      }
    });
  }

  private checkRenameTarget(source: Inode, targetId: number | undefined, to: string): void {
    if (targetId === undefined || targetId === source.id) return;
    const target = this.disk.inode(targetId);
    if (source.kind === 'file' && target.kind === 'dir') throw fsError('EISDIR', 'rename', to, 'illegal operation on a directory');
    if (source.kind === 'dir' && target.kind === 'file') throw fsError('ENOTDIR', 'rename', to, 'not a directory');
    if (target.kind === 'dir' && target.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', to, 'directory not empty');
  }

  unlink(path: string): Promise<void> {
    return this.run('unlink', path, (failure) => {
      if (failure) throw fsError(failure, 'unlink', path);
      const disk = this.disk;
      const { dir, name } = disk.parentOf(path, 'unlink');
      const inode = dir.entries.get(name);
      if (inode === undefined) throw fsError('ENOENT', 'unlink', path, 'no such file or directory');
      if (disk.inode(inode).kind === 'dir') throw fsError('EISDIR', 'unlink', path, 'illegal operation on a directory');
      disk.changeDir(dir, { seq: disk.changeSeq(), doomed: false, kind: 'unlink', name });
    });
  }

  readdir(path: string): Promise<string[]> {
    return this.run('readdir', path, (failure) => {
      if (failure) throw fsError(failure, 'scandir', path);
      const inode = this.disk.lookup(path);
      if (inode === null) {
        this.disk.parentOf(path, 'scandir'); // ENOTDIR when a parent is a file
        throw fsError('ENOENT', 'scandir', path, 'no such file or directory');
      }
      if (inode.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', path, 'not a directory');
      return this.disk.prng.shuffle([...inode.entries.keys()]);
    });
  }

  /** Recursive, as storage calls it: the first directory created, or undefined if all existed. */
  mkdir(path: string, _opts: { recursive: true }): Promise<string | undefined> {
    return this.run('mkdir', path, (failure) => {
      if (failure) throw fsError(failure, 'mkdir', path);
      const disk = this.disk;
      let first: string | undefined;
      let prefix = '';
      for (const part of splitPath(path)) {
        prefix += `/${part}`;
        const found = disk.lookup(prefix);
        if (found?.kind === 'file') throw fsError(prefix === posix.resolve('/', path) ? 'EEXIST' : 'ENOTDIR', 'mkdir', path, 'file already exists');
        if (found) continue;
        const { dir, name } = disk.parentOf(prefix, 'mkdir');
        disk.changeDir(dir, { seq: disk.changeSeq(), doomed: false, kind: 'link', name, inode: disk.newDir().id });
        first ??= prefix;
      }
      return first;
    });
  }

  readFile(path: string, opts: { encoding: 'utf8' }): Promise<string> {
    return this.run('readFile', path, (failure) => {
      if (failure) throw fsError(failure, 'open', path);
      const inode = this.disk.lookup(path);
      if (inode === null) {
        this.disk.parentOf(path, 'open');
        throw fsError('ENOENT', 'open', path, 'no such file or directory');
      }
      if (inode.kind === 'dir') throw fsError('EISDIR', 'read', path, 'illegal operation on a directory');
      return Buffer.from(inode.current.read(0, inode.current.size)).toString(opts.encoding);
    });
  }
}

/** An open file or directory of one process. */
class SimFileHandle implements StorageFileHandle {
  private closed = false;

  constructor(
    private readonly fs: SimFs,
    private readonly inode: Inode,
    private readonly mode: OpenFlags,
    private readonly path: string,
  ) {}

  get dataSync(): boolean {
    return this.mode.dataSync;
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    const written = this.fs.run('write', this.path, (failure) => {
      const file = this.file('write', this.mode.writable);
      if (failure) throw fsError(failure, 'write', this.path);
      if (offset < 0 || length < 0 || offset + length > buffer.length || !(position >= 0)) throw fsError('EINVAL', 'write', this.path, 'bad offset or length');
      const at = this.mode.append ? file.current.size : position;
      // A copy, as write(2) makes: the caller may reuse its buffer once this resolves (a
      // Buffer's own slice() would be a view of it).
      const bytes = Uint8Array.prototype.slice.call(buffer, offset, offset + this.writableBytes(file, at, length));
      const change: DataChange = { seq: this.fs.disk.changeSeq(), doomed: false, kind: 'write', position: at, bytes };
      file.current.apply(change);
      file.pending.push(change);
      return { bytesWritten: bytes.length, seq: change.seq };
    });
    if (!this.mode.dataSync) return written.then(({ bytesWritten }) => ({ bytesWritten }));
    // O_DSYNC: the bytes are in the page cache first (a power cut meanwhile keeps, tears or
    // loses them like any unsynced write), then flushed, and only then does the call return.
    return written.then(({ bytesWritten, seq }) =>
      this.fs.run('sync', this.path, (failure) => {
        this.fs.disk.syncInode(this.inode, seq, failure !== null);
        if (failure) throw fsError(failure, 'write', this.path);
        return { bytesWritten };
      }),
    );
  }

  /** How much of a write goes through: all of it, a short write, or ENOSPC. */
  private writableBytes(file: FileInode, at: number, length: number): number {
    const disk = this.fs.disk;
    const growth = Math.max(0, at + length - file.current.size);
    const free = disk.capacityBytes - disk.usedBytes();
    let bytes = growth <= free ? length : length - (growth - Math.max(0, free));
    if (length > 0 && bytes <= 0) throw fsError('ENOSPC', 'write', this.path, 'no space left on device');
    if (bytes > 1 && disk.prng.chance(disk.opts.shortWriteProbability)) bytes = disk.prng.range(1, bytes - 1);
    return bytes;
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return this.fs.run('read', this.path, (failure) => {
      const file = this.file('read', this.mode.readable);
      if (failure) throw fsError(failure, 'read', this.path);
      const bytes = file.current.read(position, length);
      buffer.set(bytes, offset);
      return { bytesRead: bytes.length };
    });
  }

  datasync(): Promise<void> {
    return this.sync();
  }

  sync(): Promise<void> {
    const upTo = this.fs.disk.changeSeq(); // covers what was issued and completed before the call
    return this.fs.run('sync', this.path, (failure) => {
      this.check('fsync');
      this.fs.disk.syncInode(this.inode, upTo, failure !== null);
      if (failure) throw fsError(failure, 'fsync', this.path);
    });
  }

  truncate(length: number): Promise<void> {
    return this.fs.run('truncate', this.path, (failure) => {
      const file = this.file('ftruncate', this.mode.writable);
      if (failure) throw fsError(failure, 'ftruncate', this.path);
      const disk = this.fs.disk;
      if (length > file.current.size && length - file.current.size > disk.capacityBytes - disk.usedBytes()) {
        throw fsError('ENOSPC', 'ftruncate', this.path, 'no space left on device');
      }
      const change: DataChange = { seq: disk.changeSeq(), doomed: false, kind: 'truncate', length };
      file.current.apply(change);
      file.pending.push(change);
    });
  }

  stat(): Promise<{ size: number }> {
    return this.fs.run('stat', this.path, (failure) => {
      this.check('fstat');
      if (failure) throw fsError(failure, 'fstat', this.path);
      return { size: this.inode.kind === 'file' ? this.inode.current.size : 4096 };
    });
  }

  close(): Promise<void> {
    return this.fs.run('close', this.path, (failure) => {
      this.check('close');
      this.closed = true;
      this.inode.handles = Math.max(0, this.inode.handles - 1);
      if (this.inode.handles === 0 && this.inode.links === 0) this.fs.disk.dropForgotten();
      if (failure) throw fsError(failure, 'close', this.path);
    });
  }

  private check(syscall: string): void {
    if (this.closed) throw fsError('EBADF', syscall, this.path, 'bad file descriptor');
  }

  /** The file behind a data operation: EISDIR on a directory, EBADF when the open mode forbids it. */
  private file(syscall: string, allowed: boolean): FileInode {
    this.check(syscall);
    if (this.inode.kind === 'dir') throw fsError('EISDIR', syscall, this.path, 'illegal operation on a directory');
    if (!allowed) throw fsError('EBADF', syscall, this.path, 'bad file descriptor');
    return this.inode;
  }
}
