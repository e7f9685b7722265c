// One remote member as seen by the sender: a bounded queue of outgoing messages, sent as
// binary POSTs of everything queued, at most peerMessagePostsInFlightMax unanswered at once
// (so the messages of Readies that piled up behind slow requests travel together).
// Snapshots take their own request on their own route and report how it went.

import { BinaryWriter, batchEncodedBytes, decodeMessages, messageEncodedBytes, writeMessages } from '../raftpb/index.ts';
import {
  peerBatchBytesMax,
  peerBatchMessagesMax,
  peerMessagePostsInFlightMax,
  peerQueueBytesMax,
  peerQueueMessagesMax,
  peerSnapshotChunkBytes,
} from '../limits.ts';
import type { Message } from '../raftpb/types.ts';
import { MessageType } from '../raftpb/types.ts';
import type { Clock } from '../world.ts';
import { PATH_MESSAGES, PATH_PROBE, PATH_SNAPSHOT, peerHeaders } from './headers.ts';

/**
 * How one POST went: an HTTP status (0 when the peer could not be reached), and for a 200
 * the body: messages the peer sent back with its answer instead of POSTing them itself.
 */
export type PostOutcome = number | { status: number; body: Uint8Array };
export type PostFn = (
  path: string,
  body: Uint8Array | readonly Uint8Array[],
  headers: Record<string, string>,
) => Promise<PostOutcome>;


export interface PeerEvents {
  unreachable(id: number): void;
  snapshotStatus(id: number, ok: boolean): void;
  /** Peer `id` answered 410: it has applied this member's removal from the cluster. */
  removed(id: number): void;
  /** The peer refused our identity (412): wrong cluster or wrong member. */
  rejected(id: number, status: number): void;
  /** Messages the peer sent back in its answer. */
  received(msgs: Message[]): void;
  /**
   * Messages certainly never delivered: dropped on a full queue, or in a batch the peer refused
   * with a 4xx (it refuses before handing anything to its node). Proposals in them can fail now.
   */
  dropped?(msgs: Message[]): void;
}

/** For metrics: how each message POST went (the transport does not know who counts). */
export interface PeerStats {
  /** One POST to `peer` carrying `messages` messages took `seconds` (its clock); ok: answered 2xx. */
  roundTrip(peer: number, seconds: number, ok: boolean, messages: number): void;
}

export interface PeerLimits {
  /** Messages waiting to be sent; past this new ones are dropped and the peer reported unreachable. */
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  /** Messages in one POST (the codec's decoder takes at most 4096). */
  maxBatchMessages: number;
  maxBatchBytes: number;
  /** Message POSTs in flight at once (default peerMessagePostsInFlightMax); they leave in order. */
  maxPostsInFlight?: number;
}

export const DEFAULT_PEER_LIMITS: PeerLimits = {
  maxQueuedMessages: peerQueueMessagesMax,
  maxQueuedBytes: peerQueueBytesMax,
  maxBatchMessages: peerBatchMessagesMax,
  maxBatchBytes: peerBatchBytesMax,
  maxPostsInFlight: peerMessagePostsInFlightMax,
};

export class PeerClient {
  readonly id: number;
  url: string;
  private readonly fromId: number;
  private readonly post: PostFn;
  private readonly events: PeerEvents;
  private readonly limits: PeerLimits;
  private readonly stats: PeerStats | null;
  private readonly clock: Clock | null;
  private readonly headers: Record<string, string>;
  private queue: Message[] = [];
  /** Encoded bytes of each queued message, in step with `queue`. */
  private queueSizes: number[] = [];
  private queuedBytes = 0;
  /** Message POSTs sent and not yet answered. */
  private postsInFlight = 0;
  private drainScheduled = false;
  private readonly maxPostsInFlight: number;
  /** Settles what stop() returned, once no POST is in flight. */
  private wakeIdle: (() => void) | null = null;
  private snapshotInFlight = false;
  private stopped = false;
  private readonly writer = new BinaryWriter(64 * 1024);

  constructor(o: {
    id: number;
    url: string;
    fromId: number;
    clusterId: string;
    post: PostFn;
    events: PeerEvents;
    limits?: PeerLimits;
    /** Round trips are reported only with both. */
    stats?: PeerStats;
    clock?: Clock;
  }) {
    this.id = o.id;
    this.url = o.url;
    this.fromId = o.fromId;
    this.post = o.post;
    this.events = o.events;
    this.limits = o.limits ?? DEFAULT_PEER_LIMITS;
    this.maxPostsInFlight = Math.max(1, this.limits.maxPostsInFlight ?? peerMessagePostsInFlightMax);
    this.stats = o.stats !== undefined && o.clock !== undefined ? o.stats : null;
    this.clock = o.clock ?? null;
    this.headers = peerHeaders(o.clusterId, o.fromId, o.id);
  }

  get queued(): number {
    return this.queue.length;
  }

