// MemoryStorage, whose log is packed (the entries replayed from the WAL, then copies of those
// appended), answers every call as the plain array of entries it replaces
// (array-memory-storage.ts), on generated sequences of appends (overwriting suffixes),
// compactions, snapshots and reads; PackedEntries frees the buffers that only compacted
// entries used, and a log appended and compacted for a long time stays as large as its live
// entries.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryStorage } from '../../src/raft/index.ts';
import { PackedEntries } from '../../src/raftpb/index.ts';
import { EntryType, type Entry, type Snapshot } from '../../src/raftpb/types.ts';
import { ArrayMemoryStorage } from './array-memory-storage.ts';

// Every 11th entry is larger than a shared chunk takes (it gets a chunk of its own).
const bytesOf = (index: number, term: number) => Buffer.from(`e${index}t${term}${'.'.repeat(index % 11 === 0 ? 17_000 : index % 7)}`);
const entry = (index: number, term: number): Entry => ({ index, term, type: index % 5 === 0 ? EntryType.ConfChange : EntryType.Normal, data: bytesOf(index, term) });

/** The entries first..last packed as the WAL reader packs them: a chunk per batch of up to 4. */
function packed(first: number, terms: number[]): PackedEntries {
  const p = new PackedEntries(first);
  for (let k = 0; k < terms.length; k += 4) {
    const batch = terms.slice(k, k + 4).map((term, j) => entry(first + k + j, term));
    const chunk = Buffer.concat([Buffer.from('header'), ...batch.map((e) => e.data)]);
    const id = p.addChunk(chunk);
    let at = 6;
    for (const e of batch) {
      p.push(e.term, e.type, id, at, e.data.length);
      at += e.data.length;
    }
  }
  return p;
}

