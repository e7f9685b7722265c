// SimFs's fault model, one rule at a time: node's errors for bad paths and flags, what a
// crash keeps of unsynced data and directory entries, ENOSPC, EIO, doomed writes after a
// failed fsync, latency, dead processes; the same seed the same trace.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirDurably, syncDir, writeAll } from '../../../src/storage/fs.ts';
import { Prng } from '../prng.ts';
import { Scheduler } from './scheduler.ts';
import { SimDisk, type SimDiskOptions, type SimFs } from './sim-fs.ts';

function world(seed = 1, opts: SimDiskOptions = {}) {
  const scheduler = new Scheduler();
  const disk = new SimDisk(scheduler, new Prng(seed), 'n1', opts);
  return { scheduler, disk, fs: disk.mount() };
}

const text = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString());

async function writeFile(fs: SimFs, path: string, content: string, sync: boolean): Promise<void> {
  const fh = await fs.open(path, 'w');
  await writeAll(fh, Buffer.from(content), 0);
  if (sync) await fh.sync();
  await fh.close();
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return String((e as { code?: unknown }).code);
  }
}

test("node's errno codes for what storage can get wrong, and the flags it uses", async () => {
  const { scheduler, fs } = world();
  const codes = await scheduler.complete(
    (async () => {
      await fs.mkdir('/a/b', { recursive: true });
      await fs.mkdir('/a/b', { recursive: true }); // exists: fine
      await writeFile(fs, '/a/file', 'x', false);
      const wOnly = await fs.open('/a/w', 'w');
      return {
        missing: await code(fs.open('/a/nope', 'r')),
        missingRw: await code(fs.open('/a/nope', 'r+')),
        missingParent: await code(fs.open('/nope/x', 'w')),
        exclusive: await code(fs.open('/a/file', 'wx')),
        underAFile: await code(fs.open('/a/file/x', 'w')),
        dirForWriting: await code(fs.open('/a/b', 'w')),
        readdirMissing: await code(fs.readdir('/a/nope')),
        readdirFile: await code(fs.readdir('/a/file')),
        readFileMissing: await code(fs.readFile('/a/nope', { encoding: 'utf8' })),
        readFileDir: await code(fs.readFile('/a/b', { encoding: 'utf8' })),
        unlinkMissing: await code(fs.unlink('/a/nope')),
        unlinkDir: await code(fs.unlink('/a/b')),
        renameMissing: await code(fs.rename('/a/nope', '/a/x')),
        renameOverDir: await code(fs.rename('/a/file', '/a/b')),
        mkdirOverFile: await code(fs.mkdir('/a/file', { recursive: true })),
        readWriteOnly: await code(wOnly.read(new Uint8Array(1), 0, 1, 0)),
        unknownFlags: await code(fs.open('/a/file', 'rs+')),
        afterClose: await code(wOnly.close().then(() => wOnly.stat())),
      };
    })(),
  );
  assert.deepEqual(codes, {
    missing: 'ENOENT', missingRw: 'ENOENT', missingParent: 'ENOENT', exclusive: 'EEXIST', underAFile: 'ENOTDIR',
    dirForWriting: 'EISDIR', readdirMissing: 'ENOENT', readdirFile: 'ENOTDIR', readFileMissing: 'ENOENT', readFileDir: 'EISDIR',
    unlinkMissing: 'ENOENT', unlinkDir: 'EISDIR', renameMissing: 'ENOENT', renameOverDir: 'EISDIR', mkdirOverFile: 'EEXIST',
    readWriteOnly: 'EBADF', unknownFlags: 'EINVAL', afterClose: 'EBADF',
  });
});

