// A bounded async queue in the spirit of a buffered Go channel: the pipes between
// httpapi, kvstore and raftnode (proposeC, confChangeC, commitC).
//
// `send` waits while the queue is full (backpressure instead of unbounded memory): full by
// count, or by bytes when given a byte budget and a way to weigh each value;
// `recv` waits while it is empty; `close` lets receivers drain what is buffered and
// then see the end, and makes every later or pending `send` fail.

export class ChanClosedError extends Error {
  readonly code = 'ERR_CHAN_CLOSED';
  constructor() {
    super('send on closed channel');
    this.name = 'ChanClosedError';
  }
}

interface PendingSend<T> {
  value: T;
  resolve: () => void;
  reject: (e: Error) => void;
}

type RecvResult<T> = IteratorResult<T, undefined>;
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** A byte budget: the values buffered weigh at most `bytesMax` (one value alone may weigh more). */
export interface ChanByteBudget<T> {
  bytesMax: number;
  sizeOf: (value: T) => number;
}

export class Chan<T> implements AsyncIterable<T> {
  readonly capacity: number;
  private readonly budget: ChanByteBudget<T> | null;
  private bufBytes = 0;
  // A ring would save the shift(); V8 arrays used as queues are fast enough at these sizes.
  private readonly buf: T[] = [];
  private readonly senders: PendingSend<T>[] = [];
  private readonly receivers: ((r: RecvResult<T>) => void)[] = [];
  private closedFlag = false;

  constructor(capacity: number, budget?: ChanByteBudget<T>) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`chan capacity must be >= 1: ${capacity}`);
    if (budget !== undefined && !(budget.bytesMax >= 1)) throw new RangeError(`chan byte budget must be >= 1: ${budget.bytesMax}`);
    this.capacity = capacity;
    this.budget = budget ?? null;
  }

  /** Items buffered (not counting senders blocked on a full queue). */
  get length(): number {
    return this.buf.length;
  }

  /** Bytes buffered, by the budget's weighing (0 without a budget). */
  get bytes(): number {
    return this.bufBytes;
  }

  /** Enqueue without waiting. False if the queue is full; throws if closed. */
  trySend(value: T): boolean {
    if (this.closedFlag) throw new ChanClosedError();
    const rcv = this.receivers.shift();
    if (rcv !== undefined) {
      rcv({ done: false, value });
      return true;
    }
    // Behind a blocked sender (waiting for bytes) a smaller value must not overtake it.
    if (this.senders.length > 0 || !this.fits(value)) return false;
    this.push(value);
    return true;
  }

  /** Enqueue, waiting for room. Rejects with ChanClosedError if the channel is or gets closed. */
  send(value: T): Promise<void> {
    try {
      if (this.trySend(value)) return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<void>((resolve, reject) => this.senders.push({ value, resolve, reject }));
  }

  /** Dequeue without waiting: undefined when nothing is buffered. */
  tryRecv(): T | undefined {
    if (this.buf.length === 0) return undefined;
    return this.shift();
  }

  /** Dequeue, waiting for a value; `done` once closed and drained. */
  recv(): Promise<RecvResult<T>> {
    if (this.buf.length > 0) return Promise.resolve({ done: false, value: this.shift() });
    if (this.closedFlag) return Promise.resolve(DONE);
    return new Promise((resolve) => this.receivers.push(resolve));
  }

  /** No more sends: pending senders fail, receivers get what is buffered, then the end. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const s of this.senders.splice(0)) s.reject(new ChanClosedError());
    for (const r of this.receivers.splice(0)) r(DONE);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const r = await this.recv();
      if (r.done) return;
      yield r.value;
    }
  }

  /** Room for one more value: below the count, and within the byte budget unless the buffer is empty. */
  private fits(value: T): boolean {
    if (this.buf.length >= this.capacity) return false;
    const b = this.budget;
    return b === null || this.buf.length === 0 || this.bufBytes + b.sizeOf(value) <= b.bytesMax;
  }

  private push(value: T): void {
    this.buf.push(value);
    if (this.budget !== null) this.bufBytes += this.budget.sizeOf(value);
  }

  private shift(): T {
    const v = this.buf.shift() as T;
    if (this.budget !== null) this.bufBytes -= this.budget.sizeOf(v);
    this.admitSenders();
    return v;
  }

  /** Room was freed: move blocked senders' values into the buffer, oldest first, while they fit. */
  private admitSenders(): void {
    while (this.senders.length > 0 && this.fits(this.senders[0]!.value)) {
      const s = this.senders.shift()!;
      this.push(s.value);
      s.resolve();
    }
  }
}
