// What a node serves its peers, as a PeerService (network.ts): binary message batches
// (POST /raft, answered once the Ready that took them is persisted, with our messages for
// the sender in the body), snapshots on their own route (POST /raft/snapshot), the cluster
// a joining member is joining (GET /raft/cluster), and whether a member was removed
// (POST /raft/probe). Plain request in, answer out: HTTP serves it (http-network.ts), and
// so does the simulator's network.

import { CodecError, decodeMessages } from '../raftpb/index.ts';
import type { Message } from '../raftpb/types.ts';
import { MessageType } from '../raftpb/types.ts';
import { PeerError } from './errors.ts';
import { PATH_CLUSTER, PATH_MESSAGES, PATH_PROBE, PATH_SNAPSHOT, checkPeerHeaders, type Identity } from './headers.ts';
import type { PeerResponse, PeerService } from './network.ts';

export interface ClusterInfo {
  clusterId: string;
  members: { id: number; peerURL: string }[];
}

export interface PeerServerOptions {
  identity: Identity;
  /** Hand decoded messages to the Raft node. Must not throw for ordinary input. */
  deliver(msgs: Message[]): void;
  cluster(): ClusterInfo;
  /**
   * Optional: hold the answer to a message POST until `respond` is called, with messages to
   * send back in the body (200) or none (204).
   */
  hold?(from: number, respond: (body: Uint8Array | null) => void): void;
  maxBatchBytes: number;
  maxSnapshotBytes: number;
}

type Headers = Record<string, string | string[] | undefined>;
const EMPTY = new Uint8Array(0);
const NO_CONTENT: PeerResponse = { status: 204, body: EMPTY };
const utf8 = new TextEncoder();

export function createPeerService(opts: PeerServerOptions): PeerService {
  const route = async (method: string, path: string, headers: Headers, body: Uint8Array): Promise<PeerResponse> => {
    if (method === 'POST' && path === PATH_MESSAGES) return receive(opts, headers, body, false);
    if (method === 'POST' && path === PATH_SNAPSHOT) return receive(opts, headers, body, true);
    if (method === 'POST' && path === PATH_PROBE) {
      checkPeerHeaders(headers, opts.identity);
      return NO_CONTENT;
    }
    if (method === 'GET' && path === PATH_CLUSTER) return { status: 200, body: utf8.encode(JSON.stringify(opts.cluster())) };
    throw new PeerError('PEER_NOT_FOUND', `${method} ${path}`);
  };
  return {
    bodyBytesMax: (path) => (path === PATH_SNAPSHOT ? opts.maxSnapshotBytes : opts.maxBatchBytes),
    handle: async (req) => {
      try {
        return await route(req.method, req.path, req.headers, req.body);
      } catch (e) {
        return errorResponse(e);
      }
    },
  };
}

async function receive(opts: PeerServerOptions, headers: Headers, body: Uint8Array, snapshotRoute: boolean): Promise<PeerResponse> {
  const from = checkPeerHeaders(headers, opts.identity);
  if (body.length === 0) throw new PeerError('PEER_BAD_REQUEST', 'empty body');
  let msgs: Message[];
  try {
    msgs = decodeMessages(body, snapshotRoute ? { maxSnapshotBytes: opts.maxSnapshotBytes } : {});
  } catch (e) {
    if (e instanceof CodecError) throw new PeerError('PEER_BAD_REQUEST', e.message);
    throw e;
  }
  for (const m of msgs) {
    if (m.from !== from || m.to !== opts.identity.localId) throw new PeerError('PEER_BAD_REQUEST', 'message from/to differ from headers');
    if ((m.type === MessageType.MsgSnap) !== snapshotRoute) throw new PeerError('PEER_BAD_REQUEST', 'snapshots go to ' + PATH_SNAPSHOT);
  }
  opts.deliver(msgs);
  const hold = opts.hold;
  if (snapshotRoute || hold === undefined) return NO_CONTENT;
  return new Promise<PeerResponse>((resolve) => {
    hold(from, (answer) => resolve(answer === null ? NO_CONTENT : { status: 200, body: answer }));
  });
}

/** A PeerError as its status and a one-line text body; anything else is a 500. */
export function errorResponse(e: unknown): PeerResponse {
  const err = e instanceof PeerError ? e : new PeerError('PEER_INTERNAL');
  return { status: err.status, body: utf8.encode(err.message + '\n') };
}
