// The real peer network: undici out (one keep-alive pool per peer URL), fastify in (the
// PeerService's routes, each body bounded before it is read whole); over TLS when built with
// the node's peer certificates (createHttpNetwork), plain HTTP otherwise (httpNetwork).

import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { Pool } from 'undici';
import { peerMessagePostsInFlightMax, peerRequestReceiveTimeoutMs, peerRequestsInFlightMax, peerSnapshotsInFlightMax } from '../limits.ts';
import { CONTENT_TYPE, PATH_CLUSTER, PATH_MESSAGES, PATH_PROBE, PATH_SNAPSHOT } from './headers.ts';
import { requestTimeoutMs, type PeerConnection, type PeerNetwork, type PeerRequest, type PeerResponse, type PeerService, type PeerTimeouts } from './network.ts';
import { createPeerService, errorResponse, type PeerServerOptions } from './server.ts';
import { PeerError } from './errors.ts';
import { tlsClientOptions, tlsServerOptions, type TlsFiles } from './tls.ts';

const EMPTY = new Uint8Array(0);

/**
 * The peer network over HTTPS with `tls` (mutual TLS when tls.clientCertAuth), or plain HTTP
 * when null. A peer whose certificate does not chain to the trusted CA fails the handshake:
 * its requests answer status 0 here, and its connections are dropped before any route runs.
 */
/** What the peer listener protects itself with (defaults in limits.ts). */
export interface PeerListenerLimits {
  requestReceiveTimeoutMs: number;
  requestsInFlightMax: number;
  snapshotsInFlightMax: number;
}

const DEFAULT_LISTENER_LIMITS: PeerListenerLimits = {
  requestReceiveTimeoutMs: peerRequestReceiveTimeoutMs,
  requestsInFlightMax: peerRequestsInFlightMax,
  snapshotsInFlightMax: peerSnapshotsInFlightMax,
};

export function createHttpNetwork(tls: TlsFiles | null, limits: PeerListenerLimits = DEFAULT_LISTENER_LIMITS): PeerNetwork {
  return {
    connect: (url, timeouts) => connectPool(url, timeouts, tls),
    listen: async (url, service) => {
      const u = new URL(url);
      const app = httpPeerApp(service, tls, limits);
      await app.listen({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) });
      return { close: () => app.close() };
    },
  };
}

/** The plain-HTTP peer network (no TLS): the default of the real world. */
export const httpNetwork: PeerNetwork = createHttpNetwork(null);

/**
 * Per peer: one connection for messages, pipelined so that the POSTs a PeerClient has in
 * flight reach the peer in the order they were sent (the peer's HTTP server answers them in
 * that order too), and a pool of its own for snapshots, so a snapshot never holds up
 * messages. Network errors, timeouts and failed handshakes answer status 0.
 */
function connectPool(url: string, o: PeerTimeouts, tls: TlsFiles | null): PeerConnection {
  const connect = { timeout: o.connectTimeoutMs, ...(tls !== null ? tlsClientOptions(tls) : {}) };
  const messages = new Pool(url, { connections: 1, pipelining: peerMessagePostsInFlightMax, connect, keepAliveTimeout: 30_000 });
  const snapshots = new Pool(url, { connections: 1, pipelining: 1, connect, keepAliveTimeout: 30_000 });
  // dispatch with a bare handler, not request(): no response stream to build and drain for
  // what is almost always an empty 204. This is the hot path of replication.
  const request = (req: PeerRequest): Promise<PeerResponse> =>
    new Promise<PeerResponse>((resolve) => {
      const timeout = requestTimeoutMs(req, o);
      let status = 0;
      let chunks: Buffer[] | null = null;
      const pool = req.path === PATH_SNAPSHOT ? snapshots : messages;
      try {
        pool.dispatch(
          {
            origin: url,
            path: req.path,
            method: req.method,
            headers: req.headers,
            body: req.method === 'GET' ? null : req.body instanceof Uint8Array ? req.body : Readable.from(req.body),
            headersTimeout: timeout,
            bodyTimeout: timeout,
            // Both let undici pipeline our POSTs: it holds back a non-idempotent or "blocking"
            // one until the one before is answered. If the connection drops, undici sends again
            // the ones not yet answered: a Raft message arriving twice is harmless, and a
            // forwarded proposal twice is applied once (proposal-dedup.ts).
            idempotent: true,
            blocking: false,
          },
          // The classic handler interface: undici 7 accepts it on every path (the newer
          // controller-style one is rejected when a pooled request waits for a connection).
          {
            onConnect: () => undefined,
            onHeaders: (statusCode) => ((status = statusCode), true),
            onData: (chunk) => ((chunks ??= []).push(chunk), true),
            onComplete: () => resolve({ status, body: chunks === null ? EMPTY : Buffer.concat(chunks) }),
            onError: () => resolve({ status: 0, body: EMPTY }),
          },
        );
      } catch {
        resolve({ status: 0, body: EMPTY });
      }
    });
  return { request, close: () => Promise.all([messages.destroy(), snapshots.destroy()]).then(() => undefined) };
}

