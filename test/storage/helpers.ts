// Shared helpers for the storage tests: temporary directories and small entries.

import { mkdtemp, rm, cp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/raft/types.ts';
import { EntryType } from '../../src/raft/types.ts';

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

export async function copyDir(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
}
