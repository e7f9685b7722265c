// A bounded async queue in the spirit of a buffered Go channel: the pipes between
// httpapi, kvstore and raftnode (proposeC, confChangeC, commitC).
//
// `send` waits while the queue is full (backpressure instead of unbounded memory);
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

export class Chan<T> implements AsyncIterable<T> {
  readonly capacity: number;
  // A ring would save the shift(); V8 arrays used as queues are fast enough at these sizes.
  private readonly buf: T[] = [];
  private readonly senders: PendingSend<T>[] = [];
  private readonly receivers: ((r: RecvResult<T>) => void)[] = [];
  private closedFlag = false;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`chan capacity must be >= 1: ${capacity}`);
    this.capacity = capacity;
  }

  /** Items buffered (not counting senders blocked on a full queue). */
  get length(): number {
    return this.buf.length;
  }

  /** Enqueue without waiting. False if the queue is full; throws if closed. */
  trySend(value: T): boolean {
    if (this.closedFlag) throw new ChanClosedError();
    const rcv = this.receivers.shift();
    if (rcv !== undefined) {
      rcv({ done: false, value });
      return true;
    }
    if (this.buf.length >= this.capacity) return false;
    this.buf.push(value);
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
    const v = this.buf.shift() as T;
    this.admitSender();
    return v;
  }

  /** Dequeue, waiting for a value; `done` once closed and drained. */
  recv(): Promise<RecvResult<T>> {
    if (this.buf.length > 0) {
      const value = this.buf.shift() as T;
      this.admitSender();
      return Promise.resolve({ done: false, value });
    }
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

  /** A slot was freed: move the oldest blocked sender's value into the buffer. */
  private admitSender(): void {
    const s = this.senders.shift();
    if (s === undefined) return;
    this.buf.push(s.value);
    s.resolve();
  }
}
