// Snapshot retention against the WAL: a crash between saving a snapshot file and its WAL
// marker must leave a snapshot a restart can use, even with one file kept and the old
// segments purged; retention never removes the newest snapshot the WAL vouches for.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot } from '../../src/raftpb/types.ts';
import { isStorageError, Snapshotter, snapshotFileName, StorageErrorCode, Wal } from '../../src/storage/index.ts';
import { brief, ent, faultyFs, range, walFiles, withTmp } from './helpers.ts';

const META = { nodeId: 1, clusterId: 'c' };

function snap(index: number, term: number): Snapshot {
  return { metadata: { index, term, confState: { voters: [1], learners: [] } }, data: Buffer.from(`state at ${index}`) };
}

/** Entries of 100 bytes: a few fill a small segment. */
const wide = (from: number, to: number, term: number) => range(from, to, term).map((e) => ent(e.index, e.term, `${e.index}`.padEnd(100, '.')));

/** The node's order after a local snapshot: file, marker, release the WAL, retain the files. */
async function snapshotAt(wal: Wal, snapshotter: Snapshotter, s: Snapshot): Promise<void> {
  await snapshotter.save(s);
  await wal.saveSnapshotMarker({ index: s.metadata.index, term: s.metadata.term });
  await wal.releaseTo(s.metadata.index);
  await snapshotter.retain(wal.newestVouchedMarker());
}

test('a crash between saving a snapshot file and its WAL marker leaves a usable snapshot (max-snapshots 1, segments purged)', () =>
  withTmp(async (root) => {
    const walDir = join(root, 'wal');
    const snapDir = join(root, 'snap');
    const fault = { write: false };
    const opts = { segmentBytes: 1024, maxWals: 0, fs: faultyFs(fault) };
    const snapshotter = new Snapshotter(snapDir, { maxSnapshots: 1 });
    const wal = await Wal.create(walDir, META, opts);
    for (let i = 1; i <= 100; i += 10) await wal.save({ term: 1, vote: 1, commit: i + 9 }, wide(i, i + 9, 1), true);
    await snapshotAt(wal, snapshotter, snap(100, 1));
    for (let i = 101; i <= 200; i += 10) await wal.save({ term: 1, vote: 1, commit: i + 9 }, wide(i, i + 9, 1), true);
    assert.ok(!(await walFiles(walDir)).includes('0000000000000000-0000000000000000.wal'), 'segments before 100 were purged');

    await snapshotter.save(snap(200, 1));
    fault.write = true; // the disk fails (or the process dies) before the marker is written
    await assert.rejects(wal.saveSnapshotMarker({ index: 200, term: 1 }), (e) => isStorageError(e, StorageErrorCode.WalFailed));
    await wal.close();

    // Restart as recovery does: the snapshot at 100 is still there, and the WAL has what follows it.
    const markers = await Wal.snapshotMarkers(walDir, { segmentBytes: 1024 });
    const loaded = await new Snapshotter(snapDir, { maxSnapshots: 1 }).loadNewestAvailable(markers);
    assert.equal(loaded?.metadata.index, 100);
    const r = await Wal.open(walDir, { index: 100, term: 1 }, { segmentBytes: 1024 });
    assert.deepEqual(brief(r.entries), brief(wide(101, 200, 1)));
    await r.wal.close();
  }));

test('retention keeps the newest vouched-for snapshot beyond max-snapshots until a newer one is vouched for', () =>
  withTmp(async (root) => {
    const walDir = join(root, 'wal');
    const snapDir = join(root, 'snap');
    const snapshotter = new Snapshotter(snapDir, { maxSnapshots: 1 });
    const wal = await Wal.create(walDir, META);
    await wal.save({ term: 1, vote: 1, commit: 10 }, range(1, 20, 1), true);
    await snapshotAt(wal, snapshotter, snap(10, 1));
    assert.deepEqual(wal.newestVouchedMarker(), { index: 10, term: 1 });

    // A marker the synced commit does not reach yet (as after installing a leader's snapshot
    // whose HardState is written without an fsync): the older file stays.
    await snapshotter.save(snap(20, 1));
    await wal.saveSnapshotMarker({ index: 20, term: 1 });
    await snapshotter.retain(wal.newestVouchedMarker());
    assert.deepEqual((await readdir(snapDir)).sort(), [snapshotFileName(1, 10), snapshotFileName(1, 20)]);

    await wal.save({ term: 1, vote: 1, commit: 20 }, [], true);
    assert.deepEqual(wal.newestVouchedMarker(), { index: 20, term: 1 });
    await snapshotter.retain(wal.newestVouchedMarker());
    assert.deepEqual(await readdir(snapDir), [snapshotFileName(1, 20)]);
    await wal.close();

    // What the WAL vouches for is known again after a restart.
    const r = await Wal.open(walDir, { index: 20, term: 1 });
    assert.deepEqual(r.wal.newestVouchedMarker(), { index: 20, term: 1 });
    await r.wal.close();
  }));
