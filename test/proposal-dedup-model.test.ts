// The dedup table against a reference model: the table as first written (its window a
// BigInt), with the retired epochs of kv snapshot version 3 added, on generated histories. Both must answer every check alike and encode to the
// same bytes after every step, since the table is replicated state that travels in snapshots.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ProposalDedup, type Admission } from '../src/proposal-dedup.ts';
import { BinaryReader, BinaryWriter } from '../src/raftpb/index.ts';
import { dedupOriginsMax, dedupRetiredEpochs, dedupWindowSeqs } from '../src/limits.ts';

/** The reference: the original implementation but for its name, and the retired epochs. */
class BigIntDedup {
  private readonly origins = new Map<number, { epoch: number; seqMax: number; seen: bigint; retired: number[] }>();
  private static readonly mask = (1n << BigInt(dedupWindowSeqs)) - 1n;

  check(node: number, epoch: number, seq: number): Admission {
    const w = this.origins.get(node);
    if (w === undefined) return 'new';
    if (w.epoch !== epoch) return w.retired.includes(epoch) ? 'stale' : 'new';
    if (seq > w.seqMax) return 'new';
    const behind = w.seqMax - seq;
    if (behind >= dedupWindowSeqs) return 'stale';
    return (w.seen >> BigInt(behind)) & 1n ? 'duplicate' : 'new';
  }

  record(node: number, epoch: number, seq: number): void {
    let w = this.origins.get(node);
    this.origins.delete(node);
    if (w === undefined) w = { epoch, seqMax: seq, seen: 0n, retired: [] };
    else if (w.epoch !== epoch) w = { epoch, seqMax: seq, seen: 0n, retired: [w.epoch, ...w.retired.filter((e) => e !== epoch)].slice(0, dedupRetiredEpochs) };
    if (seq > w.seqMax) {
      const ahead = seq - w.seqMax;
      w.seen = ahead >= dedupWindowSeqs ? 0n : (w.seen << BigInt(ahead)) & BigIntDedup.mask;
      w.seqMax = seq;
    }
    w.seen |= 1n << BigInt(w.seqMax - seq);
    this.origins.set(node, w);
    if (this.origins.size > dedupOriginsMax) this.origins.delete(this.origins.keys().next().value!);
  }

  write(w: BinaryWriter): void {
    w.u32(this.origins.size);
    for (const [node, o] of this.origins) {
      w.u32(node).u32(o.epoch).u32(o.seqMax);
      for (let i = 0; i < dedupWindowSeqs / 8; i++) w.u8(Number((o.seen >> BigInt(8 * i)) & 0xffn));
      for (let i = 0; i < dedupRetiredEpochs; i++) w.u32(o.retired[i] ?? 0);
    }
  }

  static read(r: BinaryReader): BigIntDedup {
    const d = new BigIntDedup();
    const n = r.u32('dedup origins');
    for (let i = 0; i < n; i++) {
      const node = r.u32('dedup node');
      const epoch = r.u32('dedup epoch');
      const seqMax = r.u32('dedup seq');
      let seen = 0n;
      for (let b = 0; b < dedupWindowSeqs / 8; b++) seen |= BigInt(r.u8('dedup window')) << BigInt(8 * b);
      const retired: number[] = [];
      for (let j = 0; j < dedupRetiredEpochs; j++) {
        const e = r.u32('dedup retired epoch');
        if (e !== 0) retired.push(e);
      }
      d.origins.set(node, { epoch, seqMax, seen, retired });
    }
    return d;
  }
}

const encoded = (d: { write(w: BinaryWriter): void }): string => {
  const w = new BinaryWriter();
  d.write(w);
  return Buffer.from(w.view()).toString('hex');
};

/** One PUT reaching apply: from a node, an epoch, a seq near the last one (ahead, behind, far off). */
type Step = { kind: 'put'; node: number; epoch: number; seqDelta: number } | { kind: 'roundTrip' } | { kind: 'recordStale'; node: number; behind: number };

