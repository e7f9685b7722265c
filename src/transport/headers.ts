// The identity every peer request carries, and the receiver's check of it: a request
// from another cluster or meant for another member is refused (412), one from a member
// that was removed is told so (410) and that member stops.

import { PeerError } from './errors.ts';

export const HEADER_CLUSTER_ID = 'x-raft-cluster-id';
export const HEADER_FROM = 'x-raft-from';
export const HEADER_TO = 'x-raft-to';
export const CONTENT_TYPE = 'application/octet-stream';

export const PATH_MESSAGES = '/raft';
export const PATH_SNAPSHOT = '/raft/snapshot';
export const PATH_CLUSTER = '/raft/cluster';
/** Answers 204, or 410 to a member that was removed: how a leaving member learns the others know. */
export const PATH_PROBE = '/raft/probe';

export interface Identity {
  clusterId: string;
  localId: number;
  isRemoved(id: number): boolean;
}

export function peerHeaders(clusterId: string, from: number, to: number): Record<string, string> {
  return {
    'content-type': CONTENT_TYPE,
    [HEADER_CLUSTER_ID]: clusterId,
    [HEADER_FROM]: String(from),
    [HEADER_TO]: String(to),
  };
}

/** The sender's id when the request may be served; throws the PeerError to answer otherwise. */
export function checkPeerHeaders(headers: Record<string, string | string[] | undefined>, me: Identity): number {
  const cid = headers[HEADER_CLUSTER_ID];
  if (cid !== me.clusterId) throw new PeerError('PEER_CLUSTER_ID_MISMATCH', `got ${String(cid)}, want ${me.clusterId}`);
  const to = parseNodeId(headers[HEADER_TO]);
  if (to !== me.localId) throw new PeerError('PEER_WRONG_RECIPIENT', `to ${String(headers[HEADER_TO])}, this is ${me.localId}`);
  const from = parseNodeId(headers[HEADER_FROM]);
  if (from === null) throw new PeerError('PEER_BAD_REQUEST', `bad ${HEADER_FROM}`);
  if (me.isRemoved(from)) throw new PeerError('PEER_MEMBER_REMOVED', `member ${from}`);
  return from;
}

/** A node id as text: a positive decimal integer, no sign, no leading zero, safe; else null. */
export function parseNodeId(v: unknown): number | null {
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,15}$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}
