// The replay path of the WAL: the scan that makes no entry objects (scanBatch) checks a
// batch as readBatch does; entries read back (packed) are right whatever the snapshot they
// are read after, and their bytes do not pin the segment buffer they were read from.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { BinaryWriter, CodecError } from '../../src/raftpb/index.ts';
import type { Entry, HardState } from '../../src/raftpb/types.ts';
import { readBatch, scanBatch, writeBatch } from '../../src/storage/segment.ts';
import { isStorageError, StorageErrorCode, Wal } from '../../src/storage/index.ts';
import { beginRecord, endRecord, HEADER_BYTES, isFault, readRecordAt, RecordType } from '../../src/storage/record.ts';
import { ent, walFiles, withTmp, writeAtLogEnd } from './helpers.ts';

const META = { nodeId: 1, clusterId: 'replay' };

type Outcome = { hardState: HardState | null; entries: [number, number, number, string][] } | { error: string };

function viaReadBatch(payload: Uint8Array, maxEntryBytes: number): Outcome {
  try {
    const b = readBatch(payload, maxEntryBytes);
    return { hardState: b.hardState, entries: b.entries.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]) };
  } catch (e) {
    if (e instanceof CodecError) return { error: `${e.message} @${e.offset}` };
    throw e;
  }
}

function viaScanBatch(payload: Uint8Array, maxEntryBytes: number): Outcome {
  const entries: [number, number, number, string][] = [];
  try {
    const hardState = scanBatch(payload, maxEntryBytes, (e) => entries.push([e.index, e.term, e.type, Buffer.from(payload.subarray(e.dataStart, e.dataStart + e.dataBytes)).toString('hex')]));
    return { hardState, entries };
  } catch (e) {
    if (e instanceof CodecError) return { error: `${e.message} @${e.offset}` };
    throw e;
  }
}

