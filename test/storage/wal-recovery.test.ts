// Crash recovery: a torn tail at every byte offset is repaired (cut bytes kept in a
// .broken file); damage anywhere else is refused with a StorageError naming the file.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { open, readFile, readdir, rename, stat, truncate, unlink, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Wal, isStorageError, StorageErrorCode, type StorageError } from '../../src/storage/index.ts';
import { brief, copyDir, ent, logEnd, range, walFiles, withTmp, writeAtLogEnd } from './helpers.ts';

const META = { nodeId: 3, clusterId: 'c' };
const SMALL = { segmentBytes: 1024 };
const AT0 = { index: 0, term: 0 };

/** Build a WAL whose last segment ends with `tail` entries written one record at a time; returns the record ends. */
async function buildWal(dir: string, base: number, tail: number) {
  const wal = await Wal.create(dir, META, SMALL);
  await wal.save({ term: 1, vote: 3, commit: 0 }, range(1, base, 1), true);
  const last = async () => join(dir, (await walFiles(dir)).at(-1)!);
  const ends: number[] = [await logEnd(await last())];
  for (let i = base + 1; i <= base + tail; i++) {
    await wal.save(null, [ent(i, 1, `tail-${i}`)], false);
    ends.push(await logEnd(await last()));
  }
  await wal.close();
  return { lastFile: await last(), ends };
}

/** The open was refused as damaged data (code) in `file`, not as some other failure. */
function corruptIn(file: string, code: string = StorageErrorCode.WalCorrupt) {
  return (e: unknown) => {
    assert.ok(isStorageError(e), `expected a StorageError, got ${String(e)}`);
    assert.equal((e as StorageError).code, code, (e as Error).message);
    assert.equal((e as StorageError).file, file, (e as Error).message);
    return true;
  };
}

test('a crash at every byte offset of the last records: recovery keeps exactly the whole records', () =>
  withTmp(async (tmp) => {
    const src = join(tmp, 'src');
    const { lastFile, ends } = await buildWal(src, 40, 3);
    const name = lastFile.slice(src.length + 1);
    const original = await readFile(lastFile);
    assert.ok(original.length > ends.at(-1)!, 'the writer filled zeros ahead of its records');
    const start = ends[0]!;
    // A crash leaves the file cut short (a WAL written before the zeros were filled ahead), or
    // its bytes from the cut on still the zeros filled ahead of them.
    for (const crash of ['cut short', 'zeros after'] as const) {
      for (let cut = start; cut < ends.at(-1)!; cut++) {
        const dir = join(tmp, `${crash === 'cut short' ? 'short' : 'zeros'}-${cut}`);
        await copyDir(src, dir);
        if (crash === 'cut short') await truncate(join(dir, name), cut);
        else await writeFile(join(dir, name), Buffer.concat([original.subarray(0, cut), Buffer.alloc(original.length - cut)]));
        const whole = ends.filter((e) => e <= cut).length - 1; // tail records that survive whole
        const r = await Wal.open(dir, AT0, SMALL);
        const at = `${crash}, cut at ${cut}`;
        assert.deepEqual(brief(r.entries), brief([...range(1, 40, 1), ...range(41, 40 + whole, 1).map((e) => ent(e.index, 1, `tail-${e.index}`))]), at);
        const recordEnd = ends[whole]!;
        // Zeros where the next record would start are the log's end; any byte of it is a tear.
        const torn = original.subarray(recordEnd, cut).some((b) => b !== 0);
        assert.equal(r.repaired, torn, at);
        const broken = (await readdir(dir)).filter((n) => n.endsWith('.broken'));
        if (torn) {
          assert.deepEqual(broken, [`${name}@${recordEnd}.broken`], at);
          const kept = original.subarray(recordEnd, cut);
          let keptEnd = kept.length;
          while (kept[keptEnd - 1] === 0) keptEnd--; // the zeros after a tear are not kept
          assert.deepEqual(await readFile(join(dir, broken[0]!)), kept.subarray(0, keptEnd), at);
          assert.equal((await stat(join(dir, name))).size, recordEnd, at);
        } else {
          assert.deepEqual(broken, [], at);
        }
        // The repaired WAL takes appends and reopens cleanly.
        await r.wal.save({ term: 2, vote: 3, commit: 1 }, [ent(41 + whole, 2, 'after')], true);
        await r.wal.close();
        const again = await Wal.open(dir, AT0, SMALL);
        assert.equal(again.repaired, false, at);
        assert.deepEqual(brief(again.entries.slice(-1)), [[41 + whole, 2, 'after']], at);
        assert.deepEqual(again.hardState, { term: 2, vote: 3, commit: 1 }, at);
        await again.wal.close();
      }
    }
  }));

