// Restart replay. Two measurements of N entries of 128 bytes (default 1 million):
//  - wal: write them with Wal.save in batches of 1,000, close, time Wal.open reading them back;
//  - node: a one-member node in this process (the real RaftNode and KvStore) takes N PUTs to
//    100,000 keys and stops; then a fresh process (so its resident size is the replay's alone,
//    not the load's) starts a node on the same data dir, `--runs` times: the time from
//    RaftNode.open until the kvstore has applied every entry (WAL read, the core's log
//    rebuilt, every PUT applied), the resident and heap size after it, and those per key.
//
//   npm run bench:replay                                   # both, 1,000,000 entries
//   npm run bench:replay -- --entries 200000 --only node --runs 3
//   npm run bench:replay -- --only node --data-dir /tmp/r  # keep the loaded dir; reuse it next time

import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig, type Config } from '../src/config.ts';
import { EntryType, type Entry } from '../src/raftpb/types.ts';
import { nodeFs, Wal } from '../src/storage/index.ts';
import { worldWith } from '../src/node/world.ts';
import { startInProcess } from '../test/node/in-process.ts';
import { freePort } from '../test/e2e/cluster.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    only: { type: 'string' },
    runs: { type: 'string', default: '1' },
    'data-dir': { type: 'string' },
    /** Internal: the child process that replays the node's data dir and prints one JSON line. */
    'replay-child': { type: 'string' },
  },
});
const total = Number(values.entries);
const runs = Number(values.runs);
if (!Number.isSafeInteger(total) || total < 1) fail('--entries must be a positive integer');
if (!Number.isSafeInteger(runs) || runs < 1 || runs > 100) fail('--runs must be an integer from 1 to 100');
if (values.only !== undefined && values.only !== 'wal' && values.only !== 'node') fail('--only must be wal or node');

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const ENTRY_BYTES = 128;
const BATCH = 1000;
const KEYS = 100_000;
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
    if (opened.packedEntries.length !== total) throw new Error(`read back ${opened.packedEntries.length} entries, wrote ${total}`);
    await opened.wal.close();
    console.log(`wal: Wal.open read ${total.toLocaleString('en-US')} entries (${mb(walBytes)} MiB) back in ${(openMs / 1000).toFixed(2)} s`);
    return { walBytes, walOpenMs: Math.round(openMs) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The one-member node's config on dir; the cluster URL is fixed by the first start (it is in the log). */
function nodeConfig(dir: string, clusterUrl: string, kvPort: number): Config {
  const parsed = parseConfig([
    '--id', '1', '--cluster', clusterUrl, '--port', String(kvPort),
    '--data-dir', dir, '--log-level', 'silent', '--snapshot-count', String(total * 2), '--request-timeout-ms', '60000',
  ]);
  if (parsed.help) throw new Error('unreachable');
  return parsed.config;
}

/** Load `total` PUTs into a new node on dir and stop it. */
async function loadNode(dir: string, clusterUrl: string): Promise<void> {
  const world = worldWith({ fs: nodeFs });
  const first = await startInProcess(nodeConfig(dir, clusterUrl, await freePort()), { world });
  while ((await first.node.status()).leader !== 1) await new Promise((r) => setTimeout(r, 20));
  const value = Buffer.alloc(ENTRY_BYTES - 24, 0x61); // the PUT entry's header and key make up the rest
  const loadStart = performance.now();
  for (let done = 0; done < total; done += BATCH) {
    const puts: Promise<void>[] = [];
    for (let i = done; i < Math.min(done + BATCH, total); i++) puts.push(first.kv.put(`/k${i % KEYS}`, value));
    await Promise.all(puts);
  }
  const loadMs = performance.now() - loadStart;
  await first.stop();
  console.log(`node: ${total.toLocaleString('en-US')} PUTs to ${KEYS.toLocaleString('en-US')} keys taken in ${(loadMs / 1000).toFixed(1)} s`);
}

/** In the child: restart the node on dir, wait until every entry is applied, measure. */
async function replayChild(dir: string, clusterUrl: string): Promise<void> {
  const rssBefore = process.memoryUsage().rss;
  const world = worldWith({ fs: nodeFs });
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const again = await startInProcess(nodeConfig(dir, clusterUrl, await freePort()), { world });
  const openMs = performance.now() - started;
  const target = (await again.node.status()).commit;
  while (again.kv.applied < target) await new Promise((r) => setImmediate(r));
  const replayMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const keys = again.kv.size;
  const memory = process.memoryUsage();
  globalThis.gc?.();
  const heapAfterGc = process.memoryUsage().heapUsed;
  await again.stop();
  console.log(JSON.stringify({ entries: target, keys, replayMs, openMs, cpuMs, rssBefore, rss: memory.rss, heapUsed: memory.heapUsed, heapAfterGc, arrayBuffers: memory.arrayBuffers }));
}

interface ChildResult {
  entries: number;
  keys: number;
  replayMs: number;
  /** Of replayMs: until the node was open (snapshot and WAL read, the core built), before the applying. */
  openMs: number;
  /** CPU time the process used in replayMs (all threads): on a shared machine, steadier than the wall time. */
  cpuMs: number;
  rssBefore: number;
  rss: number;
  heapUsed: number;
  heapAfterGc: number;
  /** Bytes of Buffers and ArrayBuffers (outside the heap): the entries' and values' bytes. */
  arrayBuffers: number;
}

function runReplayChild(dir: string, clusterUrl: string): ChildResult {
  const args = ['--expose-gc', '--import', 'tsx', new URL(import.meta.url).pathname, '--entries', String(total), '--replay-child', `${dir},${clusterUrl}`];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 * MiB });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !line.startsWith('{')) throw new Error(`the replay process failed (${child.status ?? child.signal}):\n${child.stderr}${child.stdout}`);
  return JSON.parse(line) as ChildResult;
}

