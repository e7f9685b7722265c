// PeerTransport: the Raft node's view of the network. It routes each outgoing message to
// its peer's client, follows membership changes (add, update, remove a peer URL), and
// turns network outcomes into the reports Raft wants (unreachable, snapshot status).

import type { Message } from '../raft/types.ts';
import { DEFAULT_PEER_LIMITS, PeerClient, undiciPost, type PeerEvents, type PeerLimits, type PostFn } from './peer.ts';

export interface TransportOptions {
  localId: number;
  clusterId: string;
  events: PeerEvents;
  limits?: PeerLimits;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  snapshotTimeoutMs?: number;
  /** For tests: replace undici with a fake network. */
  makePost?: (url: string) => { post: PostFn; close: () => Promise<void> };
}

interface PeerEntry {
  client: PeerClient;
  close: () => Promise<void>;
}

export class PeerTransport {
  private readonly o: TransportOptions;
  private readonly peers = new Map<number, PeerEntry>();

  constructor(o: TransportOptions) {
    this.o = o;
  }

  /** Send each message to its peer; messages to unknown peers are dropped and reported. */
  send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      const p = this.peers.get(m.to);
      if (p === undefined) {
        if (m.to !== this.o.localId) this.o.events.unreachable(m.to);
        continue;
      }
      p.client.send(m);
    }
  }

  hasPeer(id: number): boolean {
    return this.peers.has(id);
  }

  peerIds(): number[] {
    return [...this.peers.keys()];
  }

  /** Add a peer, or move it to a new URL. The local node is never a peer. */
  addPeer(id: number, url: string): void {
    if (id === this.o.localId) return;
    const cur = this.peers.get(id);
    if (cur !== undefined) {
      if (cur.client.url === url) return;
      this.removePeer(id);
    }
    const net = this.o.makePost?.(url) ?? undiciPost(url, {
      connectTimeoutMs: this.o.connectTimeoutMs ?? 1000,
      requestTimeoutMs: this.o.requestTimeoutMs ?? 5000,
      snapshotTimeoutMs: this.o.snapshotTimeoutMs ?? 60_000,
    });
    const client = new PeerClient({
      id,
      url,
      fromId: this.o.localId,
      clusterId: this.o.clusterId,
      post: net.post,
      events: this.o.events,
      limits: this.o.limits ?? DEFAULT_PEER_LIMITS,
    });
    this.peers.set(id, { client, close: net.close });
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
