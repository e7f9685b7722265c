// Replay across snapshot markers: a snapshot installed from a leader replaced the log (the
// entries it superseded are dropped, as the core's restore drops them); a local snapshot's
// marker keeps the entries after it; terms that no marker explains are still corruption.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Wal, isStorageError, StorageErrorCode } from '../../src/storage/index.ts';
import { brief, ent, range, walFiles, withTmp } from './helpers.ts';

const META = { nodeId: 1, clusterId: 'c' };
const SMALL = { segmentBytes: 1024 };

/** Entries of 100 bytes: a few dozen fill a small segment. */
const wide = (from: number, to: number, term: number) => range(from, to, term).map((e) => ent(e.index, e.term, `${e.index}`.padEnd(100, '.')));

/**
 * What a node writes when it led term 2, appended 11..20 that nobody else got, then
 * installed the term-3 leader's snapshot at 15 (handleReady: snapshot file, marker, then
 * the Ready's HardState and entries), and went on following.
 */
async function divergentLeaderInstalls(dir: string, afterInstall: 'nothing' | 'hardState' | 'entries'): Promise<void> {
  const wal = await Wal.create(dir, META, SMALL);
  await wal.save({ term: 1, vote: 1, commit: 10 }, range(1, 10, 1), true);
  await wal.save({ term: 2, vote: 1, commit: 10 }, range(11, 20, 2), true);
  await wal.saveSnapshotMarker({ index: 15, term: 3 });
  if (afterInstall !== 'nothing') await wal.save({ term: 3, vote: 0, commit: 15 }, [], false);
  if (afterInstall === 'entries') await wal.save({ term: 3, vote: 0, commit: 18 }, range(16, 18, 3), true);
  await wal.close();
}

test('a snapshot installed over a divergent log drops the entries it superseded; the log continues after it', () =>
  withTmp(async (dir) => {
    await divergentLeaderInstalls(dir, 'entries');
    assert.deepEqual(await Wal.snapshotMarkers(dir, SMALL), [{ index: 15, term: 3 }]);
    const r = await Wal.open(dir, { index: 15, term: 3 }, SMALL);
    assert.deepEqual(brief(r.entries), brief(range(16, 18, 3)));
    assert.deepEqual(r.hardState, { term: 3, vote: 0, commit: 18 });
    // The reopened WAL goes on from there, and reads back the same way again.
    await r.wal.save({ term: 3, vote: 0, commit: 19 }, range(19, 19, 3), true);
    await r.wal.close();
    const again = await Wal.open(dir, { index: 15, term: 3 }, SMALL);
    assert.deepEqual(brief(again.entries), brief(range(16, 19, 3)));
    await again.wal.close();
  }));

test('a snapshot installed over a divergent log, nothing after it yet: no entries come back', () =>
  withTmp(async (dir) => {
    await divergentLeaderInstalls(dir, 'hardState');
    const r = await Wal.open(dir, { index: 15, term: 3 }, SMALL);
    assert.deepEqual(r.entries, []);
    assert.deepEqual(r.hardState, { term: 3, vote: 0, commit: 15 });
    await r.wal.close();
  }));

test('a crash between an installed snapshot marker and its HardState: the marker still vouches, the commit is the snapshot', () =>
  withTmp(async (dir) => {
    await divergentLeaderInstalls(dir, 'nothing');
    // The snapshot file was synced before the marker, and a leader's snapshot holds only committed entries.
    assert.deepEqual(await Wal.snapshotMarkers(dir, SMALL), [{ index: 15, term: 3 }]);
    const r = await Wal.open(dir, { index: 15, term: 3 }, SMALL);
    assert.deepEqual(r.entries, []);
    assert.deepEqual(r.hardState, { term: 2, vote: 1, commit: 15 });
    await r.wal.close();
  }));

test('restarting from an older snapshot than an installed one is refused: the log between was replaced', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META, SMALL);
    await wal.save({ term: 1, vote: 1, commit: 10 }, range(1, 10, 1), true);
    await wal.saveSnapshotMarker({ index: 8, term: 1 }); // a local snapshot
    await wal.save({ term: 2, vote: 1, commit: 10 }, range(11, 20, 2), true);
    await wal.saveSnapshotMarker({ index: 15, term: 3 }); // installed; suppose its file is lost
    await wal.save({ term: 3, vote: 0, commit: 18 }, range(16, 18, 3), true);
    await wal.close();
    assert.deepEqual(await Wal.snapshotMarkers(dir, SMALL), [
      { index: 8, term: 1 },
      { index: 15, term: 3 },
    ]);
    for (const at of [{ index: 8, term: 1 }, { index: 0, term: 0 }]) {
      await assert.rejects(
        Wal.open(dir, at, SMALL),
        (e) => isStorageError(e, StorageErrorCode.WalGap) && /snapshot at index 15 term 3 replaced the log after index/.test(e.message),
      );
    }
  }));

test("a local snapshot's marker keeps the entries written before it above its index", () =>
  withTmp(async (dir) => {
    // A follower got 21..30 with commit 20 in one Ready, applied to 20 and snapshotted there.
    const wal = await Wal.create(dir, META, SMALL);
    await wal.save({ term: 1, vote: 1, commit: 20 }, range(1, 30, 1), true);
    await wal.saveSnapshotMarker({ index: 20, term: 1 });
    await wal.close();
    const r = await Wal.open(dir, { index: 20, term: 1 }, SMALL);
    assert.deepEqual(brief(r.entries), brief(range(21, 30, 1)));
    await r.wal.close();
    const all = await Wal.open(dir, { index: 0, term: 0 }, SMALL); // the snapshot file lost: the log has it all
    assert.deepEqual(brief(all.entries), brief(range(1, 30, 1)));
    await all.wal.close();
  }));

