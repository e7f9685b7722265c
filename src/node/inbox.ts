// What arrives for the Raft core between two Readies, from callbacks at any time: peer
// messages, proposals, conf changes, reads, transport reports, ticks. The Ready loop takes
// it all at once before the next Ready (that is the group commit). Proposals and conf
// changes are bounded here by count and bytes; beyond that the queues behind them fill up
// and their senders feel the backpressure.

import type { Chan } from '../chan.ts';
import { inboxConfChangesMax, inboxProposalBytesMax, inboxProposalsMax } from '../limits.ts';
import type { ConfChangeRequest, Proposal } from '../queues.ts';
import type { Message } from '../raftpb/index.ts';
import type { ReadRequest } from './read-index.ts';

export class Inbox {
  msgs: Message[] = [];
  proposals: Proposal[] = [];
  private proposalBytes = 0;
  confChanges: ConfChangeRequest[] = [];
  reads: ReadRequest[] = [];
  readonly unreachable = new Set<number>();
  snapshotStatus: { id: number; ok: boolean }[] = [];
  ticks = 0;
  transferTo = 0;
  private drained: (() => void)[] = [];
  private wake: (() => void) | null = null;

  /** Run a change of the inbox and make sure the loop notices. */
  push(change: (inbox: this) => void): void {
    change(this);
    this.kick();
  }

  /** Wake the loop if it waits for work. */
  kick(): void {
    const w = this.wake;
    if (w !== null) {
      this.wake = null;
      w();
    }
  }

  /** Resolves at the next push or kick. */
  waitForWork(): Promise<void> {
    return new Promise<void>((r) => (this.wake = r));
  }

  /** Take the proposals queued so far (their bytes are freed, and the queue may refill). */
  takeProposals(): Proposal[] {
    const props = this.proposals;
    this.proposals = [];
    this.proposalBytes = 0;
    return props;
  }

  takeConfChanges(): ConfChangeRequest[] {
    const ccs = this.confChanges;
    this.confChanges = [];
    return ccs;
  }

  /** What was taken has been fed to the core: the consumers may move more in. */
  drainedForNow(): void {
    if (this.drained.length > 0) for (const r of this.drained.splice(0)) r();
  }

  /** Move proposeC and confChangeC into the inbox until they close. */
  consume(proposeC: Chan<Proposal>, confChangeC: Chan<ConfChangeRequest>): void {
    void this.consumeFrom(proposeC, () => this.proposals, inboxProposalsMax, (p) => {
      this.proposalBytes += p.data.length;
      return this.proposalBytes >= inboxProposalBytesMax;
    });
    void this.consumeFrom(confChangeC, () => this.confChanges, inboxConfChangesMax);
  }

  /**
   * Move what arrives on c into the inbox, a burst at a time, but no more than `max` waiting
   * (nor, when `full` says so after taking a value, more bytes).
   */
  private async consumeFrom<T>(c: Chan<T>, inbox: () => T[], max: number, full: (v: T) => boolean = () => false): Promise<void> {
    let isFull = false;
    for (;;) {
      while (inbox().length >= max || (isFull && inbox().length > 0)) {
        await new Promise<void>((r) => this.drained.push(r));
      }
      const r = await c.recv();
      if (r.done) return;
      inbox().push(r.value);
      isFull = full(r.value);
      for (let v: T | undefined; !isFull && inbox().length < max && (v = c.tryRecv()) !== undefined; ) {
        inbox().push(v);
        isFull = full(v);
      }
      this.kick();
    }
  }
}
