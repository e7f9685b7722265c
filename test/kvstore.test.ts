import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chan } from '../src/chan.ts';
import { BinaryWriter } from '../src/raftpb/index.ts';
import { isServiceError, ServiceError } from '../src/errors.ts';
import { KvStore } from '../src/kvstore.ts';
import { dedupRetiredEpochs } from '../src/limits.ts';
import { ProposalState, type Commit, type Proposal } from '../src/queues.ts';

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond());
}

/** A fake Raft: proposals come back as commits unless told to drop or stall them. */
function setup(opts: { requestTimeoutMs?: number; nodeId?: number; restorePairsPerTurn?: number } = {}) {
  const proposeC = new Chan<Proposal>(64);
  const commitC = new Chan<Commit>(64);
  let index = 0;
  let mode = 'commit' as 'commit' | 'drop' | 'stall';
  const stalled: Proposal[] = [];
  let readRounds = 0;
  let readIndexAnswer: () => Promise<number> = async () => index;
  const kv = new KvStore({
    nodeId: opts.nodeId ?? 1,
    proposeC,
    commitC,
    requestTimeoutMs: opts.requestTimeoutMs ?? 2000,
    ...(opts.restorePairsPerTurn === undefined ? {} : { restorePairsPerTurn: opts.restorePairsPerTurn }),
    readIndex: () => {
      readRounds++;
      return readIndexAnswer();
    },
  });
  const running = kv.run();
  void (async () => {
    for await (const p of proposeC) {
      if (mode === 'drop') p.fail(new ServiceError('ERR_NO_LEADER'));
      else if (mode === 'stall') stalled.push(p);
      else await commitC.send({ snapshot: null, entries: [p.data], index: ++index, done: null });
    }
  })();
  return {
    kv, proposeC, commitC, stalled,
    setMode: (m: typeof mode) => (mode = m),
    readRounds: () => readRounds,
    setReadIndex: (f: () => Promise<number>) => (readIndexAnswer = f),
    nextIndex: () => ++index,
    close: async () => {
      kv.stop();
      proposeC.close();
      commitC.close();
      await running;
    },
  };
}

test('put resolves once its own entry is applied; get sees it', async (t) => {
  const s = setup();
  t.after(s.close);
  await s.kv.put('/k', Buffer.from('v1'));
  assert.equal(Buffer.from((await s.kv.get('/k', false))!).toString(), 'v1');
  assert.equal(Buffer.from((await s.kv.get('/k', true))!).toString(), 'v1');
  assert.equal(await s.kv.get('/missing', false), undefined);
  assert.equal(s.kv.applied, 1);
});

test('a dropped proposal rejects with a 503 error, never hangs', async (t) => {
  const s = setup();
  t.after(s.close);
  s.setMode('drop');
  await assert.rejects(s.kv.put('/k', Buffer.from('x')), (e) => isServiceError(e, 'ERR_NO_LEADER'));
});

test('a proposal handed to Raft but never committed times out as unknown (504)', async (t) => {
  const s = setup({ requestTimeoutMs: 50 });
  t.after(s.close);
  s.setMode('stall');
  const put = s.kv.put('/k', Buffer.from('x'));
  await until(() => s.stalled.length > 0);
  s.stalled[0]!.state = ProposalState.Proposed; // what raftnode does once the core took it
  await assert.rejects(put, (e) => isServiceError(e, 'ERR_TIMEOUT') && e.status === 504);
});

test('a proposal that times out still queued is withdrawn: 503, and the node will skip it', async (t) => {
  const s = setup({ requestTimeoutMs: 50 });
  t.after(s.close);
  s.setMode('stall');
  const put = s.kv.put('/k', Buffer.from('x'));
  await until(() => s.stalled.length > 0);
  await assert.rejects(put, (e) => isServiceError(e, 'ERR_NOT_PROPOSED') && e.status === 503);
  assert.equal(s.stalled[0]!.state, ProposalState.Withdrawn);
});

test('entries proposed elsewhere are applied but complete no local request', async (t) => {
  const s = setup({ requestTimeoutMs: 100 });
  t.after(s.close);
  s.setMode('stall');
  const mine = s.kv.put('/a', Buffer.from('mine'));
  await until(() => s.stalled.length > 0);
  const p = s.stalled.shift()!;
  // The same bytes from another process (another epoch) must not complete `mine`.
  const other = setup({ nodeId: 1 });
  t.after(other.close);
  other.setMode('stall');
  void other.kv.put('/a', Buffer.from('theirs')).catch(() => undefined);
  await until(() => other.stalled.length > 0);
  const foreign = other.stalled.shift()!;
  await s.commitC.send({ snapshot: null, entries: [foreign.data], index: s.nextIndex(), done: null });
  assert.equal(Buffer.from((await s.kv.get('/a', true))!).toString(), 'theirs');
  let settled = false;
  void mine.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(settled, false);
  await s.commitC.send({ snapshot: null, entries: [p.data], index: s.nextIndex(), done: null });
  await mine;
});

