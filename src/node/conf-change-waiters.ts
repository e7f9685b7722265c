// Membership requests waiting for their entry to apply. Each is proposed with a request id
// of [process epoch, sequence number] in its ConfChange context (node/membership.ts), and the
// applied entry settles exactly the request that proposed it: never one that merely asked
// for the same change, and never one of another incarnation of this node.

import type { ConfChangeRequest, MemberChange } from '../queues.ts';
import { CONF_CHANGE_REQUEST_ID_BYTES } from './membership.ts';

interface Waiting extends ConfChangeRequest {
  requestId: Uint8Array;
  deadline: number;
}

export class ConfChangeWaiters {
  private readonly epoch: number;
  private seq = 0;
  private waiting: Waiting[] = [];

  constructor(epoch: number) {
    this.epoch = epoch;
  }

  /** A fresh request id, for the context of a change about to be proposed. */
  nextRequestId(): Uint8Array {
    const id = Buffer.alloc(CONF_CHANGE_REQUEST_ID_BYTES);
    id.writeUInt32LE(this.epoch, 0);
    id.writeUIntLE(++this.seq, 4, 6);
    return id;
  }

  /** Wait for the entry proposed with `requestId`. */
  add(r: ConfChangeRequest, requestId: Uint8Array, deadline: number): void {
    this.waiting.push({ ...r, requestId, deadline });
  }

  /** The entry proposed with `requestId` applied (refusal null) or was refused when it applied. */
  settle(requestId: Uint8Array, refusal: Error | null): void {
    const i = this.waiting.findIndex((r) => Buffer.compare(r.requestId, requestId) === 0);
    if (i < 0) return;
    const [r] = this.waiting.splice(i, 1);
    if (refusal === null) r!.resolve();
    else r!.reject(refusal);
  }

  /** For the planted bug confChangeByContent only: settle every request asking for `change`, whoever proposed it. */
  settleSameChange(change: MemberChange, refusal: Error | null): void {
    const same = (r: ConfChangeRequest) =>
      r.change.kind === change.kind && r.change.type === change.type && r.change.nodeId === change.nodeId && r.change.peerUrl === change.peerUrl;
    this.waiting = this.waiting.filter((r) => {
      if (!same(r)) return true;
      if (refusal === null) r.resolve();
      else r.reject(refusal);
      return false;
    });
  }

  /** Resolve every request whose change `holds` says is known to be in effect. */
  resolveWhere(holds: (r: ConfChangeRequest) => boolean): void {
    this.waiting = this.waiting.filter((r) => {
      if (!holds(r)) return true;
      r.resolve();
      return false;
    });
  }

  /** Fail the requests past their deadline with `error()`. */
  sweep(now: number, error: () => Error): void {
    if (this.waiting.length === 0) return;
    this.waiting = this.waiting.filter((r) => {
      if (r.deadline > now) return true;
      r.reject(error());
      return false;
    });
  }

  failAll(error: Error): void {
    for (const r of this.waiting.splice(0)) r.reject(error);
  }
}
