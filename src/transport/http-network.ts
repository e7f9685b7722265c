// The real peer network: undici out (one keep-alive pool per peer URL), fastify in (the
// PeerService's routes, each body bounded before it is read whole); over TLS when built with
// the node's peer certificates (createHttpNetwork), plain HTTP otherwise (httpNetwork).
// Message batches, the hot path of replication, are served before fastify (leanMessages),
// read by our own HTTP/1.1 reader in front of node's parser (http-front.ts).

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { Pool } from 'undici';
import { httpKeepAliveTimeoutMs, peerMessagePostsInFlightMax, peerRequestReceiveTimeoutMs, peerRequestsInFlightMax, peerSnapshotsInFlightMax } from '../limits.ts';
import { installFront, type FrontOptions } from '../http-front.ts';
import { CONTENT_TYPE, HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO, PATH_CLUSTER, PATH_MESSAGES, PATH_PROBE, PATH_SNAPSHOT } from './headers.ts';
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

/** Requests being served, bounded before their bodies are read (shared by fastify's hook and the lean path). */
export class PeerAdmission {
  private inFlight = 0;
  private snapshotsInFlight = 0;
  constructor(private readonly limits: PeerListenerLimits) {}

  /** Counts a request until the returned release is called; null (not counted) when it must be shed. */
  take(snapshot: boolean): (() => void) | null {
    if (this.inFlight >= this.limits.requestsInFlightMax || (snapshot && this.snapshotsInFlight >= this.limits.snapshotsInFlightMax)) return null;
    this.inFlight++;
    if (snapshot) this.snapshotsInFlight++;
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      this.inFlight--;
      if (snapshot) this.snapshotsInFlight--;
    };
  }

  /** Counts the request until `res` finishes or closes; false (not counted) when it must be shed. */
  admit(snapshot: boolean, res: ServerResponse): boolean {
    const release = this.take(snapshot);
    if (release === null) return false;
    res.once('finish', release);
    res.once('close', release);
    return true;
  }
}

/** The content type an answer carries: text for errors, JSON for the cluster, else binary. */
function answerType(path: string, status: number): string {
  return status >= 400 ? 'text/plain; charset=utf-8' : path === PATH_CLUSTER ? 'application/json' : CONTENT_TYPE;
}

/**
 * A fastify app serving `service`, over TLS when `tls` is given (not listening: tests drive it
 * with inject(), which reaches fastify's routes only). With `lean` (the default), the server
 * it listens on serves message batches itself (leanMessages), as the route would; with
 * `front` too (the default), our own reader takes them before node's parser does.
 */
