// How much a snapshot of a large state holds the event loop: a one-member node in this
// process (the real RaftNode and KvStore) restarts from N keys built on its disk (default
// 1 million of 128 bytes), then writers keep PUTting until it has taken a snapshot
// (--snapshot-count of them after the restart). Reports the event loop's delay
// (perf_hooks.monitorEventLoopDelay) from the first write until the snapshot is taken, how
// long the snapshot took, and how many writes were acknowledged meanwhile.
//
//   npm run bench:snapshot
//   npm run bench:snapshot -- --keys 200000 --value-bytes 64

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config.ts';
import { startInProcess } from '../test/node/in-process.ts';
import { freePort } from '../test/e2e/cluster.ts';
import { seedDisks } from '../test/e2e/seeded-state.ts';

const { values } = parseArgs({
  options: { keys: { type: 'string', default: '1000000' }, 'value-bytes': { type: 'string', default: '128' }, 'snapshot-count': { type: 'string', default: '2000' } },
});
const keys = Number(values.keys);
const valueBytes = Number(values['value-bytes']);
const snapshotCount = Number(values['snapshot-count']);
for (const [name, v] of [['--keys', keys], ['--value-bytes', valueBytes], ['--snapshot-count', snapshotCount]] as const) {
  if (!Number.isSafeInteger(v) || v < 1) {
    console.error(`${name} must be a positive integer`);
    process.exit(2);
  }
}
const WRITERS = 16;
const ms = (ns: number) => (ns / 1e6).toFixed(1);

const dir = await mkdtemp(join(tmpdir(), 'bench-snapshot-'));
try {
  const argv = [
    '--id', '1', '--cluster', `http://127.0.0.1:${await freePort()}`, '--port', String(await freePort()), '--data-dir', dir,
    '--log-level', 'silent', '--snapshot-count', String(snapshotCount),
  ];
  const seededIndex = 10;
  await seedDisks({ keys, valueBytes, index: seededIndex, term: 1 }, [argv]);
  const parsed = parseConfig(argv);
  if (parsed.help) throw new Error('unreachable');
  const restartStarted = performance.now();
  const n = await startInProcess(parsed.config);
  try {
    while ((await n.node.status()).leader !== 1) await new Promise((r) => setTimeout(r, 10));
    console.log(`restarted from ${keys} keys of ${valueBytes} bytes in ${((performance.now() - restartStarted) / 1000).toFixed(1)} s`);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    let writing = true;
    let acked = 0;
    let ackedAtStart = -1;
    let startedMs = 0;
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; writing; i++) {
        await n.kv.put(`/w${w}/${i}`, Buffer.alloc(valueBytes, 1));
        acked++;
      }
    });
    // The snapshot starts once snapshot-count entries have applied after the restart.
    while (n.kv.applied < seededIndex + snapshotCount) await new Promise((r) => setTimeout(r, 1));
    startedMs = performance.now();
    ackedAtStart = acked;
    while ((await n.node.status()).snapshotIndex <= seededIndex) await new Promise((r) => setTimeout(r, 5));
    const tookMs = performance.now() - startedMs;
    const ackedDuring = acked - ackedAtStart;
    delay.disable();
    writing = false;
    await Promise.all(writers);
    console.log(`snapshot taken in ${(tookMs / 1000).toFixed(2)} s; ${ackedDuring} writes acknowledged meanwhile`);
    console.log(`event loop delay from the first write until it was taken: max ${ms(delay.max)} ms, p99 ${ms(delay.percentile(99))} ms, mean ${ms(delay.mean)} ms`);
    console.log(JSON.stringify({ keys, valueBytes, snapshotSeconds: tookMs / 1000, writesDuring: ackedDuring, loopDelayMaxMs: delay.max / 1e6, loopDelayP99Ms: delay.percentile(99) / 1e6 }));
  } finally {
    await n.stop();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