test('concurrent linearizable reads share ReadIndex rounds and wait for the applied index', async (t) => {
  const s = setup();
  t.after(s.close);
  await s.kv.put('/k', Buffer.from('v'));
  let release!: (i: number) => void;
  s.setReadIndex(() => new Promise<number>((r) => (release = r)));
  const reads = Array.from({ length: 50 }, () => s.kv.get('/k', false));
  await new Promise((r) => setImmediate(r));
  assert.equal(s.readRounds(), 1);
  // The round answers an index not applied yet: reads wait for it.
  const target = s.nextIndex();
  release(target);
  let done = false;
  const all = Promise.all(reads).then((v) => ((done = true), v));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(done, false);
  await s.commitC.send({ snapshot: null, entries: [], index: target, done: null });
  const values = await all;
  assert.ok(values.every((v) => Buffer.from(v!).toString() === 'v'));
  assert.equal(s.readRounds(), 1);
});

test('a failed ReadIndex round fails its reads with the same error', async (t) => {
  const s = setup();
  t.after(s.close);
  s.setReadIndex(async () => {
    throw new ServiceError('ERR_NO_LEADER');
  });
  await assert.rejects(s.kv.get('/k', false), (e) => isServiceError(e, 'ERR_NO_LEADER'));
  assert.equal(await s.kv.get('/k', true), undefined, 'serializable reads do not need a leader');
});

test('snapshot and restore round-trip the map; done is called after apply', async (t) => {
  const s = setup();
  t.after(s.close);
  await s.kv.put('/a', Buffer.from('1'));
  await s.kv.put('/ü', Buffer.from([0, 255]));
  const snap = s.kv.snapshot();
  const s2 = setup();
  t.after(s2.close);
  let applied = false;
  await s2.commitC.send({ snapshot: snap, entries: [], index: 42, done: () => (applied = true) });
  await new Promise((r) => setImmediate(r));
  assert.ok(applied);
  assert.equal(s2.kv.applied, 42);
  assert.deepEqual([...(await s2.kv.get('/ü', true))!], [0, 255]);
  assert.equal(s2.kv.size, 2);
});

test('every byte value survives put, get, snapshot and restore (values are kept as one-byte strings)', async (t) => {
  const s = setup();
  t.after(s.close);
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const large = Buffer.alloc(1_200_000); // past the size at which node makes an external string
  for (let i = 0; i < large.length; i++) large[i] = (i * 131 + 7) & 0xff;
  await s.kv.put('/all', all);
  await s.kv.put('/empty', Buffer.alloc(0));
  await s.kv.put('/large', large);
  assert.deepEqual(await s.kv.get('/all', true), all);
  assert.deepEqual(await s.kv.get('/empty', true), Buffer.alloc(0));
  assert.deepEqual(await s.kv.get('/large', true), large);
  const snap = s.kv.snapshot();
  const s2 = setup();
  t.after(s2.close);
  await s2.commitC.send({ snapshot: snap, entries: [], index: 9, done: null });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(await s2.kv.get('/all', true), all);
  assert.deepEqual(await s2.kv.get('/empty', true), Buffer.alloc(0));
  assert.deepEqual(await s2.kv.get('/large', true), large);
  assert.deepEqual(Buffer.from(s2.kv.snapshot()), Buffer.from(snap), 'and it snapshots to the same bytes');
});