test('several markers, local and installed, across segment cuts: each restart point reads back its own log', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META, SMALL);
    await wal.save({ term: 1, vote: 1, commit: 10 }, wide(1, 12, 1), true);
    await wal.saveSnapshotMarker({ index: 10, term: 1 }); // local: 11, 12 stay
    await wal.save({ term: 2, vote: 1, commit: 12 }, wide(13, 40, 2), true); // led term 2, alone
    await wal.saveSnapshotMarker({ index: 30, term: 3 }); // installed over 13..40
    await wal.save({ term: 3, vote: 0, commit: 30 }, wide(31, 45, 3), true);
    await wal.save({ term: 3, vote: 0, commit: 42 }, [], true);
    await wal.saveSnapshotMarker({ index: 42, term: 3 }); // local: 43..45 stay
    await wal.save({ term: 4, vote: 1, commit: 45 }, wide(46, 60, 4), true); // led term 4, alone
    await wal.saveSnapshotMarker({ index: 50, term: 5 }); // installed over 46..60
    await wal.save({ term: 5, vote: 0, commit: 52 }, wide(51, 52, 5), true);
    await wal.close();
    assert.ok((await walFiles(dir)).length > 3, 'the log spans several segments');

    assert.deepEqual(await Wal.snapshotMarkers(dir, SMALL), [
      { index: 10, term: 1 },
      { index: 30, term: 3 },
      { index: 42, term: 3 },
      { index: 50, term: 5 },
    ]);
    const r = await Wal.open(dir, { index: 50, term: 5 }, SMALL);
    assert.deepEqual(brief(r.entries), brief(wide(51, 52, 5)));
    await r.wal.close();
    // From an older restart point, the first installed snapshot after it is the one missing.
    for (const [at, replacedBy] of [[{ index: 42, term: 3 }, 50], [{ index: 30, term: 3 }, 50], [{ index: 10, term: 1 }, 30]] as const) {
      await assert.rejects(
        Wal.open(dir, at, SMALL),
        (e) => isStorageError(e, StorageErrorCode.WalGap) && e.message.includes(`snapshot at index ${replacedBy} term`) && e.message.includes(`after index ${at.index}:`),
      );
    }
  }));

test('terms that go down with no marker to explain them are still corruption', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META, SMALL);
    await wal.save({ term: 2, vote: 1, commit: 3 }, range(1, 5, 2), true);
    await wal.saveSnapshotMarker({ index: 3, term: 2 }); // local: the log holds (3, 2)
    await wal.save(null, range(6, 8, 1), true); // each batch is in order, the two together are not
    await wal.close();
    for (const at of [{ index: 3, term: 2 }, { index: 0, term: 0 }]) {
      await assert.rejects(Wal.open(dir, at, SMALL), (e) => isStorageError(e, StorageErrorCode.WalCorrupt) && /entry 6 has term 1, below the term 2/.test(e.message));
    }
  }));

test('after an installed snapshot, an entry below its term is corruption', () =>
  withTmp(async (dir) => {
    await divergentLeaderInstalls(dir, 'hardState');
    const r = await Wal.open(dir, { index: 15, term: 3 }, SMALL);
    await r.wal.save(null, range(16, 17, 2), true); // term 2 after a term-3 snapshot
    await r.wal.close();
    await assert.rejects(Wal.open(dir, { index: 15, term: 3 }, SMALL), (e) => isStorageError(e, StorageErrorCode.WalCorrupt) && /entry 16 has term 2, below the term 3/.test(e.message));
  }));

test('after an install, segments purged behind a later local snapshot: the restart from it reads back its log', () =>
  withTmp(async (dir) => {
    const opts = { ...SMALL, maxWals: 0 };
    const wal = await Wal.create(dir, META, opts);
    await wal.save({ term: 1, vote: 1, commit: 10 }, wide(1, 10, 1), true);
    await wal.save({ term: 2, vote: 1, commit: 10 }, wide(11, 30, 2), true);
    await wal.saveSnapshotMarker({ index: 15, term: 3 });
    await wal.save({ term: 3, vote: 0, commit: 15 }, [], true);
    await wal.releaseTo(15);
    for (let i = 16; i <= 60; i += 5) await wal.save({ term: 3, vote: 0, commit: i + 4 }, wide(i, i + 4, 3), true);
    await wal.saveSnapshotMarker({ index: 50, term: 3 });
    await wal.releaseTo(50);
    await wal.close();
    const files = await walFiles(dir);
    assert.ok(!files.includes('0000000000000000-0000000000000000.wal'), `the first segments were purged: ${files.join(' ')}`);

    assert.deepEqual((await Wal.snapshotMarkers(dir, opts)).at(-1), { index: 50, term: 3 });
    const r = await Wal.open(dir, { index: 50, term: 3 }, opts);
    assert.deepEqual(brief(r.entries), brief(wide(51, 60, 3)));
    await r.wal.close();
  }));