test("reads, 'r+' writes in place, 'w' truncates, 'a' appends, readFile, readdir, rename over a file", async () => {
  const { scheduler, fs, disk } = world();
  const got = await scheduler.complete(
    (async () => {
      await writeFile(fs, '/f', 'hello world', false);
      const rw = await fs.open('/f', 'r+');
      await rw.write(Buffer.from('J'), 0, 1, 0);
      await rw.write(Buffer.from('!'), 0, 1, 13); // past the end: the hole reads as zeros
      const buf = new Uint8Array(20);
      const { bytesRead } = await rw.read(buf, 0, 20, 0);
      const size = (await rw.stat()).size;
      await rw.truncate(5);
      await rw.close();
      const appended = await fs.open('/f', 'a');
      await appended.write(Buffer.from('+tail'), 0, 5, 0); // position ignored: appended
      await appended.close();
      const appendedText = await fs.readFile('/f', { encoding: 'utf8' });
      await writeFile(fs, '/g', 'a longer text', false);
      await writeFile(fs, '/g', 'other', false); // 'w' truncates
      await fs.rename('/g', '/f');
      return { bytesRead, size, read: Buffer.from(buf.subarray(0, bytesRead)).toString('latin1'), appendedText, after: await fs.readFile('/f', { encoding: 'utf8' }), names: (await fs.readdir('/')).sort() };
    })(),
  );
  assert.deepEqual(got, { bytesRead: 14, size: 14, read: 'Jello world\0\0!', appendedText: 'Jello+tail', after: 'other', names: ['f'] });
  assert.equal(text(disk.peek('/f')), 'other');
});

/** Over many seeds, what a crash leaves of one file written twice (once synced) and a second, unsynced name. */
async function crashOutcomes(opts: SimDiskOptions, seeds: number) {
  const outcomes = new Set<string>();
  for (let seed = 1; seed <= seeds; seed++) {
    const { scheduler, disk, fs } = world(seed, opts);
    await scheduler.complete(
      (async () => {
        await writeFile(fs, '/f', 'durable.', true);
        await syncDir(fs, '/');
        const fh = await fs.open('/f', 'r+');
        await writeAll(fh, Buffer.from('AAAA'), 8);
        await writeAll(fh, Buffer.from('BBBB'), 12);
        await fh.close();
        await writeFile(fs, '/new', 'new', true); // its data synced, its name not
      })(),
    );
    disk.crash();
    outcomes.add(`${text(disk.peek('/f'))?.replace(/\0/g, '0')} new=${text(disk.peek('/new'))}`);
  }
  return [...outcomes].sort();
}

test('a crash keeps synced data and a prefix of the unsynced writes (torn at any byte, maybe zero-filled), and an unsynced name or not', async () => {
  const outcomes = await crashOutcomes({ crashOrder: 'prefix' }, 200);
  const files = new Set(outcomes.map((o) => o.split(' ')[0]!));
  for (const o of files) assert.match(o, /^durable\.(A{0,4}|AAAAB{0,4}|A{0,3}0+|AAAAB{0,3}0+)$/, o);
  for (const expected of ['durable.', 'durable.AAAA', 'durable.AAAABBBB', 'durable.AA', 'durable.AAAAB']) assert.ok(files.has(expected), `${expected} in ${[...files]}`);
  assert.ok([...files].some((f) => f.endsWith('0')), 'a zero-filled tear');
  assert.ok(outcomes.some((o) => o.endsWith('new=null')) && outcomes.some((o) => o.endsWith('new=new')));
});

test("crashOrder 'independent': a later unsynced write may survive an earlier one", async () => {
  const outcomes = await crashOutcomes({ crashOrder: 'independent', tornProbability: 0 }, 200);
  assert.ok(outcomes.some((o) => o.startsWith('durable.0000BBBB')), outcomes.join('\n'));
});

test('a directory change is durable once the directory is fsynced; before that a crash may undo a rename or an unlink', async () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 60; seed++) {
    const { scheduler, disk, fs } = world(seed);
    await scheduler.complete(
      (async () => {
        await fs.mkdir('/d', { recursive: true });
        await writeFile(fs, '/d/old', 'x', true);
        await writeFile(fs, '/d/gone', 'y', true);
        await syncDir(fs, '/');
        await syncDir(fs, '/d');
        await fs.rename('/d/old', '/d/renamed');
        await fs.unlink('/d/gone');
      })(),
    );
    disk.crash();
    seen.add(disk.list('/d')!.join(','));
    const { scheduler: s2, disk: disk2, fs: fs2 } = world(seed);
    await s2.complete(
      (async () => {
        await fs2.mkdir('/d', { recursive: true });
        await writeFile(fs2, '/d/old', 'x', true);
        await syncDir(fs2, '/');
        await fs2.rename('/d/old', '/d/renamed');
        await syncDir(fs2, '/d');
      })(),
    );
    disk2.crash();
    assert.deepEqual(disk2.list('/d'), ['renamed']);
  }
  assert.deepEqual([...seen].sort(), ['gone,old', 'gone,renamed', 'old', 'renamed']);
});

