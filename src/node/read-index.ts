// Linearizable reads waiting for their ReadIndex round. Each round is asked with a context
// of [process epoch, sequence number], so an answer meant for an earlier incarnation of this
// node (whose sequence numbers also started at 1) never serves a read of ours.

/** When a read's round was asked for (the monotonic and the wall clock), in which term, under which configuration: what a leader lease from it needs. */
export interface RoundAsked {
  at: number;
  wall: number;
  term: number;
  conf: number;
}

/** A read waiting for the commit index it must see applied. */
export interface ReadRequest {
  resolve: (index: number) => void;
  reject: (e: Error) => void;
  deadline: number;
  /** Set when its round is asked for. */
  asked?: RoundAsked;
  /** Asked only to renew the lease, for no client. */
  renewal?: boolean;
}

const CONTEXT_BYTES = 12;

export class ReadIndexTracker {
  private readonly epoch: number;
  private seq = 0;
  private readonly pending = new Map<number, ReadRequest>();

  constructor(epoch: number) {
    this.epoch = epoch;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Ask for a round for `r` with `ask(context)`; if ask throws, `r` is not kept. */
  start(r: ReadRequest, ask: (context: Uint8Array) => void): void {
    const id = ++this.seq;
    const ctx = Buffer.allocUnsafe(CONTEXT_BYTES);
    ctx.writeUInt32LE(this.epoch, 0);
    ctx.writeUInt32LE(id >>> 0, 4);
    ctx.writeUInt32LE(Math.floor(id / 0x1_0000_0000), 8);
    ask(ctx);
    this.pending.set(id, r);
  }

  /** A ReadState came back: serve the read it was asked for (if it is ours and still waiting), and return it. */
  answer(context: Uint8Array, index: number): ReadRequest | undefined {
    if (context.length !== CONTEXT_BYTES) return undefined;
    const b = Buffer.from(context.buffer, context.byteOffset, CONTEXT_BYTES);
    if (b.readUInt32LE(0) !== this.epoch) return undefined; // asked by an earlier incarnation of this node
    const id = b.readUInt32LE(4) + b.readUInt32LE(8) * 0x1_0000_0000;
    const r = this.pending.get(id);
    if (r === undefined) return undefined;
    this.pending.delete(id);
    r.resolve(index);
    return r;
  }

  /** Every read still waiting, no longer tracked (to ask again, or to fail). */
  takeAll(): ReadRequest[] {
    const all = [...this.pending.values()];
    this.pending.clear();
    return all;
  }

  /** Fail the reads past their deadline with `error()`. */
  sweep(now: number, error: () => Error): void {
    for (const [id, r] of this.pending) {
      if (r.deadline > now) continue;
      this.pending.delete(id);
      r.reject(error());
    }
  }
}
