// I/O failures poison the WAL (an fsync is never retried); the directory lock keeps a
// second writer out; crash leftovers of a segment cut are cleaned up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Wal, isStorageError, nodeFs, StorageErrorCode, type StorageFs } from '../../src/storage/index.ts';
import type { StorageFileHandle } from '../../src/storage/fs.ts';
import { walPreallocateBytes } from '../../src/limits.ts';
import { brief, ent, faultyFs, logEnd, range, walFiles, withTmp } from './helpers.ts';

const META = { nodeId: 1, clusterId: 'c' };
const AT0 = { index: 0, term: 0 };


test('a failed fsync puts the WAL in a failed state: every later call rejects, nothing is retried', () =>
  withTmp(async (dir) => {
    const fault: { datasync?: boolean; calls: string[] } = { calls: [] };
    const wal = await Wal.create(dir, META, { fs: faultyFs(fault) });
    await wal.save({ term: 1, vote: 1, commit: 0 }, range(1, 3, 1), true);
    fault.datasync = true;
    await assert.rejects(wal.save(null, range(4, 4, 1), true), (e) => isStorageError(e, StorageErrorCode.WalFailed) && /fsync/.test(e.message));
    fault.datasync = false;
    fault.calls.length = 0;
    await assert.rejects(wal.save(null, range(5, 5, 1), true), (e) => isStorageError(e, StorageErrorCode.WalFailed));
    await assert.rejects(wal.saveSnapshotMarker({ index: 1, term: 1 }), (e) => isStorageError(e, StorageErrorCode.WalFailed));
    await assert.rejects(wal.releaseTo(1), (e) => isStorageError(e, StorageErrorCode.WalFailed));
    assert.deepEqual(fault.calls, [], 'no write or fsync after the failure');
    await wal.close(); // still releases the lock
    const r = await Wal.open(dir, AT0);
    assert.deepEqual(brief(r.entries).slice(0, 3), brief(range(1, 3, 1)));
    await r.wal.close();
  }));

test('a failed write puts the WAL in a failed state', () =>
  withTmp(async (dir) => {
    const fault: { write?: boolean } = {};
    const wal = await Wal.create(dir, META, { fs: faultyFs(fault) });
    fault.write = true;
    await assert.rejects(wal.save(null, range(1, 1, 1), false), (e) => isStorageError(e, StorageErrorCode.WalFailed) && /ENOSPC/.test(e.message));
    fault.write = false;
    await assert.rejects(wal.save(null, range(1, 1, 1), false), (e) => isStorageError(e, StorageErrorCode.WalFailed));
    await wal.close();
  }));

test('group commit: a batch is one write and one datasync; an unsynced save does no fsync', () =>
  withTmp(async (dir) => {
    const fault = { calls: [] as string[] };
    const wal = await Wal.create(dir, META, { fs: faultyFs(fault) });
    fault.calls.length = 0;
    await wal.save({ term: 1, vote: 1, commit: 0 }, range(1, 256, 1), true);
    // The first write of a segment fills zeros ahead first (see the preallocation test).
    assert.deepEqual(fault.calls, ['write', 'write', 'datasync']);
    fault.calls.length = 0;
    await wal.save({ term: 1, vote: 1, commit: 0 }, range(257, 512, 1), true);
    assert.deepEqual(fault.calls, ['write', 'datasync']);
    fault.calls.length = 0;
    await wal.save({ term: 1, vote: 1, commit: 5 }, [], false);
    assert.deepEqual(fault.calls, ['write']);
    await wal.close();
  }));

