// Pending linearizable reads on the leader. Each read remembers the commit index when it arrived
// and is answered once a quorum of voters has acknowledged a heartbeat round sent after it
// arrived. A round covers every read that arrived before it left, so one round serves all the
// reads waiting; reads that arrive while a round is out ride on the next one. Heartbeats carry
// a round id (not the application's read context), so read contexts need not be unique.

import type { NodeId } from '../raftpb/types.ts';

export interface PendingRead {
  /** The leader's commit index when the read arrived. */
  index: number;
  /** Who asked: the leader itself, or a follower that forwarded the read. */
  from: NodeId;
  ctx: Uint8Array;
  seq: number;
}

interface Round {
  id: number;
  /** Covers the reads with seq <= lastSeq. */
  lastSeq: number;
  acks: Set<NodeId>;
}

const ROUND_ID_BYTES = 8;

export function encodeRoundId(id: number): Uint8Array {
  const b = new Uint8Array(ROUND_ID_BYTES);
  new DataView(b.buffer).setFloat64(0, id);
  return b;
}

function decodeRoundId(b: Uint8Array): number | undefined {
  if (b.length !== ROUND_ID_BYTES) return undefined;
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(0);
}

export class ReadOnlyQueue {
  private reads: PendingRead[] = [];
  /** Outstanding rounds, oldest first. */
  private rounds: Round[] = [];
  private nextSeq = 1;
  /** Never reused, even across terms, so a late ack cannot confirm the wrong round. */
  private nextRoundId = 1;

  get size(): number {
    return this.reads.length;
  }

  add(index: number, from: NodeId, ctx: Uint8Array): void {
    this.reads.push({ index, from, ctx, seq: this.nextSeq++ });
  }

  /** Some read is covered by no outstanding round. */
  hasUncovered(): boolean {
    const newest = this.reads[this.reads.length - 1];
    const round = this.rounds[this.rounds.length - 1];
    return newest !== undefined && (round === undefined || round.lastSeq < newest.seq);
  }

  roundOutstanding(): boolean {
    return this.rounds.length > 0;
  }

  /** A new round covering every pending read; returns the context its heartbeats carry. */
  startRound(self: NodeId): Uint8Array {
    const id = this.nextRoundId++;
    this.rounds.push({ id, lastSeq: this.nextSeq - 1, acks: new Set([self]) });
    return encodeRoundId(id);
  }

  /** The newest round's heartbeats have not left yet: let it cover the reads that arrived since. */
  extendNewestRound(): void {
    const round = this.rounds[this.rounds.length - 1];
    if (round !== undefined) round.lastSeq = this.nextSeq - 1;
  }

  /** The context of the newest outstanding round, to repeat on a heartbeat. */
  newestRoundCtx(): Uint8Array | null {
    const round = this.rounds[this.rounds.length - 1];
    return round === undefined ? null : encodeRoundId(round.id);
  }

  /**
   * Records an ack for the round in `ctx`. If `confirmed` says the round now has a quorum,
   * removes and returns every read it covers (older rounds are settled with it).
   */
  recvAck(from: NodeId, ctx: Uint8Array, confirmed: (acks: ReadonlySet<NodeId>) => boolean): PendingRead[] {
    const id = decodeRoundId(ctx);
    const round = this.rounds.find((r) => r.id === id);
    if (round === undefined) return [];
    round.acks.add(from);
    return confirmed(round.acks) ? this.complete(round) : [];
  }

  /** Completes the newest round that `confirmed` accepts (after a quorum change), if any. */
  recheck(confirmed: (acks: ReadonlySet<NodeId>) => boolean): PendingRead[] {
    for (let i = this.rounds.length - 1; i >= 0; i--) {
      const round = this.rounds[i]!;
      if (confirmed(round.acks)) return this.complete(round);
    }
    return [];
  }

  private complete(round: Round): PendingRead[] {
    const n = this.reads.findIndex((r) => r.seq > round.lastSeq);
    const done = n < 0 ? this.reads : this.reads.slice(0, n);
    this.reads = n < 0 ? [] : this.reads.slice(n);
    this.rounds = this.rounds.filter((r) => r.lastSeq > round.lastSeq);
    return done;
  }

  reset(): void {
    this.reads = [];
    this.rounds = [];
  }
}