  send(m: Message): void {
    if (this.stopped) return;
    if (m.type === MessageType.MsgSnap) {
      this.sendSnapshot(m);
      return;
    }
    const size = messageEncodedBytes(m);
    // Full, but a POST could leave now: send what is queued rather than wait for the microtask.
    if (this.isFullFor(size)) this.drain();
    if (this.isFullFor(size)) {
      this.events.unreachable(this.id); // dropped: Raft will retry once it hears from the peer again
      this.events.dropped?.([m]);
      return;
    }
    this.queue.push(m);
    this.queueSizes.push(size);
    this.queuedBytes += size;
    // On a microtask: the messages of one Ready, handed over one by one, leave in one POST.
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      queueMicrotask(() => {
        this.drainScheduled = false;
        this.drain();
      });
    }
  }

  private isFullFor(size: number): boolean {
    return this.queue.length >= this.limits.maxQueuedMessages || this.queuedBytes + size > this.limits.maxQueuedBytes;
  }

  /** Ask the peer whether it has applied our removal: a 410 is reported as `removed`. */
  async probe(): Promise<void> {
    if (this.stopped) return;
    // An unreachable peer is no answer, not an error: probes are fire-and-forget.
    const outcome = await this.post(PATH_PROBE, new Uint8Array(0), this.headers).catch(() => 0);
    if (outcome === 410) this.events.removed(this.id);
  }

  /** Stop sending; resolves when the requests in flight (if any) are done. */
  stop(): Promise<void> {
    this.stopped = true;
    this.queue = [];
    this.queueSizes = [];
    this.queuedBytes = 0;
    if (this.postsInFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const before = this.wakeIdle;
      this.wakeIdle = () => {
        before?.();
        resolve();
      };
    });
  }

  /** Send what is queued, as batches, while fewer than maxPostsInFlight POSTs are unanswered. */
  private drain(): void {
    while (this.queue.length > 0 && !this.stopped && this.postsInFlight < this.maxPostsInFlight) {
      const batch = this.takeBatch();
      // Encode into the reusable writer and copy once: the body must outlive the next encode.
      this.writer.reset();
      writeMessages(this.writer, batch);
      this.postsInFlight++;
      void this.postBatch(batch, this.writer.copy());
    }
  }

  private async postBatch(batch: Message[], body: Uint8Array): Promise<void> {
    try {
      const started = this.stats === null ? 0 : this.clock!.now();
      // A post that throws is a peer we could not reach (status 0): never an unhandled rejection.
      const outcome = await this.post(PATH_MESSAGES, body, this.headers).catch(() => 0);
      if (this.stats !== null) {
        const status = typeof outcome === 'number' ? outcome : outcome.status;
        this.stats.roundTrip(this.id, (this.clock!.now() - started) / 1000, status >= 200 && status < 300, batch.length);
      }
      if (typeof outcome !== 'number') this.receive(outcome.body);
      else {
        this.afterPost(outcome);
        if (outcome >= 400 && outcome < 500) this.events.dropped?.(batch);
      }
    } finally {
      this.postsInFlight--;
      if (this.postsInFlight === 0 && this.wakeIdle !== null) {
        const wake = this.wakeIdle;
        this.wakeIdle = null;
        wake();
      }
      this.drain();
    }
  }

  /** The oldest queued messages whose encoded batch fits maxBatchBytes (at least one). */
  private takeBatch(): Message[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.limits.maxBatchMessages) {
      const b = this.queueSizes[n]!;
      if (n > 0 && batchEncodedBytes(n + 1, bytes + b) > this.limits.maxBatchBytes) break;
      bytes += b;
      n++;
    }
    this.queuedBytes -= bytes;
    this.queueSizes.splice(0, n);
    return n === this.queue.length ? this.queue.splice(0) : this.queue.splice(0, n);
  }

  /** Messages in an answer must come from that peer and be meant for us; anything else is dropped. */
  private receive(body: Uint8Array): void {
    let msgs: Message[];
    try {
      msgs = decodeMessages(body);
    } catch {
      return;
    }
    const ok = msgs.filter((m) => m.from === this.id && m.to === this.fromId && m.type !== MessageType.MsgSnap);
    if (ok.length > 0) this.events.received(ok);
  }

  private afterPost(status: number): void {
    if (status >= 200 && status < 300) return;
    if (status === 410) this.events.removed(this.id);
    else if (status === 412) this.events.rejected(this.id, status);
    this.events.unreachable(this.id);
  }

  private sendSnapshot(m: Message): void {
    if (this.snapshotInFlight) {
      this.events.snapshotStatus(this.id, false);
      return;
    }
    this.snapshotInFlight = true;
    const chunks = snapshotChunks(m);
    let length = 0;
    for (const c of chunks) length += c.length;
    this.post(PATH_SNAPSHOT, chunks, { ...this.headers, 'content-length': String(length) })
      .then((outcome) => {
        const status = typeof outcome === 'number' ? outcome : outcome.status;
        const ok = status >= 200 && status < 300;
        if (!ok) this.afterPost(status);
        this.events.snapshotStatus(this.id, ok);
      })
      .finally(() => (this.snapshotInFlight = false));
  }
}

/**
 * A one-message batch carrying a snapshot, as the codec lays it out, but streamed: the
 * snapshot data is the batch's last field, so encode everything before it (with an empty
 * data field), swap that field's zero length for the real one, and follow with the data.
 */
export function snapshotChunks(m: Message): Uint8Array[] {
  const snap = m.snapshot!;
  const w = new BinaryWriter(1024);
  writeMessages(w, [{ ...m, snapshot: { metadata: snap.metadata, data: new Uint8Array(0) } }]);
  const head = w.view();
  const w2 = new BinaryWriter(head.length + 8);
  w2.raw(head.subarray(0, head.length - 1)).varint(snap.data.length);
  const chunks = [w2.copy()];
  for (let off = 0; off < snap.data.length; off += peerSnapshotChunkBytes) {
    chunks.push(snap.data.subarray(off, Math.min(off + peerSnapshotChunkBytes, snap.data.length)));
  }
  return chunks;
}