test('zero-filled space after the last record is the end of the log: nothing repaired, the zeros kept for the next writes', () =>
  withTmp(async (dir) => {
    const { lastFile } = await buildWal(dir, 5, 1);
    await appendFile(lastFile, Buffer.alloc(8192)); // more zeros than the writer filled
    const size = (await stat(lastFile)).size;
    const r = await Wal.open(dir, AT0, SMALL);
    assert.equal(r.repaired, false);
    assert.equal(r.entries.length, 6);
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.broken')), []);
    assert.equal((await stat(lastFile)).size, size);
    await r.wal.save(null, [ent(7, 1, 'seventh')], true);
    await r.wal.close();
    assert.equal((await stat(lastFile)).size, size, 'written over the zeros, not after them');
    const again = await Wal.open(dir, AT0, SMALL);
    assert.deepEqual(brief(again.entries.slice(-1)), [[7, 1, 'seventh']]);
    await again.wal.close();
  }));

test('garbage after the last record (a torn batch) is repaired; Wal.snapshotMarkers ignores it read-only', () =>
  withTmp(async (dir) => {
    const { lastFile, ends } = await buildWal(dir, 5, 1);
    const junk = Buffer.alloc(3000);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) & 0xff;
    assert.equal(await writeAtLogEnd(lastFile, junk), ends.at(-1));
    const before = await readFile(lastFile);
    assert.deepEqual(await Wal.snapshotMarkers(dir, SMALL), []);
    assert.deepEqual(await readFile(lastFile), before, 'snapshotMarkers does not repair');
    const r = await Wal.open(dir, AT0, SMALL);
    assert.equal(r.repaired, true);
    assert.equal(r.entries.length, 6);
    await r.wal.close();
  }));

test('a flipped bit in an earlier record of the last segment is corruption, named with file and offset', () =>
  withTmp(async (dir) => {
    const { lastFile, ends } = await buildWal(dir, 5, 3);
    for (const at of [ends[1]! + 20, ends[1]! + 1, ends[1]! + 4, ends[1]! + 6, ends[1]! + 8, ends[1]! + 13]) {
      const buf = await readFile(lastFile);
      buf[at]! ^= 0x10; // payload, crc, length (two bytes), type, chain link of the second tail record
      await writeFile(lastFile, buf);
      await assert.rejects(Wal.open(dir, AT0, SMALL), (e) => {
        corruptIn(lastFile)(e);
        assert.equal((e as StorageError).code, StorageErrorCode.WalCorrupt);
        assert.equal((e as StorageError).offset, ends[1]);
        return true;
      });
      buf[at]! ^= 0x10;
      await writeFile(lastFile, buf);
    }
    const r = await Wal.open(dir, AT0, SMALL);
    assert.equal(r.entries.length, 8);
    await r.wal.close();
  }));

test('damage to the very last record is indistinguishable from a tear and is repaired (documented limit)', () =>
  withTmp(async (dir) => {
    const { lastFile, ends } = await buildWal(dir, 5, 2);
    const buf = await readFile(lastFile);
    buf[ends[1]! + 20]! ^= 1;
    await writeFile(lastFile, buf);
    const r = await Wal.open(dir, AT0, SMALL);
    assert.equal(r.repaired, true);
    assert.equal(r.entries.length, 6);
    await r.wal.close();
  }));

test('a flipped bit in a segment that is not the last is corruption', () =>
  withTmp(async (dir) => {
    await buildWal(dir, 200, 1);
    const files = await walFiles(dir);
    assert.ok(files.length >= 3, `want 3 segments, got ${files.length}`);
    const victim = join(dir, files[1]!);
    const buf = await readFile(victim);
    buf[buf.length - 3]! ^= 4; // inside the last record of a middle segment
    await writeFile(victim, buf);
    await assert.rejects(Wal.open(dir, AT0, SMALL), corruptIn(victim));
    await assert.rejects(Wal.snapshotMarkers(dir, SMALL), corruptIn(victim));
  }));

test('a missing middle segment is refused, naming the segment after the hole', () =>
  withTmp(async (dir) => {
    await buildWal(dir, 200, 1);
    const files = await walFiles(dir);
    await unlink(join(dir, files[1]!));
    await assert.rejects(Wal.open(dir, AT0, SMALL), (e) => {
      return corruptIn(join(dir, files[2]!), StorageErrorCode.WalMissingSegment)(e);
    });
  }));

