// Pending linearizable reads on the leader. Each read remembers the commit index when it arrived
// and waits until a quorum of voters has acknowledged a heartbeat round sent after its arrival.
// A round carries the context of the newest read at the time it is sent, and an ack for it also
// confirms every older read, so one round serves every read that was waiting. At most one round
// is started per completed round (plus one per heartbeat tick), however many reads arrive.

import type { NodeId } from './types.ts';

export interface PendingRead {
  /** The leader's commit index when the read arrived. */
  index: number;
  /** Who asked: the leader itself, or a follower that forwarded the read. */
  from: NodeId;
  ctx: Uint8Array;
  key: string;
  /** Voters (and learners, ignored when counting) that acknowledged a round covering this read. */
  acks: Set<NodeId>;
}

export function bytesKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export class ReadOnlyQueue {
  private readonly byKey = new Map<string, PendingRead>();
  /** Arrival order. */
  private queue: PendingRead[] = [];
  /** Key of the newest read a heartbeat round has carried. */
  private roundKey: string | null = null;

  get size(): number {
    return this.queue.length;
  }

  /** Adds a read; false if a read with the same context is already pending (it is ignored). */
  add(index: number, from: NodeId, ctx: Uint8Array, self: NodeId): boolean {
    const key = bytesKey(ctx);
    if (this.byKey.has(key)) return false;
    const read: PendingRead = { index, from, ctx, key, acks: new Set([self]) };
    this.byKey.set(key, read);
    this.queue.push(read);
    return true;
  }

  /** A round is out whose reads have not all been answered. */
  roundInFlight(): boolean {
    return this.roundKey !== null && this.byKey.has(this.roundKey);
  }

  /** Starts a round covering every pending read: returns the context its heartbeats carry. */
  startRound(): Uint8Array | null {
    const newest = this.queue[this.queue.length - 1];
    if (newest === undefined) return null;
    this.roundKey = newest.key;
    return newest.ctx;
  }

  recvAck(from: NodeId, ctx: Uint8Array): PendingRead | undefined {
    const read = this.byKey.get(bytesKey(ctx));
    read?.acks.add(from);
    return read;
  }

  /** Removes and returns `read` and every read that arrived before it. */
  advance(read: PendingRead): PendingRead[] {
    const at = this.queue.indexOf(read);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    for (const r of done) this.byKey.delete(r.key);
    return done;
  }

  /** The newest pending read satisfying `confirmed`, if any. */
  newestWhere(confirmed: (r: PendingRead) => boolean): PendingRead | undefined {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const r = this.queue[i]!;
      if (confirmed(r)) return r;
    }
    return undefined;
  }

  reset(): void {
    this.byKey.clear();
    this.queue = [];
    this.roundKey = null;
  }
}