const entryArb = fc.record({
  index: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(2 ** 40)),
  term: fc.integer({ min: 0, max: 2 ** 33 }),
  type: fc.constantFrom(0 as const, 1 as const),
  data: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
});
const hardStateArb = fc.option(fc.record({ term: fc.nat(), vote: fc.nat(), commit: fc.nat() }), { nil: null });
/** A batch as the writer makes it, then maybe damaged: bytes changed, cut short or added. */
const payloadArb = fc
  .tuple(hardStateArb, fc.array(entryArb, { maxLength: 8 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.option(fc.nat(), { nil: null }), fc.boolean())
  .map(([hs, entries, flips, cut, extra]) => {
    const w = new BinaryWriter();
    writeBatch(w, hs, entries as Entry[], 0, entries.length);
    const bytes = Buffer.from(w.view());
    for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
    const cutAt = cut === null ? bytes.length : cut % (bytes.length + 1);
    return extra ? Buffer.concat([bytes.subarray(0, cutAt), Buffer.from([0])]) : bytes.subarray(0, cutAt);
  });

test('scanBatch reports what readBatch reads (where each entry\'s data lies), and refuses what it refuses with the same error, on generated and damaged batches', () => {
  fc.assert(
    fc.property(payloadArb, fc.constantFrom(16, 1024), (payload, maxEntryBytes) => {
      assert.deepEqual(viaScanBatch(payload, maxEntryBytes), viaReadBatch(payload, maxEntryBytes));
    }),
    { numRuns: 2000 },
  );
});

/** One save of the generated history: entries from `from` (Raft's truncation when at or below the last), then maybe a marker. */
interface Save {
  from: number;
  count: number;
  term: number;
  marker: boolean;
}

const historyArb = fc.array(
  fc.record({ back: fc.integer({ min: 0, max: 6 }), count: fc.integer({ min: 0, max: 12 }), termUp: fc.boolean(), marker: fc.boolean() }),
  { minLength: 1, maxLength: 25 },
);

test('the entries read back after any snapshot marker are the log as appended, truncations included, across segment cuts', () =>
  fc.assert(
    fc.asyncProperty(historyArb, async (steps) =>
      withTmp(async (dir) => {
        const wal = await Wal.create(dir, META, { segmentBytes: 1024 });
        const log: Entry[] = []; // the model: what the log holds, index i at log[i - 1]
        const markers: { index: number; term: number }[] = [];
        let term = 1;
        for (const step of steps as (Save & { back: number; termUp: boolean })[]) {
          if (step.termUp) term++;
          // Entries after the last marker only: the ones a snapshot covers are never rewritten.
          const floor = markers.length > 0 ? markers[markers.length - 1]!.index + 1 : 1;
          const from = Math.max(floor, log.length + 1 - step.back);
          const entries: Entry[] = [];
          for (let i = 0; i < step.count; i++) entries.push(ent(from + i, term, `e${from + i}t${term}-${'x'.repeat((from + i) % 50)}`));
          log.length = entries.length > 0 ? from - 1 : log.length;
          log.push(...entries);
          await wal.save({ term, vote: 1, commit: log.length }, entries, true);
          if (step.marker && log.length >= floor) {
            const m = { index: log.length, term: log[log.length - 1]!.term };
            await wal.saveSnapshotMarker(m);
            markers.push(m);
          }
        }
        await wal.close();
        const vouched = await Wal.snapshotMarkers(dir, { segmentBytes: 1024 });
        assert.deepEqual(vouched, markers.filter((m, i) => i === 0 || m.index !== markers[i - 1]!.index || m.term !== markers[i - 1]!.term));
        for (const at of [{ index: 0, term: 0 }, ...markers]) {
          const r = await Wal.open(dir, at, { segmentBytes: 1024 });
          await r.wal.close();
          const expected = log.slice(at.index).map((e) => [e.index, e.term, Buffer.from(e.data).toString()]);
          assert.deepEqual(r.entries.map((e) => [e.index, e.term, Buffer.from(e.data).toString()]), expected, `after ${at.index}`);
        }
      }),
    ),
    { numRuns: 40 },
  ));

test('entries read back do not pin the segment buffer: their bytes are copies of the record they came in', () =>
  withTmp(async (dir) => {
    const wal = await Wal.create(dir, META);
    const data = (i: number) => `value-${i}-${'v'.repeat(200)}`;
    for (let first = 1; first <= 2000; first += 50) {
      const entries: Entry[] = [];
      for (let i = first; i < first + 50; i++) entries.push(ent(i, 1, data(i)));
      await wal.save({ term: 1, vote: 1, commit: first + 49 }, entries, false);
    }
    await wal.close();
    const segmentBytes = (await readFile(join(dir, (await walFiles(dir))[0]!))).length;
    const r = await Wal.open(dir, { index: 0, term: 0 });
    await r.wal.close();
    assert.equal(r.entries.length, 2000);
    for (const e of r.entries) {
      assert.equal(Buffer.from(e.data).toString(), data(e.index));
      assert.ok(e.data.buffer.byteLength < segmentBytes / 10, `entry ${e.index} holds a buffer of ${e.data.buffer.byteLength} bytes, the segment is ${segmentBytes}`);
    }
  }));

/** Write after the records of the WAL's last segment a batch record, checksummed and chained, of these entries and extra bytes. */
async function appendCraftedBatch(dir: string, entries: Entry[], extra: Uint8Array): Promise<void> {
  const file = join(dir, (await walFiles(dir)).at(-1)!);
  const bytes = await readFile(file);
  let chain = 0;
  for (let at = 0; at < bytes.length; ) {
    const rec = readRecordAt(bytes, at, null);
    if (isFault(rec)) break; // the zeros the writer filled ahead
    chain = rec.crc;
    at = rec.offset + HEADER_BYTES + rec.payload.length;
  }
  const w = new BinaryWriter();
  const start = beginRecord(w, RecordType.Batch, chain);
  writeBatch(w, null, entries, 0, entries.length);
  w.raw(extra);
  endRecord(w, start);
  await writeAtLogEnd(file, w.view());
}

test('a checksummed batch with an entry of index 0 is corruption; one that also does not decode is reported as that, as before', () =>
  withTmp(async (dir) => {
    for (const [extra, message] of [[new Uint8Array(0), /entry with index 0/], [new Uint8Array([7]), /does not decode/]] as const) {
      await rm(dir, { recursive: true, force: true });
      const wal = await Wal.create(dir, META);
      await wal.save({ term: 1, vote: 1, commit: 2 }, [ent(1, 1), ent(2, 1)], true);
      await wal.close();
      await appendCraftedBatch(dir, [ent(3, 1), ent(0, 1), ent(4, 1)], extra);
      {
        await assert.rejects(Wal.open(dir, { index: 0, term: 0 }), (e) => isStorageError(e, StorageErrorCode.WalCorrupt) && message.test((e as Error).message));
      }
      await assert.rejects(Wal.snapshotMarkers(dir), (e) => isStorageError(e, StorageErrorCode.WalCorrupt) && message.test((e as Error).message));
    }
  }));