test('a swapped pair of segments is refused (contents swapped, or names swapped)', () =>
  withTmp(async (tmp) => {
    const src = join(tmp, 'src');
    await buildWal(src, 200, 1);
    const files = await walFiles(src);
    // Swap the contents of segments 1 and 2 under their names.
    const a = join(tmp, 'a');
    await copyDir(src, a);
    const one = await readFile(join(a, files[1]!));
    const two = await readFile(join(a, files[2]!));
    await writeFile(join(a, files[1]!), two);
    await writeFile(join(a, files[2]!), one);
    await assert.rejects(Wal.open(a, AT0, SMALL), corruptIn(join(a, files[1]!)));
    // Keep each file's first index but swap the sequence numbers.
    const b = join(tmp, 'b');
    await copyDir(src, b);
    const swapped = (n: string, seq: string) => `${seq}${n.slice(16)}`;
    await rename(join(b, files[1]!), join(b, 'x'));
    await rename(join(b, files[2]!), join(b, swapped(files[2]!, files[1]!.slice(0, 16))));
    await rename(join(b, 'x'), join(b, swapped(files[1]!, files[2]!.slice(0, 16))));
    await assert.rejects(Wal.open(b, AT0, SMALL), (e) => isStorageError(e, StorageErrorCode.WalCorrupt) && /chain|seq/.test(e.message));
  }));

test('a segment from another WAL spliced in breaks the chain', () =>
  withTmp(async (tmp) => {
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    await buildWal(a, 200, 1);
    const wal = await Wal.create(b, META, SMALL);
    await wal.save({ term: 1, vote: 3, commit: 0 }, range(1, 200, 1).map((e) => ent(e.index, 1, `other-${e.index}`)), true);
    await wal.close();
    const files = await walFiles(a);
    assert.deepEqual(await walFiles(b), files, 'same names, different contents');
    await writeFile(join(a, files[2]!), await readFile(join(b, files[2]!)));
    await assert.rejects(Wal.open(a, AT0, SMALL), (e) => {
      corruptIn(join(a, files[2]!))(e);
      return /chain/.test((e as Error).message);
    });
  }));

test('hostile length fields are refused without allocating', () =>
  withTmp(async (dir) => {
    const { lastFile, ends } = await buildWal(dir, 5, 3);
    const buf = await readFile(lastFile);
    buf.writeUInt32LE(0xffffffff, ends[1]! + 4); // length of an earlier record
    await writeFile(lastFile, buf);
    // Refused by the length check itself (at that record), before any buffer of that size exists.
    await assert.rejects(Wal.open(dir, AT0, SMALL), (e) => {
      corruptIn(lastFile)(e);
      assert.equal((e as StorageError).offset, ends[1]);
      return true;
    });
  }));

test('a segment file larger than any the writer makes is refused before reading it', () =>
  withTmp(async (dir) => {
    const { lastFile } = await buildWal(dir, 5, 1);
    await truncate(lastFile, 4 * 1024 * 1024 * 1024); // sparse: costs nothing
    await assert.rejects(Wal.open(dir, AT0, SMALL), corruptIn(lastFile, StorageErrorCode.WalSegmentTooLarge));
  }));

test('a record with a valid checksum whose payload does not decode is corruption, even at the tail', () =>
  withTmp(async (dir) => {
    const { lastFile, ends } = await buildWal(dir, 5, 1);
    const buf = await readFile(lastFile);
    const lastCrc = buf.readUInt32LE(ends.at(-2)!); // the crc field of the last record: the next link
    const rec = Buffer.alloc(16 + 6);
    rec.writeUInt32LE(6, 4);
    rec[8] = 2; // a batch record
    rec.writeUInt32LE(lastCrc, 12);
    rec.set([0, 1, 1, 1, 9, 0], 16); // no HardState, one entry: term 1, index 1, type 9 (does not exist)
    rec.writeUInt32LE(crc32(rec.subarray(4)), 0);
    await writeAtLogEnd(lastFile, rec);
    await assert.rejects(Wal.open(dir, AT0, SMALL), (e) => corruptIn(lastFile)(e) && /does not decode/.test((e as Error).message));
  }));

