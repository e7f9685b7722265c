// A process killed before its fsync leaves its writes in the page cache; the next process
// reads them back. What it reads back it may vote and acknowledge on, so opening the WAL
// must make it durable: a power cut right after the open loses nothing that open returned.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Wal } from '../../src/storage/index.ts';
import { EntryType, type Entry } from '../../src/raftpb/index.ts';
import { Prng } from '../sim/prng.ts';
import { Scheduler } from '../sim/world/scheduler.ts';
import { SimDisk } from '../sim/world/sim-fs.ts';

const entry = (index: number): Entry => ({ term: 2, index, type: EntryType.Normal, data: Buffer.from(`e${index}`) });

test('entries read back after a kill -9 survive a power cut that follows the open', async () => {
  const lost: string[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const scheduler = new Scheduler();
    const disk = new SimDisk(scheduler, new Prng(seed), 'n1', { tornProbability: 0 });
    const dir = '/data/wal';
    const readBack = await scheduler.complete(
      (async () => {
        const fs = disk.mount();
        await fs.mkdir('/data', { recursive: true });
        const wal = await Wal.create(dir, { nodeId: 1, clusterId: 'c' }, { fs });
        await wal.save({ term: 2, vote: 1, commit: 0 }, [entry(1), entry(2)], true);
        await wal.save({ term: 2, vote: 1, commit: 2 }, [entry(3), entry(4)], false); // not synced
        disk.killProcess(); // the page cache keeps entries 3 and 4
        const opened = await Wal.open(dir, { index: 0, term: 0 }, { fs: disk.mount() });
        return opened.entries.map((e) => e.index);
      })(),
    );
    assert.deepEqual(readBack, [1, 2, 3, 4], 'the page cache holds what the killed process wrote');
    disk.crash(); // a power cut right after the open
    const after = await scheduler.complete(
      (async () => (await Wal.open(dir, { index: 0, term: 0 }, { fs: disk.mount() })).entries.map((e) => e.index))(),
    );
    if (after.join() !== readBack.join()) lost.push(`seed ${seed}: read back ${readBack.join()}, after the power cut ${after.join()}`);
  }
  assert.deepEqual(lost, []);
});
