// The real Wal and Snapshotter on SimFs, crashed at random points over many seeds
// (storage-crash.ts): every synced save comes back, and recovery never throws anything but
// a StorageError. Checks the storage layer against the fault model, and the fault model
// against the WAL's crash rules (docs/storage.md). The two defects it found (a stale term
// error after Raft's truncation, a torn LOCK pid) are fixed and pinned below.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryType, type Entry } from '../../../src/raftpb/index.ts';
import { Wal } from '../../../src/storage/index.ts';
import { Prng } from '../prng.ts';
import { Scheduler } from './scheduler.ts';
import { SimDisk } from './sim-fs.ts';
import { runSeed, type SeedOptions } from './storage-crash.ts';

const SEEDS = Number(process.env.SIM_WORLD_WAL_SEEDS ?? 200);

/** The WAL defect below (a stale term error kept after Raft's truncation rewrote the entry). */

async function runSeeds(count: number, opts: SeedOptions) {
  const failures: string[] = [];
  const refusals: string[] = [];
  let crashes = 0;
  for (let seed = 1; seed <= count; seed++) {
    const r = await runSeed(seed, opts);
    crashes += r.crashes;
    if (r.failure) failures.push(`seed ${seed}: ${r.failure}`);
    for (const refusal of r.refusals) refusals.push(`seed ${seed}: ${refusal}`);
  }
  return { failures, refusals, crashes };
}

for (const dataSync of [true, false]) {
  test(`crashes in order (a prefix of the unsynced writes kept, the next torn or zero-filled), ${dataSync ? 'with' : 'without'} O_DSYNC: every synced save comes back`, async () => {
    const seeds = dataSync ? SEEDS : SEEDS / 2;
    const r = await runSeeds(seeds, { disk: { crashOrder: 'prefix', dataSync }, lives: 4, clearStaleLock: false });
    assert.deepEqual(r.failures.slice(0, 3), []);
    // Nothing refuses to start: crashes in order never leave what the WAL calls corruption.
    assert.deepEqual(r.refusals.slice(0, 3), []);
    assert.ok(r.crashes >= seeds * 3, `${r.crashes} crashes`);
  });
}

test('crashes out of order, without O_DSYNC (a later unsynced write may survive an earlier one): synced saves come back, or a StorageError refuses', async () => {
  const r = await runSeeds(SEEDS / 2, { disk: { crashOrder: 'independent', dataSync: false }, lives: 3, clearStaleLock: false });
  assert.deepEqual(r.failures.slice(0, 3), []);
  // docs/storage.md: "if the kernel persisted a later page of an unsynced write but not an
  // earlier one, the valid record after the hole makes the node refuse to start".
  assert.ok(r.refusals.some((f) => /yet a valid record follows/.test(f)), 'some seed leaves a valid record after a hole');
});

test('crashes out of order, with O_DSYNC: every write is durable before the next is issued, so no hole, and nothing refuses to start', async () => {
  const r = await runSeeds(SEEDS / 2, { disk: { crashOrder: 'independent' }, lives: 3, clearStaleLock: false });
  assert.deepEqual(r.failures.slice(0, 3), []);
  assert.deepEqual(r.refusals.slice(0, 3), []);
  assert.ok(r.crashes >= SEEDS, `${r.crashes} crashes`);
});

test('the same seed crashes the same way; another seed differently', async () => {
  const trace = async (seed: number) => {
    const lines: string[] = [];
    await runSeed(seed, { disk: { crashOrder: 'prefix', trace: (line) => lines.push(line) }, lives: 3, clearStaleLock: false });
    return lines;
  };
  const [a, b, c] = [await trace(7), await trace(7), await trace(8)];
  assert.ok(a.length > 50 && a.some((l) => l.includes('crash')));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

const entry = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(`v${index}`) });

test(
  'a follower that had its log rewritten, then took a snapshot inside the rewritten range, restarts',
  async () => {
    const scheduler = new Scheduler();
    const fs = new SimDisk(scheduler, new Prng(1), 'n1').mount();
    const work = async () => {
      const wal = await Wal.create('/wal', { nodeId: 1, clusterId: 'c' }, { fs });
      await wal.save({ term: 1, vote: 1, commit: 1 }, [entry(1, 1), entry(2, 1), entry(3, 1)], true); // 2..3 from a deposed leader
      await wal.save({ term: 2, vote: 0, commit: 2 }, [entry(2, 2), entry(3, 2)], true); // the new leader's 2..3; 2 commits
      await wal.saveSnapshotMarker({ index: 2, term: 2 }); // a local snapshot at the commit
      await wal.close();
      const r = await Wal.open('/wal', { index: 2, term: 2 }, { fs });
      await r.wal.close();
      return r.entries.map((e) => `${e.index}@${e.term}`);
    };
    assert.deepEqual(await scheduler.complete(work()), ['3@2']);
  },
);

test(
  'a LOCK file torn by a power cut does not stop the restart',
  async () => {
    const r = await runSeeds(40, { disk: { crashOrder: 'prefix' }, lives: 4, clearStaleLock: false });
    assert.deepEqual(r.refusals.filter((f) => /ERR_WAL_LOCKED/.test(f)), []);
  },
);


// Found by the whole-node simulator (seed 6, 3 voters): --data-dir named a directory that did
// not exist; Wal.create made it with mkdir -p but synced only the WAL directory's parent, so a
// power cut lost the data dir's own name, and with it the whole WAL: the node bootstrapped anew.
test('a WAL created under directories that did not exist survives a power cut that keeps no unsynced directory change', async () => {
  const scheduler = new Scheduler();
  const disk = new SimDisk(scheduler, new Prng(1), 'n1', { dirChangeKeepProbability: 0 });
  const fs = disk.mount();
  const wal = await scheduler.complete(Wal.create('/data/node/wal', { nodeId: 1, clusterId: 'sim' }, { fs }));
  await scheduler.complete(wal.save({ term: 1, vote: 1, commit: 0 }, [{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array([1]) } satisfies Entry], true));
  disk.crash();
  assert.equal(await scheduler.complete(Wal.exists('/data/node/wal', { fs: disk.mount() })), true);
});
