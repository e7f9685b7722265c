// Shared helpers for the storage tests: temporary directories and small entries.

import { mkdtemp, rm, cp, readdir, readFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/raftpb/types.ts';
import { EntryType } from '../../src/raftpb/types.ts';
import { nodeFs, type StorageFs } from '../../src/storage/index.ts';
import { HEADER_BYTES, isFault, readRecordAt } from '../../src/storage/record.ts';

/** Run fn with a fresh temporary directory, removed afterwards. */
export async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'raftexample-storage-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function ent(index: number, term: number, data = `value-${index}`): Entry {
  return { index, term, type: EntryType.Normal, data: Buffer.from(data) };
}

export function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(ent(i, term));
  return out;
}

/** Entries as comparable tuples. */
export function brief(es: readonly Entry[]): [number, number, string][] {
  return es.map((e) => [e.index, e.term, Buffer.from(e.data).toString()]);
}

export async function walFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
}

/**
 * Where the records of a segment file end, read by their framing alone (no chain check):
 * what follows is the zeros the writer fills ahead of them, or the end of the file.
 */
export async function logEnd(file: string): Promise<number> {
  const bytes = await readFile(file);
  let at = 0;
  while (at < bytes.length) {
    const rec = readRecordAt(bytes, at, null);
    if (isFault(rec)) break;
    at = rec.offset + HEADER_BYTES + rec.payload.length;
  }
  return at;
}

/** Write bytes right after a segment's records, over the zeros filled ahead: where a torn or crafted append lands. */
export async function writeAtLogEnd(file: string, bytes: Uint8Array): Promise<number> {
  const at = await logEnd(file);
  const fh = await open(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, at);
  } finally {
    await fh.close();
  }
  return at;
}

export async function copyDir(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
}

/** A file system whose next datasync or write fails when the flag says so. */
export function faultyFs(fault: { datasync?: boolean; write?: boolean; calls?: string[] }): StorageFs {
  return {
    ...nodeFs,
    async open(path, flags) {
      const fh = await nodeFs.open(path, flags);
      return {
        read: (b, o, l, p) => fh.read(b, o, l, p),
        stat: () => fh.stat(),
        truncate: (n) => fh.truncate(n),
        sync: () => fh.sync(),
        close: () => fh.close(),
        async datasync() {
          fault.calls?.push('datasync');
          if (fault.datasync) throw Object.assign(new Error('EIO: injected fsync failure'), { code: 'EIO' });
          return fh.datasync();
        },
        async write(b, o, l, p) {
          fault.calls?.push('write');
          if (fault.write) throw Object.assign(new Error('ENOSPC: injected write failure'), { code: 'ENOSPC' });
          return fh.write(b, o, l, p);
        },
      };
    },
  };
}