test('a directory whose own entry was never synced may vanish whole at a crash', async () => {
  let lost = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const { scheduler, disk, fs } = world(seed);
    await scheduler.complete(
      (async () => {
        await fs.mkdir('/top/wal', { recursive: true });
        await syncDir(fs, '/top'); // makes `wal` durable in /top, but not /top in /
        await writeFile(fs, '/top/wal/seg', 'data', true);
        await syncDir(fs, '/top/wal');
      })(),
    );
    disk.crash();
    if (disk.peek('/top/wal/seg') === null) lost++;
  }
  assert.ok(lost > 0 && lost < 40, `${lost}`);
});

test('mkdirDurably: a data dir created several levels deep survives every crash', async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { scheduler, disk, fs } = world(seed);
    await scheduler.complete(
      (async () => {
        await mkdirDurably(fs, '/top/data/wal');
        await writeFile(fs, '/top/data/wal/seg', 'data', true);
        await syncDir(fs, '/top/data/wal');
      })(),
    );
    disk.crash();
    assert.notEqual(disk.peek('/top/data/wal/seg'), null, `seed ${seed}`);
  }
});

// Found by the whole-node simulator (19 of seeds 1..120: Restart failed, "needs that snapshot's
// file"): RaftNode.open made the snapshot dir with a plain mkdir; the Snapshotter's mkdirDurably
// found it there and synced nothing, so a power cut took the dir and every snapshot in it away
// while the WAL vouched for one of them.
test('mkdirDurably: a dir that a plain mkdir made first survives a crash too', async () => {
  const { scheduler, disk, fs } = world(1, { dirChangeKeepProbability: 0 });
  await scheduler.complete(
    (async () => {
      await fs.mkdir('/data/snap', { recursive: true }); // both levels by a plain mkdir (seed 6400: /data by a process killed before its fsync)
      await mkdirDurably(fs, '/data/snap');
      await writeFile(fs, '/data/snap/1.snap', 'snapshot', true);
      await syncDir(fs, '/data/snap');
    })(),
  );
  disk.crash();
  assert.notEqual(disk.peek('/data/snap/1.snap'), null);
});

test('ENOSPC: a write beyond the capacity writes what fits, the next fails; unlinking frees space', async () => {
  const { scheduler, disk, fs } = world(1, { capacityBytes: 10 });
  const got = await scheduler.complete(
    (async () => {
      const fh = await fs.open('/f', 'w');
      const first = await fh.write(Buffer.from('0123456789abc'), 0, 13, 0);
      const second = await code(fh.write(Buffer.from('x'), 0, 1, 10));
      const overwrite = await fh.write(Buffer.from('ZZ'), 0, 2, 0); // no growth: fine
      await fh.close();
      const full = await code(writeFile(fs, '/g', 'more', false));
      await fs.unlink('/f');
      const afterUnlink = await code(writeFile(fs, '/h', 'space!', false));
      disk.setCapacity(1000);
      return { first: first.bytesWritten, second, overwrite: overwrite.bytesWritten, full, afterUnlink, more: await code(writeFile(fs, '/i', 'x'.repeat(500), false)) };
    })(),
  );
  assert.deepEqual(got, { first: 10, second: 'ENOSPC', overwrite: 2, full: 'ENOSPC', afterUnlink: 'ok', more: 'ok' });
  assert.equal(disk.usedBytes(), 6 + 500);
});