const step = (nodes: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 20, arbitrary: fc.record({ kind: fc.constant('put' as const), node: fc.integer({ min: 1, max: nodes }), epoch: fc.integer({ min: 1, max: 3 }), seqDelta: fc.oneof(fc.integer({ min: -70, max: 70 }), fc.integer({ min: -200, max: 200 }), fc.constantFrom(-64, -63, -32, -31, 31, 32, 33, 63, 64, 65)) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'roundTrip' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('recordStale' as const), node: fc.integer({ min: 1, max: nodes }), behind: fc.integer({ min: 0, max: 100 }) }) },
  );

/** Run the history on both tables, comparing every answer and the encoding after every step. */
function agree(steps: Step[], seqStart: number): void {
  let table = new ProposalDedup();
  let model = new BigIntDedup();
  const lastSeq = new Map<string, number>();
  for (const [i, s] of steps.entries()) {
    if (s.kind === 'roundTrip') {
      // A snapshot taken and restored: the table read back must go on exactly as the model.
      const bytes = new BinaryWriter();
      table.write(bytes);
      table = ProposalDedup.read(new BinaryReader(bytes.view()));
      model = BigIntDedup.read(new BinaryReader(bytes.view()));
    } else if (s.kind === 'recordStale') {
      // record() without check(): the kvstore never does this, but it must not tell them apart either.
      const seq = lastSeq.get(`${s.node}/1`) ?? seqStart;
      if (seq - s.behind >= 0) {
        table.record(s.node, 1, seq - s.behind);
        model.record(s.node, 1, seq - s.behind);
      }
    } else {
      const key = `${s.node}/${s.epoch}`;
      const seq = Math.min(0xffff_ffff, Math.max(0, (lastSeq.get(key) ?? seqStart) + s.seqDelta));
      lastSeq.set(key, Math.max(seq, lastSeq.get(key) ?? 0));
      const answer = table.check(s.node, s.epoch, seq);
      assert.equal(answer, model.check(s.node, s.epoch, seq), `step ${i}: check(${s.node}, ${s.epoch}, ${seq})`);
      if (answer === 'new') {
        table.record(s.node, s.epoch, seq);
        model.record(s.node, s.epoch, seq);
      }
    }
    assert.equal(encoded(table), encoded(model), `step ${i}: the encodings differ`);
  }
  const w = new BinaryWriter();
  table.write(w);
  assert.equal(w.length, table.encodedBytes);
}

test('the dedup table answers and encodes as the BigInt reference on generated histories of a few origins', () => {
  fc.assert(
    fc.property(fc.array(step(4), { minLength: 1, maxLength: 400 }), fc.constantFrom(0, 100, 0xffff_ff00), (steps, seqStart) => agree(steps, seqStart)),
    { numRuns: 300 },
  );
});

test('the dedup table agrees with the reference past the origin limit (least recently used forgotten)', () => {
  fc.assert(
    fc.property(fc.array(step(dedupOriginsMax + 20), { minLength: dedupOriginsMax, maxLength: 1500 }), (steps) => agree(steps, 1000)),
    { numRuns: 20 },
  );
});

test('a window slid by exactly 31, 32, 33 and 63 keeps the seqs still inside it', () => {
  for (const ahead of [1, 31, 32, 33, 63, 64]) {
    const d = new ProposalDedup();
    for (let seq = 100; seq < 164; seq++) d.record(1, 1, seq);
    d.record(1, 1, 163 + ahead);
    for (let seq = 100; seq < 164; seq++) {
      const behind = 163 + ahead - seq;
      const expected = behind >= dedupWindowSeqs ? 'stale' : 'duplicate';
      assert.equal(d.check(1, 1, seq), expected, `slid by ${ahead}: seq ${seq}`);
    }
    for (let seq = 164; seq < 163 + ahead; seq++) assert.equal(d.check(1, 1, seq), 'new', `slid by ${ahead}: seq ${seq} never seen`);
  }
});