test('the head record of the last segment is never treated as a tear', () =>
  withTmp(async (dir) => {
    const { lastFile } = await buildWal(dir, 100, 0);
    const fh = await open(lastFile, 'r+');
    await fh.write(Buffer.from([0xff]), 0, 1, 20);
    await fh.close();
    await assert.rejects(Wal.open(dir, AT0, SMALL), (e) => corruptIn(lastFile)(e) && /head/.test((e as Error).message));
  }));

test('random damage (bit flips, overwrites, truncation) yields a clean open or a StorageError, nothing else', () =>
  withTmp(async (tmp) => {
    const src = join(tmp, 'src');
    await buildWal(src, 60, 4);
    const files = await walFiles(src);
    const whole = await Wal.open(src, AT0, SMALL);
    const original = brief(whole.entries);
    await whole.wal.close();
    let seed = 0x9e3779b9;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    let refused = 0;
    for (let round = 0; round < 80; round++) {
      const dir = join(tmp, `r${round}`);
      await copyDir(src, dir);
      const victim = join(dir, files[rand(files.length)]!);
      const buf = await readFile(victim);
      const kind = rand(3);
      if (kind === 0) buf[rand(buf.length)]! ^= 1 << rand(8);
      else if (kind === 1) buf.writeUInt32LE(rand(2) ? 0xffffffff : rand(1 << 20), rand(buf.length - 4));
      await writeFile(victim, kind === 2 ? buf.subarray(0, rand(buf.length)) : buf);
      try {
        const r = await Wal.open(dir, AT0, SMALL);
        await r.wal.close();
        // Opening is only right if what comes back is the log, or a prefix of it (a cut tail).
        const got = brief(r.entries);
        assert.deepEqual(got, original.slice(0, got.length), `round ${round}: entries are not a prefix of the log`);
      } catch (e) {
        assert.ok(isStorageError(e), `round ${round}: ${String(e)}`);
        refused++;
      }
    }
    assert.ok(refused > 20, `most damage is refused (${refused})`);
  }));

/**
 * A WAL of small segments with a snapshot marker at 150 (committed, so vouched for), written
 * on after it; returns the segment files in order.
 */
async function walWithMarker(dir: string): Promise<string[]> {
  const wal = await Wal.create(dir, META, SMALL);
  for (let i = 1; i <= 150; i += 10) await wal.save({ term: 1, vote: 3, commit: i + 9 }, range(i, i + 9, 1), true);
  await wal.saveSnapshotMarker({ index: 150, term: 1 });
  for (let i = 151; i <= 200; i += 10) await wal.save({ term: 1, vote: 3, commit: i + 9 }, range(i, i + 9, 1), true);
  await wal.close();
  return walFiles(dir);
}

test('segments an interrupted purge left in front of a hole are ignored and removed when the snapshot covers them', () =>
  withTmp(async (dir) => {
    const files = await walWithMarker(dir);
    // The first segment that begins at or before 151 (the first entry after the snapshot).
    const firstIndexOf = (f: string) => Number.parseInt(f.slice(17, 33), 16);
    const keepFrom = files.findLastIndex((f) => firstIndexOf(f) <= 151);
    assert.ok(keepFrom >= 2, `a segment to purge between the first and the run: ${files.join(' ')}`);
    // A purge removed segments 1..keepFrom-1, but the removal of segment 0 came undone.
    for (const f of files.slice(1, keepFrom)) await unlink(join(dir, f));
    assert.deepEqual((await Wal.snapshotMarkers(dir, SMALL)).map((m) => m.index), [150]);
    const r = await Wal.open(dir, { index: 150, term: 1 }, SMALL);
    assert.deepEqual(brief(r.entries), brief(range(151, 200, 1)));
    await r.wal.close();
    assert.deepEqual(await walFiles(dir), files.slice(keepFrom), 'the leftover segment is removed');
    const again = await Wal.open(dir, { index: 150, term: 1 }, SMALL);
    assert.deepEqual(brief(again.entries), brief(range(151, 200, 1)));
    await again.wal.close();
  }));

test('a hole with entries after the snapshot in it is still refused, naming the segment after the hole', () =>
  withTmp(async (dir) => {
    const files = await walWithMarker(dir);
    const victim = files.length - 2; // holds entries after 150
    await unlink(join(dir, files[victim]!));
    await assert.rejects(Wal.open(dir, { index: 150, term: 1 }, SMALL), corruptIn(join(dir, files[victim + 1]!), StorageErrorCode.WalMissingSegment));
    assert.ok((await walFiles(dir)).includes(files[0]!), 'nothing is removed from a WAL that is refused');
  }));
