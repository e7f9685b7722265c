// WAL throughput: batches of 1, 16 and 256 entries of 128 bytes, every batch synced
// (save(hs, entries, true): one write + one fdatasync). Shows what group commit buys.
//
//   npm run bench:wal                       # ~3 s per row
//   WAL_BENCH_SECONDS=1 npm run bench:wal   # quicker

import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType, type Entry } from '../src/raftpb/types.ts';
import { Wal } from '../src/storage/index.ts';

const ENTRY_BYTES = 128;
const BATCHES = [1, 16, 256];
const SECONDS = Number(process.env.WAL_BENCH_SECONDS ?? 3);

interface Row {
  batch: number;
  batches: number;
  entries: number;
  seconds: number;
  diskBytes: number;
  cpuMicros: number;
}

async function run(batch: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'raftexample-bench-wal-'));
  try {
    const wal = await Wal.create(dir, { nodeId: 1, clusterId: 'bench' });
    const data = Buffer.alloc(ENTRY_BYTES, 0x61);
    let index = 0;
    let batches = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    while (performance.now() < deadline) {
      const entries: Entry[] = new Array(batch);
      for (let i = 0; i < batch; i++) entries[i] = { index: ++index, term: 1, type: EntryType.Normal, data };
      await wal.save({ term: 1, vote: 1, commit: index }, entries, true);
      batches++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await wal.close();
    let diskBytes = 0;
    for (const name of await readdir(dir)) if (name.endsWith('.wal')) diskBytes += (await stat(join(dir, name))).size;
    return { batch, batches, entries: index, seconds, diskBytes, cpuMicros: cpu.user + cpu.system };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const b of BATCHES) rows.push(await run(b));

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(`WAL benchmark: ${ENTRY_BYTES}-byte entries, every batch fdatasync'd, ${SECONDS} s per row, node ${process.version}`);
console.log('| batch | entries/s | fsyncs/s | payload MB/s | disk MB/s | mean batch latency | CPU per entry |');
console.log('|------:|----------:|---------:|-------------:|----------:|-------------------:|--------------:|');
for (const r of rows) {
  const eps = r.entries / r.seconds;
  console.log(
    `| ${r.batch} | ${fmt(eps)} | ${fmt(r.batches / r.seconds)} | ${fmt((eps * ENTRY_BYTES) / 1e6, 2)} | ${fmt(r.diskBytes / r.seconds / 1e6, 2)} | ${fmt((r.seconds * 1e6) / r.batches)} µs | ${fmt(r.cpuMicros / r.entries, 2)} µs |`,
  );
}
const first = rows[0]!;
const last = rows[rows.length - 1]!;
const ratio = last.entries / last.seconds / (first.entries / first.seconds);
console.log(`ratio batch-${last.batch}/batch-${first.batch} entries/s: ${fmt(ratio, 1)}x (acceptance: >= 50x) ${ratio >= 50 ? 'PASS' : 'FAIL'}`);