export function httpPeerApp(service: PeerService, tls: TlsFiles | null = null, limits: PeerListenerLimits = DEFAULT_LISTENER_LIMITS, lean = true, front = true): FastifyInstance {
  const admission = new PeerAdmission(limits);
  const serverFactory = (handler: (req: IncomingMessage, res: ServerResponse) => void): Server => {
    const listener = lean ? leanMessages(service, admission, handler) : handler;
    const server = tls === null ? createHttpServer(listener) : createHttpsServer(tlsServerOptions(tls), listener);
    server.keepAliveTimeout = httpKeepAliveTimeoutMs;
    server.requestTimeout = limits.requestReceiveTimeoutMs;
    server.setTimeout(limits.requestReceiveTimeoutMs);
    if (lean && front) installFront(server, frontMessages(service, admission, limits));
    return server;
  };
  // Typed as the plain-HTTP instance: the routes and hooks used here are the same over TLS
  // (the server, HTTPS or not, is ours).
  const app = Fastify({
    serverFactory,
    logger: false,
    bodyLimit: service.bodyBytesMax(PATH_MESSAGES),
    exposeHeadRoutes: false,
    // The whole request within this (node checks it only every 30 s)...
    requestTimeout: limits.requestReceiveTimeoutMs,
    // ...and no socket silent for as long: a sender that stalls mid-request is cut off on time.
    connectionTimeout: limits.requestReceiveTimeoutMs,
  }) as unknown as FastifyInstance;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(CONTENT_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const send = (reply: FastifyReply, path: string, answer: PeerResponse) => {
    reply.code(answer.status);
    if (answer.body.length === 0) return reply.send();
    return reply.type(answerType(path, answer.status)).send(Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength));
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
  app.addHook('onRequest', (req, reply, done) => {
    if (!admission.admit(req.url === PATH_SNAPSHOT, reply.raw)) {
      reply.header('connection', 'close');
      void send(reply, req.url, errorResponse(new PeerError('PEER_OVERLOADED')));
      return;
    }
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

/** One message batch as both lean paths see it, and how its answer is written. */
interface BatchRequest {
  headers: Record<string, string | string[] | undefined>;
  contentLength: number;
  readBody(done: (body: Uint8Array) => void): void;
  /** `close`: end the connection after the answer (its body, if unread, is never read). */
  answer(a: PeerResponse, close: boolean): void;
  /** Called if the connection closes before the answer. */
  onAbort(release: () => void): void;
}

/** Serve `POST /raft` the way the fastify route does: the same bound, the same shedding, the same answers. */
function serveBatch(service: PeerService, admission: PeerAdmission, maxBytes: number, r: BatchRequest): void {
  const release = admission.take(false);
  if (release === null) return r.answer(errorResponse(new PeerError('PEER_OVERLOADED')), true);
  r.onAbort(release);
  if (r.contentLength > maxBytes) {
    release();
    return r.answer(errorResponse(new PeerError('PEER_TOO_LARGE')), true);
  }
  r.readBody((body) => {
    void service.handle({ method: 'POST', path: PATH_MESSAGES, headers: r.headers, body }).then((a) => {
      release();
      r.answer(a, false);
    });
  });
}

/**
 * A request listener that serves `POST /raft` with a declared length and our content type
 * straight from node's http server, and hands every other request to `fallback` untouched.
 * Each follower takes one such request per Ready of its leader; fastify's routing, hooks and
 * body parsing cost about a fifth of a follower's CPU there.
 */
export function leanMessages(service: PeerService, admission: PeerAdmission, fallback: (req: IncomingMessage, res: ServerResponse) => void) {
  const maxBytes = service.bodyBytesMax(PATH_MESSAGES);
  return (req: IncomingMessage, res: ServerResponse): void => {
    const h = req.headers;
    const length = h['content-length'];
    // Only the plain shape: anything else (a query, chunked, another media type) gets fastify's answer.
    if (req.method !== 'POST' || req.url !== PATH_MESSAGES || length === undefined || h['transfer-encoding'] !== undefined || h['content-type'] !== CONTENT_TYPE) {
      fallback(req, res);
      return;
    }
    serveBatch(service, admission, maxBytes, {
      headers: h,
      // node's parser has checked the header is a decimal length; the body is never longer.
      contentLength: Number(length),
      readBody: (done) => {
        let first: Buffer | null = null;
        let more: Buffer[] | null = null;
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (first === null) first = chunk;
          else (more ??= [first]).push(chunk);
        });
        req.on('end', () => done(more !== null ? Buffer.concat(more, bytes) : (first ?? EMPTY)));
        // An aborted request: node closes the response; nothing to answer.
        req.on('error', () => undefined);
      },
      answer: (a, close) => {
        if (res.destroyed) return;
        if (close) res.setHeader('connection', 'close');
        if (a.body.length === 0) res.writeHead(a.status).end();
        else res.writeHead(a.status, ['content-type', answerType(PATH_MESSAGES, a.status), 'content-length', String(a.body.length)]).end(a.body);
      },
      onAbort: (release) => res.once('close', release),
    });
  };
}

/** The headers a batch's service reads, as the front keeps them. */
const FRONT_HEADERS = ['content-type', HEADER_CLUSTER_ID, HEADER_FROM, HEADER_TO];

/** The same batches, read by our own reader in front of node's parser (src/http-front.ts). */
function frontMessages(service: PeerService, admission: PeerAdmission, limits: PeerListenerLimits): FrontOptions {
  const maxBytes = service.bodyBytesMax(PATH_MESSAGES);
  return {
    headers: FRONT_HEADERS,
    takes: (method, url, h) => method === 'POST' && url === PATH_MESSAGES && h['content-type'] === CONTENT_TYPE,
    serve: (x) =>
      serveBatch(service, admission, maxBytes, {
        headers: x.headers,
        contentLength: x.contentLength,
        readBody: (done) => x.readBody(done),
        answer: (a, close) => {
          const type = a.body.length === 0 ? '' : `content-type: ${answerType(PATH_MESSAGES, a.status)}\r\n`;
          x.respond(a.status, type, a.body.length === 0 ? null : a.body, close);
        },
        onAbort: (release) => (x.onAbort = release),
      }),
    requestReceiveTimeoutMs: limits.requestReceiveTimeoutMs,
    keepAliveTimeoutMs: httpKeepAliveTimeoutMs,
  };
}

/** The peer routes of a node as a fastify app: what tests inject() into. */
export function buildPeerApp(opts: PeerServerOptions): FastifyInstance {
  return httpPeerApp(createPeerService(opts));
}
