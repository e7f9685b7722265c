// The peer listener: fastify routes that take binary message batches from other members
// (POST /raft), snapshots on their own route (POST /raft/snapshot), and tell a joining
// member which cluster it is joining (GET /raft/cluster).

import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { CodecError, decodeMessages } from '../codec/index.ts';
import { ServiceError, toHttpError } from '../errors.ts';
import type { Message } from '../raft/types.ts';
import { MessageType } from '../raft/types.ts';
import { CONTENT_TYPE, PATH_CLUSTER, PATH_MESSAGES, PATH_PROBE, PATH_SNAPSHOT, checkPeerHeaders, type Identity } from './headers.ts';

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

export function buildPeerApp(opts: PeerServerOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: opts.maxBatchBytes, exposeHeadRoutes: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(CONTENT_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  app.setNotFoundHandler((_req, reply) => sendError(reply, new ServiceError('ERR_NOT_FOUND')));

  const receive = (snapshotRoute: boolean) => async (req: { headers: Record<string, string | string[] | undefined>; body: unknown }, reply: FastifyReply) => {
    const from = checkPeerHeaders(req.headers, opts.identity);
    if (!(req.body instanceof Uint8Array)) throw new ServiceError('ERR_BAD_REQUEST', 'empty body');
    let msgs: Message[];
    try {
      msgs = decodeMessages(req.body, snapshotRoute ? { maxSnapshotBytes: opts.maxSnapshotBytes } : {});
    } catch (e) {
      if (e instanceof CodecError) throw new ServiceError('ERR_BAD_REQUEST', e.message);
      throw e;
    }
    for (const m of msgs) {
      if (m.from !== from || m.to !== opts.identity.localId) throw new ServiceError('ERR_BAD_REQUEST', 'message from/to differ from headers');
      if ((m.type === MessageType.MsgSnap) !== snapshotRoute) throw new ServiceError('ERR_BAD_REQUEST', 'snapshots go to ' + PATH_SNAPSHOT);
    }
    opts.deliver(msgs);
    const hold = opts.hold;
    if (snapshotRoute || hold === undefined) {
      reply.code(204).send();
      return;
    }
    await new Promise<void>((resolve) => {
      hold(from, (body) => {
        if (body === null) reply.code(204).send();
        else reply.code(200).type(CONTENT_TYPE).send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
        resolve();
      });
    });
  };
  app.post(PATH_MESSAGES, receive(false));
  app.post(PATH_SNAPSHOT, { bodyLimit: opts.maxSnapshotBytes }, receive(true));
  app.get(PATH_CLUSTER, async () => opts.cluster());
  app.post(PATH_PROBE, async (req, reply) => {
    checkPeerHeaders(req.headers, opts.identity);
    reply.code(204).send();
  });
  return app;
}

function sendError(reply: FastifyReply, err: unknown): void {
  const e = toHttpError(err);
  reply.code(e.status).type('text/plain; charset=utf-8').send(e.message + '\n');
}
