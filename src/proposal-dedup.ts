// Exactly-once apply of PUT entries. Raft never turns one proposal into two entries, but a
// proposal can reach the log twice if the request carrying it is delivered twice (a
// duplicating network or proxy): applying the second copy after a later write would bring
// an old value back. Each PUT carries its origin (node id, process epoch) and a sequence
// number; the store remembers, per origin, which recent sequence numbers it has seen, and
// skips a copy it has seen. The table is replicated state (every replica builds the same one
// from the same log) and travels in snapshots.

import type { BinaryReader, BinaryWriter } from './raftpb/index.ts';
import { dedupOriginBytes, dedupOriginsMax, dedupWindowSeqs } from './limits.ts';

export type Admission = 'new' | 'duplicate' | 'stale';

interface OriginWindow {
  epoch: number;
  seqMax: number;
  /** Bit i set: seqMax - i was seen (bit 0 is seqMax itself). */
  seen: bigint;
}

const WINDOW_MASK = (1n << BigInt(dedupWindowSeqs)) - 1n;

export class ProposalDedup {
  /** By node id, least recently used first. One epoch per node: its newest process. */
  private readonly origins = new Map<number, OriginWindow>();

  /**
   * Whether (node, epoch, seq) is new. A copy seen before is 'duplicate'; one older than the
   * window is 'stale' (it may be a copy: skipped too, so both copies are treated alike). An
   * entry from another epoch of the node starts a new window (the node restarted).
   */
  check(node: number, epoch: number, seq: number): Admission {
    const w = this.origins.get(node);
    if (w === undefined || w.epoch !== epoch) return 'new';
    if (seq > w.seqMax) return 'new';
    const behind = w.seqMax - seq;
    if (behind >= dedupWindowSeqs) return 'stale';
    return (w.seen >> BigInt(behind)) & 1n ? 'duplicate' : 'new';
  }

  /** Remember (node, epoch, seq) as seen; call after check() said 'new'. */
  record(node: number, epoch: number, seq: number): void {
    let w = this.origins.get(node);
    this.origins.delete(node); // re-inserted last: most recently used
    if (w === undefined || w.epoch !== epoch) w = { epoch, seqMax: seq, seen: 0n };
    if (seq > w.seqMax) {
      const ahead = seq - w.seqMax;
      w.seen = ahead >= dedupWindowSeqs ? 0n : (w.seen << BigInt(ahead)) & WINDOW_MASK;
      w.seqMax = seq;
    }
    w.seen |= 1n << BigInt(w.seqMax - seq);
    this.origins.set(node, w);
    if (this.origins.size > dedupOriginsMax) this.origins.delete(this.origins.keys().next().value!);
  }

  /** Bytes write() takes now. */
  get encodedBytes(): number {
    return 4 + this.origins.size * dedupOriginBytes;
  }

  /** Bytes write() would take after record(node, epoch, ...). */
  encodedBytesWith(node: number): number {
    const grows = !this.origins.has(node) && this.origins.size < dedupOriginsMax;
    return this.encodedBytes + (grows ? dedupOriginBytes : 0);
  }

  write(w: BinaryWriter): void {
    w.u32(this.origins.size);
    for (const [node, o] of this.origins) {
      w.u32(node).u32(o.epoch).u32(o.seqMax);
      for (let i = 0; i < dedupWindowSeqs / 8; i++) w.u8(Number((o.seen >> BigInt(8 * i)) & 0xffn));
    }
  }

  static read(r: BinaryReader): ProposalDedup {
    const d = new ProposalDedup();
    const n = r.u32('dedup origins');
    if (n > dedupOriginsMax) r.fail(`dedup table of ${n} origins, at most ${dedupOriginsMax}`);
    for (let i = 0; i < n; i++) {
      const node = r.u32('dedup node');
      const epoch = r.u32('dedup epoch');
      const seqMax = r.u32('dedup seq');
      let seen = 0n;
      for (let b = 0; b < dedupWindowSeqs / 8; b++) seen |= BigInt(r.u8('dedup window')) << BigInt(8 * b);
      if (d.origins.has(node)) r.fail(`dedup table lists node ${node} twice`);
      d.origins.set(node, { epoch, seqMax, seen });
    }
    return d;
  }
}