test('EIO on demand and by probability; a failed fsync dooms the writes it covered, even after a later fsync succeeds', async () => {
  const { scheduler, disk, fs } = world(1);
  disk.failNext('write');
  disk.failNext('sync');
  const got = await scheduler.complete(
    (async () => {
      const fh = await fs.open('/f', 'w');
      const write = await code(fh.write(Buffer.from('lost'), 0, 4, 0));
      await writeAll(fh, Buffer.from('doomed'), 0);
      const sync = await code(fh.sync());
      const readBack = await fs.readFile('/f', { encoding: 'utf8' });
      await writeAll(fh, Buffer.from('!'), 6);
      const retry = await code(fh.sync());
      await fh.close();
      await syncDir(fs, '/');
      return { write, sync, readBack, retry };
    })(),
  );
  assert.deepEqual(got, { write: 'EIO', sync: 'EIO', readBack: 'doomed', retry: 'ok' });
  disk.crash();
  assert.equal(text(disk.peek('/f'))?.replace(/\0/g, '0'), '000000!');

  const flaky = world(2, { writeFailProbability: 0.3, syncFailProbability: 0.3 });
  const results = await flaky.scheduler.complete(
    (async () => {
      const fh = await flaky.fs.open('/f', 'w');
      const out: string[] = [];
      for (let k = 0; k < 40; k++) out.push(await code(k % 2 ? fh.sync() : fh.write(Buffer.from('x'), 0, 1, k)));
      return out;
    })(),
  );
  assert.ok(results.includes('EIO') && results.includes('ok'));
});

test('short writes: writeAll still writes everything', async () => {
  const { scheduler, disk, fs } = world(3, { shortWriteProbability: 0.9 });
  const counts: number[] = [];
  await scheduler.complete(
    (async () => {
      const fh = await fs.open('/f', 'w');
      counts.push((await fh.write(Buffer.from('abcdefgh'), 0, 8, 0)).bytesWritten);
      await writeAll(fh, Buffer.from('0123456789'), 0);
      await fh.close();
    })(),
  );
  assert.ok(counts[0]! < 8);
  assert.equal(text(disk.peek('/f')), '0123456789');
});

test('operations take virtual time (fsync longer), interleave and complete out of order; a write reads its buffer when it completes', async () => {
  const { scheduler, disk, fs } = world(5, { latencyMs: { minMs: 1, maxMs: 10 }, syncLatencyMs: { minMs: 50, maxMs: 60 } });
  const order: string[] = [];
  await scheduler.complete(
    (async () => {
      const fh = await fs.open('/f', 'w');
      const buf = Buffer.from('before');
      const start = scheduler.now;
      const writes = Array.from({ length: 8 }, (_, k) => fh.write(Buffer.from(`${k}`), 0, 1, k).then(() => order.push(`w${k}`)));
      const pending = fh.write(buf, 0, 6, 8);
      buf.write('after!'); // the caller reuses its buffer before the write completed
      await Promise.all([...writes, pending]);
      const writeTime = scheduler.now - start;
      const syncStart = scheduler.now;
      await fh.sync();
      assert.ok(scheduler.now - syncStart >= 50 && writeTime <= 10);
      await fh.close();
    })(),
  );
  assert.notDeepEqual(order, [...order].sort());
  assert.equal(text(disk.peek('/f')), '01234567after!');
});

test("a dead process: 'freeze' never settles what it started, 'fail' rejects with EIO; a new mount sees the disk", async () => {
  const frozen = world(1);
  const fh = await frozen.scheduler.complete(frozen.fs.open('/f', 'w'));
  const write = fh.write(Buffer.from('x'), 0, 1, 0);
  frozen.disk.killProcess();
  await assert.rejects(frozen.scheduler.complete(write), /did not settle/);
  await assert.rejects(frozen.scheduler.complete(frozen.fs.readdir('/')), /did not settle/);
  assert.deepEqual(await frozen.scheduler.complete(frozen.disk.mount().readdir('/')), ['f']);

  const failing = world(1, { deadProcess: 'fail' });
  const fh2 = await failing.scheduler.complete(failing.fs.open('/f', 'w'));
  failing.disk.crash();
  assert.equal(await failing.scheduler.complete(code(fh2.write(Buffer.from('x'), 0, 1, 0))), 'EIO');
  const names = await failing.scheduler.complete(failing.disk.mount().readdir('/'));
  assert.ok(names.length === 0 || (names.length === 1 && names[0] === 'f')); // its name was never synced: kept or lost
});

test('the same seed gives the same trace; another seed a different one', async () => {
  const run = async (seed: number) => {
    const lines: string[] = [];
    const { scheduler, disk, fs } = world(seed, { trace: (line) => lines.push(line), writeFailProbability: 0.1 });
    await scheduler.complete(
      (async () => {
        await fs.mkdir('/d', { recursive: true });
        await Promise.all(Array.from({ length: 6 }, (_, k) => writeFile(fs, `/d/${k}`, `file ${k}`, k % 2 === 0).catch(() => {})));
        await fs.readdir('/d');
      })(),
    );
    disk.crash();
    return lines;
  };
  const a = await run(11);
  assert.deepEqual(a, await run(11));
  assert.notDeepEqual(a, await run(12));
});

