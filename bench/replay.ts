// Restart replay. Two measurements of N entries of 128 bytes (default 1 million):
//  - wal: write them with Wal.save in batches of 1,000, close, time Wal.open reading them back;
//  - node: a one-member node in this process (the real RaftNode and KvStore) takes N PUTs,
//    stops, and is started again on the same data dir: the time from RaftNode.open until the
//    kvstore has applied every entry (WAL read, the core's log rebuilt, every PUT applied).
//
//   npm run bench:replay                         # both, 1,000,000 entries
//   npm run bench:replay -- --entries 200000 --only node

import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config.ts';
import { EntryType, type Entry } from '../src/raftpb/types.ts';
import { nodeFs, Wal } from '../src/storage/index.ts';
import { worldWith } from '../src/node/world.ts';
import { startInProcess } from '../test/node/in-process.ts';
import { freePort } from '../test/e2e/cluster.ts';

const { values } = parseArgs({
  options: { entries: { type: 'string', default: '1000000' }, only: { type: 'string' } },
});
const total = Number(values.entries);
if (!Number.isSafeInteger(total) || total < 1) {
  console.error('--entries must be a positive integer');
  process.exit(2);
}
if (values.only !== undefined && values.only !== 'wal' && values.only !== 'node') {
  console.error('--only must be wal or node');
  process.exit(2);
}
const ENTRY_BYTES = 128;
const BATCH = 1000;
const MiB = 2 ** 20;
const mb = (n: number) => (n / MiB).toFixed(0);

async function dirBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const f of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, f));
    if (s.isFile()) bytes += s.size;
  }
  return bytes;
}

async function walReplay(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'wal-replay-'));
  try {
    const data = Buffer.alloc(ENTRY_BYTES, 0x61);
    const wal = await Wal.create(dir, { nodeId: 1, clusterId: 'bench' });
    for (let first = 1; first <= total; first += BATCH) {
      const entries: Entry[] = [];
      for (let i = first; i < first + BATCH && i <= total; i++) entries.push({ term: 1, index: i, type: EntryType.Normal, data });
      const last = entries[entries.length - 1]!.index;
      await wal.save({ term: 1, vote: 1, commit: last }, entries, last === total);
    }
    await wal.close();
    const walBytes = await dirBytes(dir);
    const started = performance.now();
    const opened = await Wal.open(dir, { index: 0, term: 0 });
    const openMs = performance.now() - started;
    if (opened.entries.length !== total) throw new Error(`read back ${opened.entries.length} entries, wrote ${total}`);
    await opened.wal.close();
    console.log(`wal: Wal.open read ${total.toLocaleString('en-US')} entries (${mb(walBytes)} MiB) back in ${(openMs / 1000).toFixed(2)} s`);
    return { walBytes, walOpenMs: Math.round(openMs) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function nodeReplay(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'node-replay-'));
  try {
    const parsed = parseConfig([
      '--id', '1', '--cluster', `http://127.0.0.1:${await freePort()}`, '--port', String(await freePort()),
      '--data-dir', dir, '--log-level', 'silent', '--snapshot-count', String(total * 2), '--request-timeout-ms', '60000',
    ]);
    if (parsed.help) throw new Error('unreachable');
    const config = parsed.config;
    const world = worldWith({ fs: nodeFs });
    const first = await startInProcess(config, { world });
    while ((await first.node.status()).leader !== 1) await new Promise((r) => setTimeout(r, 20));
    const value = Buffer.alloc(ENTRY_BYTES - 24, 0x61); // the PUT entry's header and key make up the rest
    const loadStart = performance.now();
    for (let done = 0; done < total; done += BATCH) {
      const puts: Promise<void>[] = [];
      for (let i = done; i < Math.min(done + BATCH, total); i++) puts.push(first.kv.put(`/k${i % 100_000}`, value));
      await Promise.all(puts);
    }
    const loadMs = performance.now() - loadStart;
    await first.stop();
    const bytes = await dirBytes(dir);

    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const again = await startInProcess(config, { world });
    const target = (await again.node.status()).commit;
    while (again.kv.applied < target) await new Promise((r) => setImmediate(r));
    const replayMs = performance.now() - started;
    const rssAfter = process.memoryUsage().rss;
    await again.stop();
    console.log(`node: ${total.toLocaleString('en-US')} PUTs taken in ${(loadMs / 1000).toFixed(1)} s; restarted and applied all ${target.toLocaleString('en-US')} entries (${mb(bytes)} MiB on disk) in ${(replayMs / 1000).toFixed(2)} s; RSS ${mb(rssBefore)} -> ${mb(rssAfter)} MiB`);
    return { nodeBytes: bytes, nodeEntries: target, nodeReplayMs: Math.round(replayMs), rssAfterReplayBytes: rssAfter };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const out: Record<string, number> = { entries: total, entryBytes: ENTRY_BYTES };
if (values.only !== 'node') Object.assign(out, await walReplay());
if (values.only !== 'wal') Object.assign(out, await nodeReplay());
console.log(JSON.stringify({ bench: 'replay', ...out }));