async function nodeReplay(): Promise<Record<string, number>> {
  const keep = values['data-dir'];
  const dir = keep ?? (await mkdtemp(join(tmpdir(), 'node-replay-')));
  const urlFile = join(dir, 'bench-cluster-url');
  try {
    let clusterUrl: string;
    const reused = keep !== undefined && (await stat(urlFile).then(() => true, () => false));
    if (reused) {
      clusterUrl = (await import('node:fs')).readFileSync(urlFile, 'utf8').trim();
      console.log(`node: reusing the data dir ${dir}`);
    } else {
      clusterUrl = `http://127.0.0.1:${await freePort()}`;
      await loadNode(dir, clusterUrl);
      (await import('node:fs')).writeFileSync(urlFile, clusterUrl);
    }
    const bytes = await dirBytes(dir);
    const results: ChildResult[] = [];
    for (let run = 1; run <= runs; run++) {
      const r = runReplayChild(dir, clusterUrl);
      results.push(r);
      console.log(
        `node: restarted and applied all ${r.entries.toLocaleString('en-US')} entries (${mb(bytes)} MiB on disk) in ${(r.replayMs / 1000).toFixed(2)} s (open ${(r.openMs / 1000).toFixed(2)} s; CPU ${(r.cpuMs / 1000).toFixed(2)} s); ` +
          `RSS ${mb(r.rssBefore)} -> ${mb(r.rss)} MiB, heap ${mb(r.heapUsed)} MiB (${mb(r.heapAfterGc)} after GC), buffers ${mb(r.arrayBuffers)} MiB; ` +
          `per stored key (${r.keys.toLocaleString('en-US')}): ${Math.round(r.rss / r.keys)} bytes resident, ${Math.round(r.heapAfterGc / r.keys)} heap`,
      );
    }
    const best = results.reduce((a, b) => (b.replayMs < a.replayMs ? b : a));
    return {
      nodeBytes: bytes,
      nodeEntries: best.entries,
      nodeKeys: best.keys,
      nodeReplayMs: Math.round(best.replayMs),
      nodeReplayMsRuns: results.length,
      nodeReplayCpuMs: Math.round(best.cpuMs),
      rssAfterReplayBytes: best.rss,
      heapAfterReplayBytes: best.heapAfterGc,
      buffersAfterReplayBytes: best.arrayBuffers,
      rssBytesPerKey: Math.round(best.rss / best.keys),
      heapBytesPerKey: Math.round(best.heapAfterGc / best.keys),
    };
  } finally {
    if (keep === undefined) await rm(dir, { recursive: true, force: true });
  }
}

if (values['replay-child'] !== undefined) {
  const [dir, clusterUrl] = values['replay-child'].split(',');
  await replayChild(dir!, clusterUrl!);
} else {
  const out: Record<string, number> = { entries: total, entryBytes: ENTRY_BYTES };
  if (values.only !== 'node') Object.assign(out, await walReplay());
  if (values.only !== 'wal') Object.assign(out, await nodeReplay());
  console.log(JSON.stringify({ bench: 'replay', ...out }));
}
