// PeerTransport: the Raft node's view of the network. It routes each outgoing message to
// its peer's client, follows membership changes (add, update, remove a peer URL), and
// turns network outcomes into the reports Raft wants (unreachable, snapshot status).

import { BinaryWriter, batchEncodedBytes, messageEncodedBytes, writeMessages } from '../raftpb/index.ts';
import { peerBatchBytesMax, peerBatchMessagesMax, peerHeldReplyMsMax } from '../limits.ts';
import { MessageType, type Message, type Snapshot } from '../raftpb/types.ts';
import { realClock, type Clock } from '../world.ts';
import { httpNetwork } from './http-network.ts';
import type { PeerNetwork } from './network.ts';
import { DEFAULT_PEER_LIMITS, PeerClient, type PeerEvents, type PeerLimits, type PeerStats, type PostFn } from './peer.ts';

export interface TransportOptions {
  localId: number;
  clusterId: string;
  events: PeerEvents;
  limits?: PeerLimits;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  snapshotTimeoutMs?: number;
  /** How peers are reached (default: HTTP); the simulator and tests pass their own. */
  network?: PeerNetwork;
  /** For the age of held replies and peer round trips (default: the real clock). */
  clock?: Clock;
  /** Told how each message POST went, for metrics (default: nobody). */
  stats?: PeerStats;
  /**
   * A snapshot's data, for sending it (default: the data the message carries). The node keeps
   * its snapshots' data in their files, not in memory, and reads it back here.
   */
  snapshotData?: (snap: Snapshot) => Promise<Uint8Array>;
}

/** A peer's request held open, so that our answering messages can ride on its response. */
interface HeldReply {
  respond: (body: Uint8Array | null) => void;
  /** Its messages have been fed to the core: release it at the end of the next Ready. */
  fed: boolean;
  since: number;
}

interface PeerEntry {
  client: PeerClient;
  close: () => Promise<void>;
}

export class PeerTransport {
  private readonly o: TransportOptions;
  private readonly peers = new Map<number, PeerEntry>();
  private held = new Map<number, HeldReply[]>();
  private readonly writer = new BinaryWriter(64 * 1024);
  /** Peers whose snapshot's data is being read (snapshotData): one at a time each. */
  private readonly loadingSnapshot = new Set<number>();

  private readonly clock: Clock;

  constructor(o: TransportOptions) {
    this.o = o;
    this.clock = o.clock ?? realClock;
  }

