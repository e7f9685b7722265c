// WAL round trips: entries, HardState and snapshot markers across segment cuts, Raft's
// truncation-by-append, opening at a snapshot, retention and purge.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { Wal, isStorageError, StorageErrorCode } from '../../src/storage/index.ts';
import { brief, ent, range, walFiles, withTmp } from './helpers.ts';

const META = { nodeId: 1, clusterId: 'cluster-a' };
const SMALL = { segmentBytes: 1024 };

test('create, save, reopen: entries, HardState and meta come back', () =>
  withTmp(async (tmp) => {
    const dir = join(tmp, 'raftexample-1');
    assert.equal(await Wal.exists(dir), false);
    const wal = await Wal.create(dir, META);
    assert.equal(await Wal.exists(dir), true);
    await wal.save({ term: 1, vote: 1, commit: 0 }, range(1, 3, 1), true);
    await wal.save({ term: 1, vote: 1, commit: 3 }, [], true);
    await wal.close();
    const r = await Wal.open(dir, { index: 0, term: 0 });
    assert.deepEqual(r.meta, META);
    assert.deepEqual(r.hardState, { term: 1, vote: 1, commit: 3 });
    assert.deepEqual(brief(r.entries), brief(range(1, 3, 1)));
    assert.equal(r.repaired, false);
    await r.wal.close();
    await assert.rejects(Wal.create(dir, META), (e) => isStorageError(e, StorageErrorCode.WalExists));
  }));

test('a new WAL with nothing saved opens empty', () =>
  withTmp(async (dir) => {
    await (await Wal.create(dir, META)).close();
    const r = await Wal.open(dir, { index: 0, term: 0 });
    assert.deepEqual(r.hardState, { term: 0, vote: 0, commit: 0 });
    assert.deepEqual(r.entries, []);
    await r.wal.close();
  }));

test('round trip across many segment cuts, reopening and appending in between', () =>
  withTmp(async (dir) => {
    let wal = await Wal.create(dir, META, SMALL);
    let next = 1;
    for (let round = 0; round < 3; round++) {
      for (let b = 0; b < 20; b++) {
        await wal.save({ term: 2, vote: 1, commit: next - 1 }, range(next, next + 4, 2), b % 3 === 0);
        next += 5;
      }
      await wal.close();
      const r = await Wal.open(dir, { index: 0, term: 0 }, SMALL);
      assert.deepEqual(brief(r.entries), brief(range(1, next - 1, 2)));
      assert.deepEqual(r.hardState, { term: 2, vote: 1, commit: next - 6 });
      wal = r.wal;
    }
    const files = await walFiles(dir);
    assert.ok(files.length > 5, `expected several segments, got ${files.length}`);
    assert.deepEqual(files, wal.segmentNames());
    assert.match(files[0]!, /^0{16}-0{16}\.wal$/);
    assert.match(files[1]!, /^0{15}1-[0-9a-f]{16}\.wal$/);
    await wal.close();
  }));

test('a later entry for an index replaces it and everything after it', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META, SMALL);
    await wal.save({ term: 1, vote: 1, commit: 2 }, range(1, 30, 1), true);
    await wal.save({ term: 2, vote: 2, commit: 2 }, range(6, 8, 2), true); // new leader overwrote 6..30
    await wal.save(null, range(9, 9, 2), true);
    await wal.save({ term: 3, vote: 3, commit: 2 }, range(9, 10, 3), true);
    await wal.close();
    const r = await Wal.open(dir, { index: 0, term: 0 }, SMALL);
    assert.deepEqual(brief(r.entries), brief([...range(1, 5, 1), ...range(6, 8, 2), ...range(9, 10, 3)]));
    await r.wal.close();
  }));

test('open at a snapshot returns only the entries after it; unknown snapshots and gaps are refused', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META, SMALL);
    await wal.save({ term: 1, vote: 1, commit: 20 }, range(1, 20, 1), true);
    await wal.saveSnapshotMarker({ index: 10, term: 1 });
    // A snapshot received from the leader far ahead: the log restarts after 500.
    await wal.save({ term: 2, vote: 0, commit: 500 }, [], true);
    await wal.saveSnapshotMarker({ index: 500, term: 2 });
    await wal.save({ term: 2, vote: 0, commit: 502 }, range(501, 502, 2), true);
    await wal.close();

    assert.deepEqual(await Wal.snapshotMarkers(dir), [
      { index: 10, term: 1 },
      { index: 500, term: 2 },
    ]);
    const r = await Wal.open(dir, { index: 500, term: 2 }, SMALL);
    assert.deepEqual(brief(r.entries), brief(range(501, 502, 2)));
    assert.deepEqual(r.hardState, { term: 2, vote: 0, commit: 502 });
    await r.wal.close();

    await assert.rejects(Wal.open(dir, { index: 10, term: 1 }, SMALL), (e) => isStorageError(e, StorageErrorCode.WalGap) && /snapshot at index 500 term 2 replaced the log after index 10/.test(e.message));
    await assert.rejects(Wal.open(dir, { index: 11, term: 1 }, SMALL), (e) => isStorageError(e, StorageErrorCode.WalSnapshotNotFound));
    await assert.rejects(Wal.open(dir, { index: 500, term: 3 }, SMALL), (e) => isStorageError(e, StorageErrorCode.WalSnapshotNotFound));
  }));