test("a leader's snapshot is restored a part per turn: the loop runs between parts, reads wait for all of it, later commits apply after it", async (t) => {
  const source = setup();
  t.after(source.close);
  for (let i = 0; i < 100; i++) await source.kv.put(`/k${i}`, Buffer.from(`new-${i}`));
  const snap = source.kv.snapshot();
  const s = setup({ restorePairsPerTurn: 10 });
  t.after(s.close);
  await s.kv.put('/old', Buffer.from('gone after the snapshot'));
  await s.kv.put('/k0', Buffer.from('old-0'));

  const sizesSeen: number[] = [];
  const watch = setInterval(() => sizesSeen.push(s.kv.size), 0);
  t.after(() => clearInterval(watch));
  await s.commitC.send({ snapshot: snap, entries: [], index: 500, done: null });
  // A later entry, committed after the snapshot: it must apply after all of it.
  const later = new BinaryWriter(64);
  later.u8(1).u32(7).u32(7).u32(1).u32(3).raw(Buffer.from('/k1')).raw(Buffer.from('later'));
  await s.commitC.send({ snapshot: null, entries: [later.copy()], index: 501, done: null });
  const read = s.kv.get('/k99', true).then((v) => ({ value: v, size: s.kv.size }));
  const got = await read;
  assert.equal(Buffer.from(got.value!).toString(), 'new-99');
  assert.equal(got.size, 100, 'the read was answered once the whole snapshot was in, not from part of it');
  await until(() => s.kv.applied === 501);
  clearInterval(watch);
  assert.ok(sizesSeen.some((n) => n > 0 && n < 100), `timers ran while the snapshot was restored (sizes seen: ${[...new Set(sizesSeen)].join(',')})`);
  assert.equal(await s.kv.get('/old', true), undefined);
  assert.equal(Buffer.from((await s.kv.get('/k0', true))!).toString(), 'new-0');
  assert.equal(Buffer.from((await s.kv.get('/k1', true))!).toString(), 'later', 'the entry after the snapshot applied after it');
  assert.deepEqual(Buffer.from(s.kv.snapshot()).subarray(0, 3), Buffer.from(snap).subarray(0, 3));
});

test('stop fails waiting writes: 503 if never proposed, 504 (unknown) if in flight', async () => {
  const s = setup();
  s.setMode('stall');
  const queued = s.kv.put('/k', Buffer.from('x'));
  const inFlight = s.kv.put('/k2', Buffer.from('y'));
  await until(() => s.stalled.length === 2);
  s.stalled[1]!.state = ProposalState.Proposed;
  await s.close();
  await assert.rejects(queued, (e) => isServiceError(e, 'ERR_STOPPING') && e.status === 503);
  assert.equal(s.stalled[0]!.state, ProposalState.Withdrawn);
  await assert.rejects(inFlight, (e) => isServiceError(e, 'ERR_STOPPING_IN_FLIGHT') && e.status === 504);
  await assert.rejects(s.kv.put('/k', Buffer.from('x')), (e) => isServiceError(e, 'ERR_STOPPING'));
});

test('a full propose queue refuses new writes at once (503) instead of queueing them', async () => {
  const proposeC = new Chan<Proposal>(1);
  const commitC = new Chan<Commit>(1);
  const kv = new KvStore({ nodeId: 1, proposeC, commitC, requestTimeoutMs: 1000, readIndex: async () => 0 });
  const first = kv.put('/a', Buffer.from('1'));
  await assert.rejects(kv.put('/b', Buffer.from('2')), (e) => isServiceError(e, 'ERR_OVERLOADED'));
  kv.stop();
  await assert.rejects(first, (e) => isServiceError(e, 'ERR_STOPPING'));
});

test('snapshot bytes: version, count, then length-prefixed key and value pairs (the codec layout), then the dedup table', async (t) => {
  const s = setup();
  t.after(s.close);
  const long = Buffer.alloc(300, 7); // a value whose length needs a two-byte varint
  await s.kv.put('/ü', long);
  await s.kv.put('/b', Buffer.alloc(0));
  const w = new BinaryWriter(16);
  w.u8(3).varint(2).bytes(Buffer.from('/ü', 'utf8')).bytes(long).bytes(Buffer.from('/b')).bytes(new Uint8Array(0));
  const snap = Buffer.from(s.kv.snapshot());
  assert.deepEqual([...snap.subarray(0, w.length)], [...w.view()]);
  // One origin (node 1, this process's epoch): seqs 1 and 2 seen, 2 the highest.
  const table = snap.subarray(w.length);
  assert.equal(table.length, 4 + 4 + 4 + 4 + 8 + 4 * dedupRetiredEpochs);
  assert.equal(table.readUInt32LE(0), 1, 'origins');
  assert.equal(table.readUInt32LE(4), 1, 'node id');
  assert.equal(table.readUInt32LE(12), 2, 'highest seq');
  assert.equal(table.readBigUInt64LE(16), 0b11n, 'seqs 2 and 1 seen');
  assert.ok(table.subarray(24).every((b) => b === 0), 'no retired epochs: the first process of node 1');
});
