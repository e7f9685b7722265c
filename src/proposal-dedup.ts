// Exactly-once apply of PUT entries. Raft never turns one proposal into two entries, but a
// proposal can reach the log twice if the request carrying it is delivered twice (a
// duplicating network or proxy): applying the second copy after a later write would bring
// an old value back. Each PUT carries its origin (node id, process epoch) and a sequence
// number; the store remembers, per origin, which recent sequence numbers it has seen, and
// skips a copy it has seen. The table is replicated state (every replica builds the same one
// from the same log) and travels in snapshots.
//
// A node's new process starts a new window; the epochs before it are remembered (the last
// dedupRetiredEpochs of them), and an entry of one of them is skipped as stale. Such an entry
// is a late copy (of one applied before: a duplicating network delivered a forwarded
// proposal again after its proposer restarted), or an entry its process never acknowledged:
// that process applied, and answered, only entries that come before the next process's first.
// Forgetting the old epoch instead let a late copy apply again, bringing an old value back over
// newer acknowledged writes (simulator seed 20011).

import type { BinaryReader, BinaryWriter } from './raftpb/index.ts';
import { dedupOriginBytes, dedupOriginsMax, dedupRetiredEpochs, dedupWindowSeqs } from './limits.ts';

export type Admission = 'new' | 'duplicate' | 'stale';

// The window is two 32-bit words (plain numbers: BigInt shifts cost more than the rest of a
// PUT's apply); its encoding is the 64 bits little-endian, low word first.
if (dedupWindowSeqs !== 64) throw new Error(`proposal-dedup.ts keeps a window of 64 seqs in two words, not ${dedupWindowSeqs}`);

class OriginWindow {
  /**
   * Bit i of the 64-bit window set: seqMax - i was seen (bit 0 is seqMax itself). Bits 0-31
   * are seenLow's, bits 32-63 seenHigh's; both are kept as unsigned 32-bit values.
   */
  seenLow = 0;
  seenHigh = 0;
  /** The origin's earlier epochs, newest first (at most dedupRetiredEpochs). */
  retired: number[] = [];

  constructor(
    readonly epoch: number,
    public seqMax: number,
  ) {}

  /** Whether seqMax - behind was seen; behind in [0, 64). */
  has(behind: number): boolean {
    return ((behind < 32 ? this.seenLow >>> behind : this.seenHigh >>> (behind - 32)) & 1) === 1;
  }

  /** seqMax moves up by `ahead` (> 0): the window slides, forgetting what falls out of it. */
  slide(ahead: number): void {
    if (ahead >= 64) {
      this.seenLow = this.seenHigh = 0;
    } else if (ahead >= 32) {
      this.seenHigh = (this.seenLow << (ahead - 32)) >>> 0;
      this.seenLow = 0;
    } else {
      this.seenHigh = ((this.seenHigh << ahead) | (this.seenLow >>> (32 - ahead))) >>> 0;
      this.seenLow = (this.seenLow << ahead) >>> 0;
    }
    this.seqMax += ahead;
  }

  /** Mark seqMax - behind seen; one below the window is not remembered (nothing could ask). */
  mark(behind: number): void {
    if (behind < 32) this.seenLow = (this.seenLow | (1 << behind)) >>> 0;
    else if (behind < 64) this.seenHigh = (this.seenHigh | (1 << (behind - 32))) >>> 0;
  }
}

export class ProposalDedup {
  /** By node id, least recently used first. One epoch per node: its newest process. */
  private readonly origins = new Map<number, OriginWindow>();
  /** The node last in `origins` (most recently used): its record() need not move it. */
  private newestNode: number | null = null;

  /**
   * Whether (node, epoch, seq) is new. A copy seen before is 'duplicate'; one older than the
   * window is 'stale' (it may be a copy: skipped too, so both copies are treated alike), and so
   * is one of an epoch the node had before its current one. An entry from an epoch not seen
   * yet starts a new window (the node restarted).
   */
  check(node: number, epoch: number, seq: number): Admission {
    const w = this.origins.get(node);
    if (w === undefined) return 'new';
    if (w.epoch !== epoch) return w.retired.includes(epoch) ? 'stale' : 'new';
    if (seq > w.seqMax) return 'new';
    const behind = w.seqMax - seq;
    if (behind >= dedupWindowSeqs) return 'stale';
    return w.has(behind) ? 'duplicate' : 'new';
  }

  /** Remember (node, epoch, seq) as seen; call after check() said 'new'. */
  record(node: number, epoch: number, seq: number): void {
    let w = this.origins.get(node);
    const present = w !== undefined;
    if (w === undefined) w = new OriginWindow(epoch, seq);
    else if (w.epoch !== epoch) {
      const retired = [w.epoch, ...w.retired.filter((e) => e !== epoch)].slice(0, dedupRetiredEpochs);
      w = new OriginWindow(epoch, seq);
      w.retired = retired;
    }
    if (seq > w.seqMax) w.slide(seq - w.seqMax);
    w.mark(w.seqMax - seq);
    if (present && node === this.newestNode) {
      this.origins.set(node, w); // already last: set keeps its place
      return;
    }
    this.origins.delete(node); // re-inserted last: most recently used
    this.origins.set(node, w);
    this.newestNode = node;
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

  /** The table: per origin its window, then dedupRetiredEpochs slots of retired epochs (0: empty; epochs are never 0). */
  write(w: BinaryWriter): void {
    w.u32(this.origins.size);
    for (const [node, o] of this.origins) {
      w.u32(node).u32(o.epoch).u32(o.seqMax).u32(o.seenLow).u32(o.seenHigh);
      for (let i = 0; i < dedupRetiredEpochs; i++) w.u32(o.retired[i] ?? 0);
    }
  }

  /** Reads what write() wrote; `withRetired` false for the older encoding without retired epochs (kv snapshot version 2). */
  static read(r: BinaryReader, withRetired = true): ProposalDedup {
    const d = new ProposalDedup();
    const n = r.u32('dedup origins');
    if (n > dedupOriginsMax) r.fail(`dedup table of ${n} origins, at most ${dedupOriginsMax}`);
    for (let i = 0; i < n; i++) {
      const node = r.u32('dedup node');
      const epoch = r.u32('dedup epoch');
      const seqMax = r.u32('dedup seq');
      const w = new OriginWindow(epoch, seqMax);
      w.seenLow = r.u32('dedup window');
      w.seenHigh = r.u32('dedup window');
      if (withRetired) {
        for (let j = 0; j < dedupRetiredEpochs; j++) {
          const e = r.u32('dedup retired epoch');
          if (e !== 0) w.retired.push(e);
        }
      }
      if (d.origins.has(node)) r.fail(`dedup table lists node ${node} twice`);
      d.origins.set(node, w);
      d.newestNode = node;
    }
    return d;
  }
}