test('synchronous data writes (O_DSYNC on the segment): a synced batch is one write and no datasync; the descriptor has O_DSYNC', () =>
  withTmp(async (dir) => {
    const calls: string[] = [];
    const fds: number[] = [];
    // Counts the calls on the handles the WAL opens, passing dataSync through both ways.
    const counting: StorageFs = {
      ...nodeFs,
      async open(path, flags, options) {
        const fh = (await nodeFs.open(path, flags, options)) as StorageFileHandle & { fd: number };
        if (options?.dataSync === true) fds.push(fh.fd);
        return {
          dataSync: fh.dataSync,
          read: (b, o, l, p) => fh.read(b, o, l, p),
          stat: () => fh.stat(),
          truncate: (n) => fh.truncate(n),
          close: () => fh.close(),
          sync: () => (calls.push('sync'), fh.sync()),
          datasync: () => (calls.push('datasync'), fh.datasync()),
          write: (b, o, l, p) => (calls.push('write'), fh.write(b, o, l, p)),
        };
      },
    };
    const wal = await Wal.create(dir, META, { fs: counting });
    assert.equal(fds.length, 1);
    const flags = Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(await readFile(`/proc/self/fdinfo/${fds[0]}`, 'utf8'))![1]!, 8);
    assert.ok((flags & fsConstants.O_DSYNC) !== 0, `flags ${flags.toString(8)}`);
    calls.length = 0;
    await wal.save({ term: 1, vote: 1, commit: 0 }, range(1, 256, 1), true);
    await wal.save({ term: 1, vote: 1, commit: 5 }, [], false);
    await wal.saveSnapshotMarker({ index: 6, term: 1 }); // beyond the commit: not vouched for yet
    assert.equal(wal.newestVouchedMarker(), null);
    await wal.save({ term: 1, vote: 1, commit: 6 }, range(257, 257, 1), true);
    // Four writes and no fsync: the HardState alone (commit 5, unsynced) was held back, then
    // written just before the marker (which it must vouch for). And one more, first: the
    // zeros filled ahead of the segment's records.
    assert.deepEqual(calls, ['write', 'write', 'write', 'write', 'write']);
    // The marker is vouched for once a synced save commits it, with no fsync called.
    assert.deepEqual(wal.newestVouchedMarker(), { index: 6, term: 1 });
    // What a kill -9 would leave: the directory as it is now, read by another WAL.
    let copies = 0;
    const onDisk = async () => {
      const copy = `${dir}-copy${copies++}`;
      await cp(dir, copy, { recursive: true });
      await rm(join(copy, 'LOCK'));
      const r = await Wal.open(copy, AT0);
      await r.wal.close();
      await rm(copy, { recursive: true });
      return { commit: r.hardState.commit, last: r.entries[r.entries.length - 1]!.index };
    };
    // A held-back HardState rides with the next save that has entries, or is written at close.
    await wal.save({ term: 1, vote: 1, commit: 7 }, [], false);
    assert.deepEqual(await onDisk(), { commit: 6, last: 257 });
    await wal.save(null, range(258, 258, 1), true);
    assert.deepEqual(await onDisk(), { commit: 7, last: 258 });
    await wal.save({ term: 1, vote: 1, commit: 8 }, [], false);
    assert.equal(calls.length, 6);
    await wal.close();
    assert.equal(calls.length, 7);
    const r = await Wal.open(dir, AT0);
    assert.equal(r.entries.length, 258);
    assert.deepEqual(r.hardState, { term: 1, vote: 1, commit: 8 });
    await r.wal.close();
  }));

test('a HardState held back (commit only, unsynced) is written before a snapshot marker, so the marker is vouched for on disk', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    await wal.save({ term: 1, vote: 1, commit: 0 }, range(1, 10, 1), true);
    await wal.save({ term: 1, vote: 1, commit: 10 }, [], false); // held back
    assert.deepEqual(await Wal.snapshotMarkers(dir), []);
    await wal.saveSnapshotMarker({ index: 10, term: 1 });
    // Read as a restart after a kill -9 would: without the commit on disk, the snapshot at 10
    // would not count, and once releaseTo(10) purged the entries under it, nothing would.
    assert.deepEqual(await Wal.snapshotMarkers(dir), [{ index: 10, term: 1 }]);
    await wal.close();
  }));

test('an entry larger than the record limit is refused without failing the WAL', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    const huge = { index: 1, term: 1, type: 0 as const, data: new Uint8Array(64 * 1024 * 1024 + 1) };
    await assert.rejects(wal.save(null, [huge], true), (e) => isStorageError(e, StorageErrorCode.WalRecordTooLarge));
    await wal.save(null, range(1, 1, 1), true);
    await wal.close();
  }));

test('closed WAL rejects calls', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    await wal.close();
    await assert.rejects(wal.save(null, [], true), (e) => isStorageError(e, StorageErrorCode.WalClosed));
  }));