test('markers beyond the last committed index are not vouched for', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    await wal.save({ term: 1, vote: 1, commit: 5 }, range(1, 8, 1), true);
    await wal.saveSnapshotMarker({ index: 5, term: 1 });
    await wal.saveSnapshotMarker({ index: 8, term: 1 }); // crash before the HardState committing 8
    await wal.close();
    assert.deepEqual(await Wal.snapshotMarkers(dir), [{ index: 5, term: 1 }]);
  }));

test('releaseTo purges old segments beyond maxWals, never one holding entries after the snapshot', () =>
  withTmp(async (dir) => {
    const opts = { segmentBytes: 1024, maxWals: 1 };
    const last = 400;
    const snap = 240;
    const wal = await Wal.create(dir, META, opts);
    for (let i = 1; i <= last; i += 10) await wal.save({ term: 1, vote: 1, commit: i + 9 }, range(i, i + 9, 1), true);
    const before = await walFiles(dir);
    assert.ok(before.length >= 6, `want 6 segments, got ${before.length}`);
    await wal.saveSnapshotMarker({ index: snap, term: 1 });
    await wal.releaseTo(snap);
    const after = await walFiles(dir);
    assert.ok(after.length < before.length, 'something was purged');
    assert.deepEqual(after, wal.segmentNames());
    await wal.close();

    // Everything after the snapshot is still there, and so is the HardState.
    const markers = await Wal.snapshotMarkers(dir, opts);
    assert.deepEqual(markers.at(-1), { index: snap, term: 1 });
    const r = await Wal.open(dir, { index: snap, term: 1 }, opts);
    assert.deepEqual(brief(r.entries), brief(range(snap + 1, last, 1)));
    assert.deepEqual(r.hardState, { term: 1, vote: 1, commit: last });
    await r.wal.close();
    // Exactly one releasable segment is kept: the oldest remaining one holds nothing after
    // the snapshot, its successor does.
    const firsts = after.map((n) => Number.parseInt(n.slice(17, 33), 16));
    assert.ok(firsts[1]! <= snap + 1 && (firsts[2] ?? Infinity) > snap + 1, `segments ${after.join(' ')}`);
  }));

test('the HardState and snapshot marker survive the purge of the segments that held them', () =>
  withTmp(async (dir) => {
    const opts = { segmentBytes: 1024, maxWals: 0 };
    const wal = await Wal.create(dir, META, opts);
    await wal.save({ term: 4, vote: 2, commit: 250 }, range(1, 10, 4), true); // the only HardState record
    await wal.saveSnapshotMarker({ index: 10, term: 4 }); // the only marker record
    for (let i = 11; i <= 300; i += 10) await wal.save(null, range(i, i + 9, 4), true);
    await wal.saveSnapshotMarker({ index: 200, term: 4 });
    await wal.releaseTo(200);
    const files = await walFiles(dir);
    assert.equal(files.includes('0000000000000000-0000000000000000.wal'), false);
    await wal.close();
    const r = await Wal.open(dir, { index: 200, term: 4 }, opts);
    assert.deepEqual(r.hardState, { term: 4, vote: 2, commit: 250 });
    assert.deepEqual(brief(r.entries), brief(range(201, 300, 4)));
    await r.wal.close();
    // Marker 10 was carried into every later segment head.
    assert.deepEqual((await Wal.snapshotMarkers(dir, opts))[0], { index: 10, term: 4 });
  }));

test('a batch larger than a segment is split at cuts and reads back whole', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META, SMALL);
    const big = range(1, 100, 1).map((e) => ent(e.index, 1, 'x'.repeat(50)));
    await wal.save({ term: 1, vote: 1, commit: 0 }, big, true);
    await wal.save(null, [ent(101, 1, 'y'.repeat(3000))], true); // one record larger than a segment
    await wal.save(null, [ent(102, 1)], true);
    await wal.close();
    const files = await walFiles(dir);
    assert.ok(files.length >= 6, `want 6 segments, got ${files.length}`);
    const r = await Wal.open(dir, { index: 0, term: 0 }, SMALL);
    assert.deepEqual(brief(r.entries), brief([...big, ent(101, 1, 'y'.repeat(3000)), ent(102, 1)]));
    await r.wal.close();
  }));

test('bad arguments are refused before touching the disk', () =>
  withTmp(async (dir) => {
    await assert.rejects(Wal.create(join(dir, 'a'), { nodeId: 0, clusterId: 'c' }), (e) => isStorageError(e, StorageErrorCode.BadArgument));
    await assert.rejects(Wal.create(join(dir, 'b'), { nodeId: 1, clusterId: 'x'.repeat(65) }), (e) => isStorageError(e, StorageErrorCode.BadArgument));
    await assert.rejects(Wal.open(join(dir, 'none'), { index: 0, term: 0 }), (e) => isStorageError(e, StorageErrorCode.WalNotFound));
  }));
