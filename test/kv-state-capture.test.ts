// A kvstore snapshot captured at one index and written out a chunk at a time while later PUTs
// apply (overwriting keys already written, keys not yet written, adding keys and dedup
// origins) must come out byte for byte as the state at that index; a restore cancels it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Chan } from '../src/chan.ts';
import { KvStore } from '../src/kvstore.ts';
import type { KvStateReader } from '../src/node/snapshot-data.ts';
import { EntryKind, type Commit, type Proposal } from '../src/queues.ts';
import { kvPutHeaderBytes } from '../src/limits.ts';

/** A PUT entry as a peer's kvstore proposes it (origin node, epoch 1, seq). */
function putEntry(node: number, seq: number, key: string, value: Uint8Array): Uint8Array {
  const keyBytes = Buffer.from(key, 'utf8');
  const b = Buffer.alloc(kvPutHeaderBytes + keyBytes.length + value.length);
  b[0] = EntryKind.Put;
  b.writeUInt32LE(node, 1);
  b.writeUInt32LE(1, 5);
  b.writeUInt32LE(seq, 9);
  b.writeUInt32LE(keyBytes.length, 13);
  keyBytes.copy(b, kvPutHeaderBytes);
  b.set(value, kvPutHeaderBytes + keyBytes.length);
  return b;
}

interface Put {
  node: number;
  key: number;
  valueBytes: number;
}

/** A kvstore fed on commitC directly, as the node feeds it. */
function store() {
  const commitC = new Chan<Commit>(64);
  const kv = new KvStore({ nodeId: 1, proposeC: new Chan<Proposal>(1), commitC, requestTimeoutMs: 1000, readIndex: async () => 0 });
  const running = kv.run();
  let index = 0;
  let seq = 0;
  /** Apply puts as one commit; `done` runs once they are applied, before anything later. */
  const apply = (puts: Put[], done: (() => void) | null = null) =>
    new Promise<void>((resolve, reject) => {
      const entries = puts.map((p) => putEntry(p.node, ++seq, `/k${p.key}`, Buffer.alloc(p.valueBytes, seq & 0xff)));
      commitC.send({ snapshot: null, entries, index: ++index, done: () => (done?.(), resolve()) }).catch(reject);
    });
  const restore = (snapshot: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      commitC.send({ snapshot, entries: [], index: ++index, done: resolve }).catch(reject);
    });
  const close = async () => {
    kv.stop();
    commitC.close();
    await running;
  };
  return { kv, apply, restore, close };
}

const putArb = fc.record({ node: fc.integer({ min: 2, max: 6 }), key: fc.integer({ min: 0, max: 40 }), valueBytes: fc.integer({ min: 0, max: 300 }) });

test('a snapshot written while later PUTs apply is the state at its index, byte for byte, for any interleaving', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(putArb, { minLength: 0, maxLength: 60 }),
      fc.array(fc.array(putArb, { maxLength: 6 }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 400 }),
      async (before, laterBatches, chunkBytes) => {
        const s = store();
        try {
          await s.apply(before);
          const expected = s.kv.snapshot();
          let capture: KvStateReader | null = null;
          await s.apply([], () => (capture = s.kv.captureState()));
          const reader = capture! as KvStateReader;
          // As the node writes it: into one reused buffer of chunkBytes, grown only for a
          // piece larger than that, each filled part appended to the output.
          const parts: Buffer[] = [];
          let buf = Buffer.alloc(chunkBytes);
          let total = 0;
          for (let turn = 0; total < reader.bytes; turn++) {
            let end = reader.writeNext(buf, 0, buf.length);
            if (end === 0) {
              assert.ok(reader.nextPieceBytes > buf.length, 'it wrote nothing, so the next piece must be larger than the buffer');
              buf = Buffer.alloc(reader.nextPieceBytes);
              end = reader.writeNext(buf, 0, buf.length);
              assert.equal(end, buf.length, 'a buffer of nextPieceBytes takes that piece');
            }
            parts.push(Buffer.from(buf.subarray(0, end)));
            buf.fill(0xee); // the next turn must not depend on what the buffer held
            total += end;
            const later = laterBatches[turn];
            if (later !== undefined) await s.apply(later);
          }
          assert.equal(reader.nextPieceBytes, 0);
          const out = Buffer.concat(parts);
          for (const later of laterBatches) await s.apply(later); // and more after it finished
          reader.close();
          assert.deepEqual(Buffer.from(out), Buffer.from(expected));
          // The live store went on: it holds the later writes, which the snapshot does not.
          const replica = store();
          try {
            await replica.restore(out);
            assert.equal(replica.kv.size, new Set(before.map((p) => p.key)).size);
          } finally {
            await replica.close();
          }
        } finally {
          await s.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('overwrites during the write: the snapshot keeps the value at its index, the store the new one', async () => {
  const s = store();
  try {
    await s.apply([{ node: 2, key: 1, valueBytes: 10 }, { node: 2, key: 2, valueBytes: 20 }]);
    let capture: KvStateReader | null = null;
    await s.apply([], () => (capture = s.kv.captureState()));
    const reader = capture! as KvStateReader;
    const out = new Uint8Array(reader.bytes);
    let offset = reader.writeNext(out, 0, reader.nextPieceBytes); // the head
    offset = reader.writeNext(out, offset, offset + reader.nextPieceBytes); // the first pair
    // The second pair does not fit in one byte: it is taken from the map and kept for later.
    assert.equal(reader.writeNext(out, offset, offset + 1), offset);
    await s.apply([{ node: 3, key: 1, valueBytes: 99 }, { node: 3, key: 2, valueBytes: 77 }, { node: 3, key: 3, valueBytes: 5 }]);
    while (offset < out.length) offset = reader.writeNext(out, offset, offset + reader.nextPieceBytes);
    reader.close();
    const replica = store();
    try {
      await replica.restore(out);
      assert.equal((await replica.kv.get('/k1', true))?.length, 10);
      assert.equal((await replica.kv.get('/k2', true))?.length, 20, 'overwritten before it was written: the old value');
      assert.equal(await replica.kv.get('/k3', true), undefined, 'added after the index');
    } finally {
      await replica.close();
    }
    assert.equal((await s.kv.get('/k2', true))?.length, 77);
    assert.equal(s.kv.size, 3);
  } finally {
    await s.close();
  }
});

test('a restore (a snapshot from the leader) cancels a snapshot being written', async () => {
  const s = store();
  try {
    await s.apply([{ node: 2, key: 1, valueBytes: 10 }, { node: 2, key: 2, valueBytes: 20 }]);
    const other = s.kv.snapshot();
    let capture: KvStateReader | null = null;
    await s.apply([], () => (capture = s.kv.captureState()));
    const reader = capture! as KvStateReader;
    const out = new Uint8Array(reader.bytes);
    reader.writeNext(out, 0, out.length - 1);
    assert.equal(reader.cancelled, false);
    await s.restore(other);
    assert.equal(reader.cancelled, true);
    assert.throws(() => reader.writeNext(out, 0, out.length), /cancelled/);
    // And a new capture after it works.
    assert.deepEqual(Buffer.from(s.kv.snapshot()), Buffer.from(other));
  } finally {
    await s.close();
  }
});
