// The peer network seam: how a node reaches its peers and how it is reached. The
// transport's logic (batching, held replies, snapshots, identity checks) is written against
// this; the service plugs in HTTP (undici out, fastify in: http-network.ts), the simulator
// a network of its own that delivers, drops, delays and partitions requests.

import { peerSnapshotBytesPerSecondMin } from '../limits.ts';
import { PATH_SNAPSHOT } from './headers.ts';

/** One peer request, as the transport makes it and the receiving node's service sees it. */
export interface PeerRequest {
  method: 'GET' | 'POST';
  /** PATH_MESSAGES, PATH_SNAPSHOT, PATH_CLUSTER or PATH_PROBE (headers.ts). */
  path: string;
  headers: Record<string, string>;
  /** A POST's body: whole, or in slices (a snapshot is streamed, never copied into one buffer). */
  body: Uint8Array | readonly Uint8Array[];
}

/** The answer; status 0 means no answer (refused, reset, timed out). */
export interface PeerResponse {
  status: number;
  body: Uint8Array;
}

export interface PeerTimeouts {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** The most a PATH_SNAPSHOT request waits (requestTimeoutMs() scales it by the snapshot's size). */
  snapshotTimeoutMs: number;
}

/**
 * How long a request may wait for its answer: the request timeout, and for a snapshot also
 * the time its bytes take at the slowest rate we accept, at most snapshotTimeoutMs.
 */
export function requestTimeoutMs(req: PeerRequest, t: PeerTimeouts): number {
  if (req.path !== PATH_SNAPSHOT) return t.requestTimeoutMs;
  const parts = req.body instanceof Uint8Array ? [req.body] : req.body;
  let bytes = 0;
  for (const p of parts) bytes += p.length;
  return Math.min(t.snapshotTimeoutMs, t.requestTimeoutMs + Math.ceil((bytes / peerSnapshotBytesPerSecondMin) * 1000));
}

/** Requests to one peer URL (a connection pool): answers come back as PeerResponses, never as errors. */
export interface PeerConnection {
  request(req: PeerRequest): Promise<PeerResponse>;
  /** Aborts requests in flight (they answer status 0) and frees the connections. */
  close(): Promise<void>;
}

/** What a node serves to its peers: the handler for each request, and the body bound per path. */
export interface PeerService {
  /** The largest body accepted on this path; a larger one is refused with 413 before it is read whole. */
  bodyBytesMax(path: string): number;
  /** Never rejects: every failure is an answer (4xx, 5xx). `body` is the whole request body. */
  handle(req: { method: string; path: string; headers: Record<string, string | string[] | undefined>; body: Uint8Array }): Promise<PeerResponse>;
}

export interface PeerListener {
  close(): Promise<void>;
}

export interface PeerNetwork {
  connect(url: string, timeouts: PeerTimeouts): PeerConnection;
  /** Serve `service` on the host:port of `url`. */
  listen(url: string, service: PeerService): Promise<PeerListener>;
}