/** A fastify app serving `service`, over TLS when `tls` is given (not listening: tests drive it with inject()). */
export function httpPeerApp(service: PeerService, tls: TlsFiles | null = null, limits: PeerListenerLimits = DEFAULT_LISTENER_LIMITS): FastifyInstance {
  const base = {
    logger: false,
    bodyLimit: service.bodyBytesMax(PATH_MESSAGES),
    exposeHeadRoutes: false,
    // The whole request within this (node checks it only every 30 s)...
    requestTimeout: limits.requestReceiveTimeoutMs,
    // ...and no socket silent for as long: a sender that stalls mid-request is cut off on time.
    connectionTimeout: limits.requestReceiveTimeoutMs,
  } as const;
  // Typed as the plain-HTTP instance: the routes and hooks used here are the same on both.
  const app = (tls === null ? Fastify(base) : Fastify({ ...base, https: tlsServerOptions(tls) })) as unknown as FastifyInstance;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(CONTENT_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const send = (reply: FastifyReply, path: string, answer: PeerResponse) => {
    reply.code(answer.status);
    if (answer.body.length === 0) return reply.send();
    const type = answer.status >= 400 ? 'text/plain; charset=utf-8' : path === PATH_CLUSTER ? 'application/json' : CONTENT_TYPE;
    return reply.type(type).send(Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength));
  };
  app.setErrorHandler((err, req, reply) => {
    // fastify's own refusals (a body over the route's bound, a bad media type): as PeerErrors.
    const status = (err as { statusCode?: number }).statusCode;
    const code = status === 413 ? 'PEER_TOO_LARGE' : status !== undefined && status < 500 ? 'PEER_BAD_REQUEST' : 'PEER_INTERNAL';
    return send(reply, req.url, errorResponse(new PeerError(code)));
  });
  app.setNotFoundHandler((req, reply) => send(reply, req.url, errorResponse(new PeerError('PEER_NOT_FOUND'))));
  // Shed load before reading a body: a request past the bounds is answered 503 at once (the
  // sender reports the peer unreachable and Raft retries later), so memory and sockets stay bounded.
  let inFlight = 0;
  let snapshotsInFlight = 0;
  app.addHook('onRequest', (req, reply, done) => {
    const snapshot = req.url === PATH_SNAPSHOT;
    if (inFlight >= limits.requestsInFlightMax || (snapshot && snapshotsInFlight >= limits.snapshotsInFlightMax)) {
      reply.header('connection', 'close');
      void send(reply, req.url, errorResponse(new PeerError('PEER_OVERLOADED')));
      return;
    }
    inFlight++;
    if (snapshot) snapshotsInFlight++;
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      inFlight--;
      if (snapshot) snapshotsInFlight--;
    };
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
    done();
  });
  const routes: [method: 'GET' | 'POST', path: string][] = [
    ['POST', PATH_MESSAGES],
    ['POST', PATH_SNAPSHOT],
    ['POST', PATH_PROBE],
    ['GET', PATH_CLUSTER],
  ];
  for (const [method, path] of routes) {
    // Each route's own bound, checked by fastify while it reads the body.
    app.route({
      method,
      url: path,
      bodyLimit: service.bodyBytesMax(path),
      handler: async (req, reply) => {
        const body = req.body instanceof Uint8Array ? req.body : EMPTY;
        return send(reply, path, await service.handle({ method, path, headers: req.headers, body }));
      },
    });
  }
  return app;
}

/** The peer routes of a node as a fastify app: what tests inject() into. */
export function buildPeerApp(opts: PeerServerOptions): FastifyInstance {
  return httpPeerApp(createPeerService(opts));
}