test('a deleted file is kept while a crash could bring it back (its unlink not synced, or a handle open), and freed after', async () => {
  const { scheduler, disk, fs } = world();
  const held: Record<string, number> = {};
  await scheduler.complete(
    (async () => {
      await fs.mkdir('/d', { recursive: true });
      await syncDir(fs, '/');
      await writeFile(fs, '/d/a', 'x'.repeat(1000), true);
      await writeFile(fs, '/d/b', 'y', true);
      await syncDir(fs, '/d');
      const open = await fs.open('/d/b', 'r');
      await fs.unlink('/d/a');
      await fs.unlink('/d/b');
      held.unlinked = disk.heldFiles();
      await syncDir(fs, '/d');
      held.dirSynced = disk.heldFiles(); // b still open
      await open.close();
      held.closed = disk.heldFiles();
    })(),
  );
  assert.deepEqual(held, { unlinked: 2, dirSynced: 1, closed: 0 });
  disk.crash();
  assert.deepEqual(disk.list('/d'), [], 'the synced unlinks hold');
});

test('a write copies its bytes, as write(2) does: the caller may reuse its Buffer once the write resolves', async () => {
  const { scheduler, disk, fs } = world();
  await scheduler.complete(
    (async () => {
      const fh = await fs.open('/reused', 'w');
      const buf = Buffer.from('first');
      await writeAll(fh, buf, 0);
      buf.write('XXXXX'); // a snapshot's chunk buffer is refilled like this for the next chunk
      await writeAll(fh, buf, 5);
      buf.write('YYYYY'); // and again, before the sync
      await fh.sync();
      await fh.close();
      await syncDir(fs, '/');
    })(),
  );
  assert.equal(text(disk.peek('/reused')), 'firstXXXXX');
  disk.crash(); // what survives is what was synced: the bytes as they were written
  assert.equal(text(disk.peek('/reused')), 'firstXXXXX');
});

test('a dataSync handle (O_DSYNC): each write is durable when it resolves and takes a write\'s and an fsync\'s time; a failed sync rejects it and dooms it; off, the handle is a plain one', async () => {
  const { scheduler, disk, fs } = world(11, { latencyMs: { minMs: 1, maxMs: 1 }, syncLatencyMs: { minMs: 40, maxMs: 40 }, tornProbability: 0 });
  const got = await scheduler.complete(
    (async () => {
      const fh = await fs.open('/f', 'w+', { dataSync: true });
      await syncDir(fs, '/');
      const start = scheduler.now;
      await writeAll(fh, Buffer.from('kept'), 0);
      const took = scheduler.now - start;
      disk.failNext('sync');
      const failed = await code(fh.write(Buffer.from('LOST'), 0, 4, 4));
      const readBack = await fs.readFile('/f', { encoding: 'utf8' });
      const badFlags = await code(fs.open('/g', 'w', { dataSync: true }));
      return { dataSync: fh.dataSync, took, failed, readBack, badFlags };
    })(),
  );
  assert.deepEqual(got, { dataSync: true, took: 41, failed: 'EIO', readBack: 'keptLOST', badFlags: 'EINVAL' });
  disk.crash(); // no fsync was called: the first write is durable by itself, the failed one is lost
  assert.equal(text(disk.peek('/f')), 'kept');

  // A platform without O_DSYNC: the handle says so, and its unsynced write can be lost (this seed's crash keeps none).
  const plain = world(11, { dataSync: false, tornProbability: 0, zeroFillProbability: 0 });
  const flag = await plain.scheduler.complete(
    (async () => {
      const fh = await plain.fs.open('/f', 'w+', { dataSync: true });
      await syncDir(plain.fs, '/');
      await writeAll(fh, Buffer.from('gone'), 0);
      return fh.dataSync;
    })(),
  );
  assert.equal(flag, false);
  plain.disk.crash();
  assert.equal(text(plain.disk.peek('/f')), '');
});