  /** Send each message to its peer; messages to unknown peers are dropped and reported. */
  send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      const p = this.peers.get(m.to);
      if (p === undefined) {
        if (m.to !== this.o.localId) this.o.events.unreachable(m.to);
        continue;
      }
      if (m.type === MessageType.MsgSnap && this.o.snapshotData !== undefined) this.sendSnapshot(m, this.o.snapshotData);
      else p.client.send(m);
    }
  }

  /** Read the snapshot's data, then send it (to the peer's client then, if still a peer). */
  private sendSnapshot(m: Message, data: (snap: Snapshot) => Promise<Uint8Array>): void {
    const to = m.to;
    const snap = m.snapshot!;
    if (this.loadingSnapshot.has(to)) {
      this.o.events.snapshotStatus(to, false); // as the client does for a second snapshot in flight
      return;
    }
    this.loadingSnapshot.add(to);
    data(snap)
      .then(
        (bytes) => {
          const p = this.peers.get(to);
          if (p === undefined) this.o.events.snapshotStatus(to, false);
          else p.client.send({ ...m, snapshot: { metadata: snap.metadata, data: bytes } });
        },
        () => this.o.events.snapshotStatus(to, false),
      )
      .finally(() => this.loadingSnapshot.delete(to));
  }

  /**
   * Hold the answer to a peer's message POST: the messages our next Ready produces for that
   * peer go back in its body (one request per exchange instead of two).
   */
  hold(from: number, respond: (body: Uint8Array | null) => void): void {
    const list = this.held.get(from);
    const h: HeldReply = { respond, fed: false, since: this.clock.now() };
    if (list === undefined) this.held.set(from, [h]);
    else list.push(h);
  }

  /** The messages of every request held so far are being fed to the core. */
  markFed(): void {
    for (const list of this.held.values()) for (const h of list) h.fed = true;
  }

  /**
   * After a Ready is persisted: answer every fed held request, each peer's first one carrying
   * this Ready's messages for that peer. Returns the messages left to send by POST. (Requests
   * held too long are answered by releaseStale on the tick timer, not here.)
   */
  releaseFed(msgs: readonly Message[]): readonly Message[] {
    if (this.held.size === 0) return msgs;
    const answering = new Map<number, HeldReply[]>();
    for (const [peer, list] of this.held) {
      const fed: HeldReply[] = [];
      const waiting: HeldReply[] = [];
      for (const h of list) (h.fed ? fed : waiting).push(h);
      if (fed.length === 0) continue;
      answering.set(peer, fed);
      if (waiting.length === 0) this.held.delete(peer);
      else this.held.set(peer, waiting);
    }
    if (answering.size === 0) return msgs;
    // Each answer body is bounded like a POST batch; what does not fit goes by POST.
    const carried = new Map<number, { msgs: Message[]; bytes: number }>();
    const rest: Message[] = [];
    const batchBytesMax = this.o.limits?.maxBatchBytes ?? peerBatchBytesMax;
    const batchMessagesMax = this.o.limits?.maxBatchMessages ?? peerBatchMessagesMax;
    for (const m of msgs) {
      if (m.type === MessageType.MsgSnap || !answering.has(m.to)) {
        rest.push(m);
        continue;
      }
      const list = carried.get(m.to) ?? { msgs: [], bytes: 0 };
      const bytes = list.bytes + messageEncodedBytes(m);
      if (list.msgs.length >= batchMessagesMax || batchEncodedBytes(list.msgs.length + 1, bytes) > batchBytesMax) {
        list.bytes = Infinity; // full: this peer's later messages go by POST too, in order
        carried.set(m.to, list);
        rest.push(m);
        continue;
      }
      list.msgs.push(m);
      list.bytes = bytes;
      carried.set(m.to, list);
    }
    for (const [peer, fed] of answering) {
      const mine = carried.get(peer);
      let body: Uint8Array | null = null;
      if (mine !== undefined) {
        this.writer.reset();
        writeMessages(this.writer, mine.msgs);
        body = this.writer.copy();
      }
      fed[0]!.respond(body);
      for (let i = 1; i < fed.length; i++) fed[i]!.respond(null);
    }
    return rest;
  }

  /** Answer empty the requests held too long (called from the tick timer, even if the loop is busy). */
  releaseStale(): void {
    if (this.held.size === 0) return;
    const now = this.clock.now();
    for (const [peer, list] of this.held) {
      const keep = list.filter((h) => now - h.since <= peerHeldReplyMsMax);
      if (keep.length === list.length) continue;
      for (const h of list) if (!keep.includes(h)) h.respond(null);
      if (keep.length === 0) this.held.delete(peer);
      else this.held.set(peer, keep);
    }
  }

  /** Answer every held request empty (stopping). */
  releaseAll(): void {
    const all = this.held;
    this.held = new Map();
    for (const list of all.values()) for (const h of list) h.respond(null);
  }

  peerIds(): number[] {
    return [...this.peers.keys()];
  }

  /** Probe the given peers (see PeerClient.probe); unknown ids are skipped. */
  probe(ids: readonly number[]): void {
    for (const id of ids) void this.peers.get(id)?.client.probe();
  }

  /** Add a peer, or move it to a new URL. The local node is never a peer. */
  addPeer(id: number, url: string): void {
    if (id === this.o.localId) return;
    const cur = this.peers.get(id);
    if (cur !== undefined) {
      if (cur.client.url === url) return;
      this.removePeer(id);
    }
    const conn = (this.o.network ?? httpNetwork).connect(url, {
      connectTimeoutMs: this.o.connectTimeoutMs ?? 1000,
      requestTimeoutMs: this.o.requestTimeoutMs ?? 5000,
      snapshotTimeoutMs: this.o.snapshotTimeoutMs ?? 60_000,
    });
    const post: PostFn = (path, body, headers) =>
      conn.request({ method: 'POST', path, headers, body }).then((r) => (r.status === 200 ? r : r.status));
    const client = new PeerClient({
      id,
      url,
      fromId: this.o.localId,
      clusterId: this.o.clusterId,
      post,
      events: this.o.events,
      limits: this.o.limits ?? DEFAULT_PEER_LIMITS,
      ...(this.o.stats === undefined ? {} : { stats: this.o.stats, clock: this.clock }),
    });
    this.peers.set(id, { client, close: () => conn.close() });
  }

  removePeer(id: number): void {
    const p = this.peers.get(id);
    if (p === undefined) return;
    this.peers.delete(id);
    const idle = p.client.stop();
    void p.close().catch(() => undefined); // aborts a request in flight, so idle settles soon
    void idle;
  }

  async close(): Promise<void> {
    this.releaseAll();
    const all = [...this.peers.values()];
    this.peers.clear();
    // Stop the loops, then destroy the pools (aborting requests in flight to dead peers),
    // then wait for the loops to notice.
    await Promise.all(all.map(async (p) => {
      const idle = p.client.stop();
      await p.close().catch(() => undefined);
      await idle;
    }));
  }
}
