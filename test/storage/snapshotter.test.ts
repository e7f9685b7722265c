// Snapshot files: durable save, load of the newest one the WAL vouches for, damaged
// files set aside, retention.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot } from '../../src/raftpb/types.ts';
import { Snapshotter, snapshotFileName } from '../../src/storage/index.ts';
import { withTmp } from './helpers.ts';

function snap(index: number, term: number): Snapshot {
  return {
    metadata: { index, term, confState: { voters: [1, 2, 3], learners: [] } },
    data: Buffer.from(JSON.stringify({ kv: { a: String(index) }, members: { 1: 'http://127.0.0.1:12379' } })),
  };
}
const marker = (s: Snapshot) => ({ index: s.metadata.index, term: s.metadata.term });
const loadedIndex = (s: Snapshot | null) => s?.metadata.index ?? null;

test('save then load the newest vouched-for snapshot', () =>
  withTmp(async (tmp) => {
    const dir = join(tmp, 'raftexample-1-snap');
    const ss = new Snapshotter(dir);
    assert.equal(await ss.loadNewestAvailable([]), null);
    const a = snap(10, 1);
    const b = snap(20, 2);
    await ss.save(a);
    await ss.save(b);
    const got = await ss.loadNewestAvailable([marker(a), marker(b)]);
    assert.deepEqual(got?.metadata, b.metadata);
    assert.deepEqual(Buffer.from(got!.data), b.data);
    assert.deepEqual((await readdir(dir)).sort(), [snapshotFileName(1, 10), snapshotFileName(2, 20)]);
  }));

test('a snapshot the WAL does not vouch for is ignored, not set aside', () =>
  withTmp(async (dir) => {
    const ss = new Snapshotter(dir);
    await ss.save(snap(10, 1));
    await ss.save(snap(20, 2));
    assert.equal(loadedIndex(await ss.loadNewestAvailable([marker(snap(10, 1))])), 10);
    assert.equal(loadedIndex(await ss.loadNewestAvailable([{ index: 20, term: 3 }])), null); // same index, other term
    assert.equal((await readdir(dir)).length, 2);
  }));

test('a damaged newest snapshot is set aside as .broken and the previous one is used', () =>
  withTmp(async (dir) => {
    const ss = new Snapshotter(dir);
    const markers = [10, 20, 30].map((i) => ({ index: i, term: 1 }));
    for (const m of markers) await ss.save(snap(m.index, m.term));
    const newest = join(dir, snapshotFileName(1, 30));
    const buf = await readFile(newest);
    buf[buf.length - 2]! ^= 1;
    await writeFile(newest, buf);
    // The second newest is cut short.
    const second = join(dir, snapshotFileName(1, 20));
    await writeFile(second, (await readFile(second)).subarray(0, 10));
    assert.equal(loadedIndex(await ss.loadNewestAvailable(markers)), 10);
    assert.deepEqual((await readdir(dir)).sort(), [snapshotFileName(1, 10), `${snapshotFileName(1, 20)}.broken`, `${snapshotFileName(1, 30)}.broken`]);
  }));

test('a file whose metadata disagrees with its name, or is hostile, is set aside', () =>
  withTmp(async (dir) => {
    const ss = new Snapshotter(dir, { maxSnapshotBytes: 4096 });
    await ss.save(snap(10, 1));
    await ss.save(snap(20, 1));
    const a = join(dir, snapshotFileName(1, 20));
    await writeFile(join(dir, snapshotFileName(1, 25)), await readFile(a)); // a copy under another name
    await writeFile(join(dir, snapshotFileName(1, 30)), Buffer.alloc(8192, 0xff)); // too large, garbage
    const got = await ss.loadNewestAvailable([25, 30, 20].map((index) => ({ index, term: 1 })));
    assert.equal(loadedIndex(got), 20);
    const broken = (await readdir(dir)).filter((n) => n.endsWith('.broken')).sort();
    assert.deepEqual(broken, [`${snapshotFileName(1, 25)}.broken`, `${snapshotFileName(1, 30)}.broken`]);
  }));

test('retention keeps the newest maxSnapshots files', () =>
  withTmp(async (dir) => {
    const ss = new Snapshotter(dir, { maxSnapshots: 3 });
    for (let i = 1; i <= 7; i++) {
      const s = snap(i * 10, 1 + (i >> 2));
      await ss.save(s);
      await ss.retain(marker(s));
    }
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, [snapshotFileName(2, 50), snapshotFileName(2, 60), snapshotFileName(2, 70)]);
  }));

test('a file written a chunk at a time (one buffer reused) is the file save() writes, byte for byte, and load() reads it back', () =>
  withTmp(async (tmp) => {
    const whole = new Snapshotter(join(tmp, 'whole'));
    const streamed = new Snapshotter(join(tmp, 'streamed'));
    const s = snap(30, 3);
    await whole.save(s);
    const w = await streamed.create(s.metadata);
    const buf = Buffer.alloc(7);
    for (let off = 0; off < s.data.length; off += buf.length) {
      const n = Buffer.from(s.data).copy(buf, 0, off, Math.min(off + buf.length, s.data.length));
      await w.write(buf.subarray(0, n));
      buf.fill(0xaa); // reused: the file holds what was written, not what the buffer holds later
    }
    assert.equal(w.dataBytes, s.data.length);
    assert.deepEqual((await readdir(join(tmp, 'streamed'))).sort(), [`${snapshotFileName(3, 30)}.tmp`], 'under a temporary name until committed');
    await w.commit();
    const name = snapshotFileName(3, 30);
    assert.deepEqual(await readFile(join(tmp, 'streamed', name)), await readFile(join(tmp, 'whole', name)));
    assert.deepEqual(await readdir(join(tmp, 'streamed')), [name]);
    const got = await streamed.load(marker(s));
    assert.deepEqual(got.metadata, s.metadata);
    assert.deepEqual(Buffer.from(got.data), s.data);
    await assert.rejects(w.write(buf), /after commit/);
  }));

test('an aborted streamed file leaves nothing; load() refuses a damaged or missing file and leaves it in place', () =>
  withTmp(async (dir) => {
    const ss = new Snapshotter(dir);
    const w = await ss.create(snap(40, 4).metadata);
    await w.write(Buffer.from('part of a state'));
    await w.abort();
    assert.deepEqual(await readdir(dir), []);
    await assert.rejects(ss.load({ index: 40, term: 4 }), (e: Error & { code?: string }) => e.code !== undefined && /reading a snapshot failed/.test(e.message));

    const s = snap(50, 5);
    await ss.save(s);
    const path = join(dir, snapshotFileName(5, 50));
    const bytes = await readFile(path);
    bytes[bytes.length - 1]! ^= 0x01;
    await writeFile(path, bytes);
    await assert.rejects(ss.load(marker(s)), (e: Error & { code?: string }) => e.code === 'ERR_SNAP_CORRUPT' && /checksum mismatch/.test(e.message));
    assert.deepEqual(await readdir(dir), [snapshotFileName(5, 50)], 'not set aside: start-up decides that');
  }));