type Op =
  | { kind: 'append'; back: number; count: number; term: number }
  | { kind: 'compact'; back: number }
  | { kind: 'entries'; lo: number; span: number; maxBytes: number }
  | { kind: 'term'; at: number }
  | { kind: 'snapshot'; back: number }
  | { kind: 'install'; ahead: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), back: fc.integer({ min: -1, max: 12 }), count: fc.integer({ min: 0, max: 6 }), term: fc.integer({ min: 1, max: 9 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.integer({ min: -1, max: 15 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('entries' as const), lo: fc.integer({ min: -2, max: 30 }), span: fc.integer({ min: 0, max: 30 }), maxBytes: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constant(1000)) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('term' as const), at: fc.integer({ min: -2, max: 35 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), back: fc.integer({ min: -1, max: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('install' as const), ahead: fc.integer({ min: -3, max: 20 }) }) },
);

type Storage = MemoryStorage | ArrayMemoryStorage;

/** What a call returned or threw, comparable across the two. */
function outcome(call: () => unknown): unknown {
  try {
    const v = call();
    if (Array.isArray(v)) return (v as Entry[]).map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString()]);
    return v;
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function run(storage: Storage, op: Op, base: { first: number; last: number }): unknown {
  const last = storage.lastIndex();
  switch (op.kind) {
    case 'append': {
      const from = Math.max(1, last + 1 - op.back);
      const es: Entry[] = [];
      for (let i = 0; i < op.count; i++) es.push(entry(from + i, op.term));
      return outcome(() => storage.append(es));
    }
    case 'compact':
      return outcome(() => storage.compact(last - op.back));
    case 'entries': {
      // Mostly inside the log (where the answers have something to differ in), sometimes just outside.
      const first = storage.firstIndex();
      const lo = first - 1 + (Math.abs(op.lo) % (last - first + 4));
      const hi = lo + (op.span % Math.max(1, last + 3 - lo));
      return outcome(() => storage.entries(lo, hi, op.maxBytes));
    }
    case 'term':
      return outcome(() => storage.term(base.first - 1 + op.at));
    case 'snapshot':
      return outcome(() => storage.createSnapshot(last - op.back, null, Buffer.from('s')).metadata);
    case 'install': {
      const index = last + op.ahead;
      const snap: Snapshot = { metadata: { index, term: 50, confState: { voters: [1], learners: [] } }, data: Buffer.from('i') };
      return outcome(() => storage.applySnapshot(snap));
    }
  }
}

test('a packed log answers every call as the array of entries it replaces, on generated histories', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 20 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 20 }).map((ts) => ts.sort((a, b) => a - b)),
      fc.array(opArb, { maxLength: 40 }),
      fc.boolean(),
      (snapIndex, terms, ops, replayed) => {
        const snap: Snapshot = { metadata: { index: snapIndex, term: 1, confState: { voters: [1], learners: [] } }, data: Buffer.from('x') };
        const subject = new MemoryStorage();
        const model = new ArrayMemoryStorage();
        if (snapIndex > 0) {
          subject.applySnapshot(snap);
          model.applySnapshot(snap);
        }
        // A log replayed from the WAL (packed as the reader packs it), or one appended as a node appends.
        if (replayed) subject.appendPacked(packed(snapIndex + 1, terms));
        else subject.append(terms.map((term, k) => entry(snapIndex + 1 + k, term)));
        model.append(terms.map((term, k) => entry(snapIndex + 1 + k, term)));
        const base = { first: snapIndex + 1, last: snapIndex + terms.length };
        for (const [i, op] of ops.entries()) {
          assert.deepEqual(run(subject, op, base), run(model, op, base), `op ${i}: ${JSON.stringify(op)}`);
          assert.equal(subject.firstIndex(), model.firstIndex(), `op ${i}: firstIndex`);
          assert.equal(subject.lastIndex(), model.lastIndex(), `op ${i}: lastIndex`);
          if (subject.lastIndex() >= subject.firstIndex()) {
            assert.deepEqual(outcome(() => subject.entries(subject.firstIndex(), subject.lastIndex() + 1, Infinity)), outcome(() => model.entries(model.firstIndex(), model.lastIndex() + 1, Infinity)), `op ${i}: the whole log`);
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('appendPacked refuses entries that do not follow the snapshot, or a log that holds entries already', () => {
  const s = new MemoryStorage();
  assert.throws(() => s.appendPacked(packed(2, [1])), /does not follow the snapshot at 0/);
  s.append([entry(1, 1)]);
  assert.throws(() => s.appendPacked(packed(2, [1])), /already holds entries/);
});

test('truncating packed entries frees the buffers only the dropped entries used, but the newest (its batch may go on)', () => {
  const p = packed(1, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]); // chunks of 4: 1-4, 5-8, 9-12, 13
  const chunks = (p as unknown as { chunks: (Uint8Array | null)[] }).chunks;
  p.truncate(5);
  assert.deepEqual(chunks.map((c) => c !== null), [true, true, false, true]);
  p.truncate(2);
  assert.deepEqual(chunks.map((c) => c !== null), [true, false, false, true]);
  const id = p.addChunk(Buffer.from('abc'));
  p.push(2, EntryType.Normal, id, 0, 3);
  assert.equal(Buffer.from(p.entry(3).data).toString(), 'abc');
  assert.equal(Buffer.from(p.entry(2).data).toString(), bytesOf(2, 1).toString());
  p.dropFront(2);
  assert.deepEqual(chunks.map((c) => c !== null), [false, false, false, false, true], 'only entry 3 is left, in the newest chunk');
  p.truncate(0);
  assert.deepEqual(chunks.map((c) => c !== null), [false, false, false, false, true], 'the newest stays');
});

test('compacting packed entries frees the buffers only the dropped entries used', () => {
  const p = packed(1, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]); // chunks of 4: entries 1-4, 5-8, 9-10
  const chunks = (p as unknown as { chunks: (Uint8Array | null)[] }).chunks;
  p.dropFront(3);
  assert.deepEqual(chunks.map((c) => c !== null), [true, true, true], 'entry 4 still uses the first chunk');
  p.dropFront(1);
  assert.deepEqual(chunks.map((c) => c !== null), [false, true, true]);
  p.dropFront(6);
  assert.deepEqual(chunks.map((c) => c !== null), [false, false, false]);
  assert.equal(p.length, 0);
  assert.equal(p.firstIndex, 11);
});

test('appended entries are copied: the caller may reuse its buffer, and what was handed out stays as it was', () => {
  const s = new MemoryStorage();
  const body = Buffer.from('aaaabbbbcccc'); // three entries cut from one message body, as a follower gets them
  s.append([1, 2, 3].map((index) => ({ index, term: 1, type: EntryType.Normal, data: body.subarray((index - 1) * 4, index * 4) })));
  body.fill('z');
  const handedOut = s.entries(1, 4, Infinity);
  assert.deepEqual(handedOut.map((e) => Buffer.from(e.data).toString()), ['aaaa', 'bbbb', 'cccc']);
  // A new leader's entries replace 2 and 3: the bytes of the old ones are not written over.
  s.append([{ index: 2, term: 2, type: EntryType.Normal, data: Buffer.from('dddd') }, { index: 3, term: 2, type: EntryType.Normal, data: Buffer.from('eeee') }]);
  assert.deepEqual(handedOut.map((e) => Buffer.from(e.data).toString()), ['aaaa', 'bbbb', 'cccc']);
  assert.deepEqual(s.entries(1, 4, Infinity).map((e) => [e.term, Buffer.from(e.data).toString()]), [[1, 'aaaa'], [2, 'dddd'], [2, 'eeee']]);
});

test('a log appended and compacted for a long time holds columns and chunks for its live entries only', () => {
  const s = new MemoryStorage();
  const log = () => (s as unknown as { log: PackedEntries }).log;
  const data = Buffer.alloc(1_000, 'v'); // 400 MB through 64 KiB chunks: about 6,100 of them
  let index = 0;
  for (let round = 0; round < 200; round++) {
    const batch: Entry[] = [];
    for (let k = 0; k < 2_000; k++) batch.push({ index: ++index, term: 1, type: EntryType.Normal, data });
    s.append(batch);
    // A snapshot every 2,000 entries, keeping 500 for slow followers.
    s.compact(index - 500);
  }
  assert.equal(s.firstIndex(), index - 499);
  assert.equal(Buffer.from(s.entries(index, index + 1, Infinity)[0]!.data).toString(), data.toString());
  // 400,000 entries went through; 2,500 at most were live at once.
  assert.ok(log().capacity <= 8_192, `columns of ${log().capacity} slots`);
  assert.ok(log().chunkSlots <= 2_048, `${log().chunkSlots} chunk ids`);
});
