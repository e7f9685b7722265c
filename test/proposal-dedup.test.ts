// Exactly-once apply: a PUT entry that reaches the log twice takes effect once, on every
// replica alike, and the table that remembers it travels in snapshots.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chan } from '../src/chan.ts';
import { KvStore } from '../src/kvstore.ts';
import { ProposalDedup } from '../src/proposal-dedup.ts';
import { BinaryReader, BinaryWriter } from '../src/raftpb/index.ts';
import { dedupOriginsMax, dedupRetiredEpochs, dedupWindowSeqs } from '../src/limits.ts';
import type { Commit, Proposal } from '../src/queues.ts';

test('the dedup table: new, duplicate, out of order inside the window, stale below it, a new epoch', () => {
  const d = new ProposalDedup();
  const seen = (seq: number, epoch = 7) => {
    const a = d.check(1, epoch, seq);
    if (a === 'new') d.record(1, epoch, seq);
    return a;
  };
  assert.equal(seen(5), 'new');
  assert.equal(seen(5), 'duplicate');
  assert.equal(seen(3), 'new', 'an older seq not seen yet (reordered) is new');
  assert.equal(seen(3), 'duplicate');
  assert.equal(seen(5 + dedupWindowSeqs), 'new');
  assert.equal(seen(5), 'stale', 'below the window: cannot be told from a copy');
  assert.equal(seen(6), 'new', 'just inside the window');
  assert.equal(seen(1, 8), 'new', 'another epoch: the node restarted');
  assert.equal(seen(1, 8), 'duplicate');
});

test('a late copy of an entry from an earlier epoch of its origin stays skipped, and so does a copy after it (seed 20011)', () => {
  const d = new ProposalDedup();
  const seen = (epoch: number, seq: number) => {
    const a = d.check(1, epoch, seq);
    if (a === 'new') d.record(1, epoch, seq);
    return a;
  };
  assert.equal(seen(7, 6), 'new');
  assert.equal(seen(8, 1), 'new', 'the origin restarted');
  assert.equal(seen(7, 6), 'stale', 'a late copy from the earlier process');
  assert.equal(seen(7, 7), 'stale', 'an entry of the earlier process its process never answered');
  assert.equal(seen(8, 1), 'duplicate', "the current process's window was kept");
  // Retired epochs are remembered up to dedupRetiredEpochs lives back.
  let epoch = 8;
  for (let i = 0; i < dedupRetiredEpochs; i++) assert.equal(seen(++epoch, 1), 'new');
  assert.equal(seen(8 + 1, 1), 'stale', 'still remembered');
  assert.equal(seen(7, 6), 'new', 'forgotten once more lives than dedupRetiredEpochs came after it');
});

test('the dedup table round-trips through its encoding and forgets the least recently used origin past the max', () => {
  const d = new ProposalDedup();
  for (let node = 1; node <= dedupOriginsMax + 1; node++) d.record(node, 9, 4);
  d.record(2, 9, 60);
  d.record(3, 10, 1); // node 3 restarted: epoch 9 retired
  const w = new BinaryWriter();
  d.write(w);
  assert.equal(w.length, d.encodedBytes);
  const back = ProposalDedup.read(new BinaryReader(w.view()));
  assert.equal(back.check(1, 9, 4), 'new', 'node 1 was forgotten (least recently used)');
  assert.equal(back.check(2, 9, 60), 'duplicate');
  assert.equal(back.check(2, 9, 4), 'duplicate', 'the window moved with seq 60 and kept 4');
  assert.equal(back.check(dedupOriginsMax + 1, 9, 4), 'duplicate');
  assert.equal(back.check(3, 9, 5), 'stale', 'the retired epoch travels in the encoding');
  assert.equal(back.check(3, 10, 1), 'duplicate');
});

test('the dedup table of a version 2 kv snapshot (no retired epochs) still reads', () => {
  const w = new BinaryWriter();
  w.u32(1).u32(3).u32(9).u32(4).u32(1).u32(0); // one origin: node 3, epoch 9, seqMax 4, seq 4 seen
  const back = ProposalDedup.read(new BinaryReader(w.view()), false);
  assert.equal(back.check(3, 9, 4), 'duplicate');
  assert.equal(back.check(3, 10, 1), 'new');
});

/** A replica's kvstore fed entries directly; returns its state after them. */
async function replica(entries: Uint8Array[], from?: Uint8Array) {
  const commitC = new Chan<Commit>(16);
  const kv = new KvStore({ nodeId: 9, proposeC: new Chan<Proposal>(16), commitC, readIndex: async () => 0, requestTimeoutMs: 60_000 });
  const running = kv.run();
  if (from !== undefined) await commitC.send({ snapshot: from, entries: [], index: 1, done: null });
  await commitC.send({ snapshot: null, entries, index: 2 + entries.length, done: null });
  await new Promise<void>((done) => void commitC.send({ snapshot: null, entries: [], index: 2 + entries.length, done }));
  const value = async (k: string) => (await kv.get(k, true))?.toString();
  return { kv, value, close: async () => { kv.stop(); commitC.close(); await running; } };
}

/** The entries node 1's kvstore proposes for these PUTs, in order. */
async function proposedBy(puts: [string, string][]): Promise<Uint8Array[]> {
  const proposeC = new Chan<Proposal>(64);
  const kv = new KvStore({ nodeId: 1, proposeC, commitC: new Chan<Commit>(1), readIndex: async () => 0, requestTimeoutMs: 60_000 });
  for (const [k, v] of puts) void kv.put(k, Buffer.from(v)).catch(() => undefined);
  const out: Uint8Array[] = [];
  for (let p = proposeC.tryRecv(); p !== undefined; p = proposeC.tryRecv()) out.push(p.data);
  kv.stop();
  return out;
}

test('a copy of a PUT appended after a later write does not bring the old value back, on any replica, also after a snapshot', async () => {
  const [first, second] = await proposedBy([['/x', 'old'], ['/x', 'new']]);
  const r = await replica([first!, second!, first!]);
  assert.equal(await r.value('/x'), 'new', 'the copy of the first write is skipped');
  const snap = r.kv.snapshot();
  await r.close();
  // A replica restored from the snapshot remembers what was applied, and skips another copy.
  const restored = await replica([first!], snap);
  assert.equal(await restored.value('/x'), 'new');
  await restored.close();
});

test('a kv snapshot of version 1 (no dedup table) still restores', async () => {
  const w = new BinaryWriter().u8(1).varint(1).bytes(Buffer.from('/a')).bytes(Buffer.from('v'));
  const r = await replica([], w.view());
  assert.equal(await r.value('/a'), 'v');
  await r.close();
});

test("the simulator's state digest applies the same rule: a replica's snapshot and the digest of its log agree", async () => {
  const { StateDigest } = await import('./sim/node-checks.ts');
  const { Membership } = await import('../src/node/membership.ts');
  const { encodeSnapshotData } = await import('../src/node/snapshot-data.ts');
  const [first, second] = await proposedBy([['/x', 'old'], ['/x', 'new']]);
  const log = [first!, second!, first!];
  const r = await replica(log);
  const fromSnapshot = StateDigest.ofSnapshot(encodeSnapshotData(new Membership(), r.kv.snapshot()));
  await r.close();
  const fromLog = new StateDigest();
  for (const data of log) fromLog.applyEntry(data);
  assert.equal(fromLog.value, fromSnapshot.value);
});