test('the directory lock keeps a second writer out and is taken over from a dead process', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    await assert.rejects(Wal.open(dir, AT0), (e) => isStorageError(e, StorageErrorCode.WalLocked));
    await wal.close();
    // A process that held the lock was killed: its pid no longer runs.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(join(dir, 'LOCK'), `${dead}\n`);
    const r = await Wal.open(dir, AT0);
    await r.wal.close();
    // A live process (our parent) holds it.
    await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`);
    await assert.rejects(Wal.open(dir, AT0), (e) => isStorageError(e, StorageErrorCode.WalLocked) && /running process/.test(e.message));
  }));

test('two overlapping opens in one process: exactly one gets the lock', () =>
  withTmp(async (dir) => {
    await (await Wal.create(dir, META)).close();
    const results = await Promise.allSettled([Wal.open(dir, AT0), Wal.open(dir, AT0)]);
    const opened = results.filter((r) => r.status === 'fulfilled');
    assert.equal(opened.length, 1, 'only one open may hold the WAL');
    const refused = results.find((r) => r.status === 'rejected');
    assert.ok(refused !== undefined && isStorageError(refused.reason, StorageErrorCode.WalLocked));
    await (opened[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof Wal.open>>>).value.wal.close();
  }));

test('Wal.exists: a missing directory is "no WAL"; an unreadable one is an error, never "no WAL"', () =>
  withTmp(async (dir) => {
    assert.equal(await Wal.exists(join(dir, 'absent')), false);
    const eio: StorageFs = { ...nodeFs, readdir: async () => { throw Object.assign(new Error('EIO: injected'), { code: 'EIO' }); } };
    await assert.rejects(Wal.exists(dir, { fs: eio }), (e) => isStorageError(e, StorageErrorCode.Io));
  }));

test('a crash in the middle of a segment cut leaves a .tmp file that open removes', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    await wal.save({ term: 1, vote: 1, commit: 1 }, range(1, 2, 1), true);
    await wal.close();
    await writeFile(join(dir, '0000000000000001-0000000000000003.wal.tmp'), 'half a head');
    const r = await Wal.open(dir, AT0);
    assert.equal(r.entries.length, 2);
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
    await r.wal.close();
  }));

test('batches that would break the log are refused before writing, leaving the WAL usable', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    await wal.save(null, range(1, 5, 2), true);
    const bad = (e: unknown) => isStorageError(e, StorageErrorCode.BadArgument);
    await assert.rejects(wal.save(null, range(7, 8, 2), true), bad); // hole after 5
    await assert.rejects(wal.save(null, [...range(6, 6, 2), ...range(8, 8, 2)], true), bad); // hole inside
    await assert.rejects(wal.save(null, [...range(6, 6, 2), ...range(7, 7, 1)], true), bad); // term goes down
    await assert.rejects(wal.save(null, range(0, 0, 2), true), bad);
    await wal.save(null, range(3, 4, 3), true); // a rewrite (truncation) is fine
    await wal.close();
    const r = await Wal.open(dir, AT0);
    assert.deepEqual(brief(r.entries).map(([i, t]) => [i, t]), [[1, 2], [2, 2], [3, 3], [4, 3]]);
    await r.wal.close();
  }));

test('close waits for calls made before it; calls made after it are refused', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    const pending = [wal.save(null, range(1, 1, 1), false), wal.save(null, range(2, 2, 1), false)];
    const closed = wal.close();
    const late = wal.save(null, range(3, 3, 1), true);
    await Promise.all(pending);
    await closed;
    await assert.rejects(late, (e) => isStorageError(e, StorageErrorCode.WalClosed));
    const r = await Wal.open(dir, AT0);
    assert.equal(r.entries.length, 2);
    await r.wal.close();
  }));

test('a file-system error while reading back surfaces as a StorageError, not a raw one', () =>
  withTmp(async (dir) => {
    await (await Wal.create(dir, META)).close();
    const fs: StorageFs = {
      ...nodeFs,
      async open(path, flags) {
        if (path.endsWith('.wal')) throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', path });
        return nodeFs.open(path, flags);
      },
    };
    await assert.rejects(Wal.open(dir, AT0, { fs }), (e) => isStorageError(e, StorageErrorCode.Io) && e.file!.endsWith('.wal'));
    await assert.rejects(Wal.snapshotMarkers(dir, { fs }), (e) => isStorageError(e, StorageErrorCode.Io));
    const r = await Wal.open(dir, AT0); // the lock was released
    await r.wal.close();
  }));

test('the last segment is zero-filled walPreallocateBytes at a time ahead of its records; a cut leaves the one before with its records alone', () =>
  withTmp(async (dir) => {
    const segmentBytes = 3 * walPreallocateBytes;
    const wal = await Wal.create(dir, META, { segmentBytes });
    const file = async (k: number) => join(dir, (await walFiles(dir))[k]!);
    const size = async (k: number) => (await stat(await file(k))).size;
    const big = (i: number) => ent(i, 1, 'x'.repeat(1000));
    const headEnd = await size(0);
    assert.equal(headEnd, await logEnd(await file(0)), 'a new segment holds its head record alone');
    await wal.save({ term: 1, vote: 1, commit: 0 }, [big(1)], true);
    assert.equal(await size(0), headEnd + walPreallocateBytes, 'filled ahead of the first batch');
    // Batches are written over the zeros already there, the size unchanged, until one would
    // pass them: that one fills walPreallocateBytes more.
    let i = 2;
    let unchanged = 0;
    for (;;) {
      const before = await size(0);
      await wal.save(null, [big(i++)], true);
      if ((await size(0)) === before) {
        unchanged++;
        continue;
      }
      assert.equal(await size(0), before + walPreallocateBytes);
      assert.ok((await logEnd(await file(0))) > before, 'the batch that passed the zeros');
      break;
    }
    assert.ok(unchanged > walPreallocateBytes / 1100, `${unchanged} saves written over the zeros`);
    // Never past the segment limit; at the cut the segment is cut back to its records.
    while ((await walFiles(dir)).length < 2) await wal.save(null, [big(i++)], true);
    assert.ok((await size(0)) <= segmentBytes);
    assert.equal(await size(0), await logEnd(await file(0)), 'no zeros left in a segment that is not the last');
    assert.ok((await size(1)) > (await logEnd(await file(1))), 'the new last segment is filled ahead');
    await wal.close();
    const r = await Wal.open(dir, AT0, { segmentBytes });
    assert.equal(r.repaired, false);
    assert.equal(r.entries.length, i - 1);
    await r.wal.close();
  }));
