// The client-facing HTTP API (raftexample-compatible): PUT/GET a key, POST/DELETE a
// member, plus the reserved /-/ paths (health, ready, status, members, metrics, promotion,
// leader transfer). buildApp does not listen, so tests drive it with app.inject().

import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Chan } from './chan.ts';
import { ChanClosedError } from './chan.ts';
import { parsePeerUrl, peerSchemeProblem, type PeerScheme } from './config.ts';
import { RETRY_AFTER_S, ServiceError, toHttpError } from './errors.ts';
import { clientBodyBytesInFlightMax, clientRequestReceiveTimeoutMs, clientRequestsInFlightMax, httpKeepAliveTimeoutMs } from './limits.ts';
import type { KvApi } from './kvstore.ts';
import { installFront } from './http-front.ts';
import { declaredBodyBytes, declaresBody, hasFlag, leanFront, leanListener, type Admit } from './lean-http.ts';
import type { HttpRoute, ServiceMetrics } from './metrics.ts';
import type { NodeInfo } from './node/status.ts';
import type { ConfChangeRequest, MemberChange } from './queues.ts';
import { ConfChangeType } from './raftpb/types.ts';
import { parseNodeId } from './transport/headers.ts';
import { tlsServerOptions, type TlsFiles } from './transport/tls.ts';
import { registerUi, type UiOptions } from './ui/routes.ts';

export interface AppOptions {
  kv: KvApi;
  node: NodeInfo;
  confChangeC: Chan<ConfChangeRequest>;
  maxRequestBytes: number;
  /**
   * Set by main once both listeners are open (the WAL was replayed before buildApp). Absent:
   * taken as open (an app that tests drive with inject has no listeners to wait for).
   */
  readiness?: Readiness;
  /** The scheme of this cluster's peer URLs: POST /<id> refuses the other one (default http:). */
  peerScheme?: PeerScheme;
  /** Serve HTTPS with these (--cert-file, ...); absent or null: plain HTTP. */
  tls?: TlsFiles | null;
  /** Serves GET /-/metrics and times every request; absent: /-/metrics is 404. */
  metrics?: ServiceMetrics;
  /** Serves the dashboard (GET /-/ui, /-/ui/*, /-/events); absent: those are 404. */
  ui?: UiOptions;
  /** What the client listener protects itself with (default: limits.ts). */
  limits?: ClientListenerLimits;
  /** Serve PUT and GET of a key on the lean path (lean-http.ts); default true. False: all through fastify (for tests that compare the two). */
  leanPath?: boolean;
  /** Read plain PUTs and GETs of a key with our own reader before node's (http-front.ts); default true. */
  front?: boolean;
}

export interface ClientListenerLimits {
  /** The whole request (headers and body) must arrive within this; a socket silent as long is cut. */
  requestReceiveTimeoutMs: number;
  requestsInFlightMax: number;
  bodyBytesInFlightMax: number;
}

const DEFAULT_LIMITS: ClientListenerLimits = {
  requestReceiveTimeoutMs: clientRequestReceiveTimeoutMs,
  requestsInFlightMax: clientRequestsInFlightMax,
  bodyBytesInFlightMax: clientBodyBytesInFlightMax,
};

export interface Readiness {
  listenersOpen: boolean;
}

/** The service's version, for /-/status: package.json's, read once at start. */
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export const ALLOWED_METHODS = 'PUT, GET, POST, DELETE';
const RESERVED_PREFIX = '/-/';
const EMPTY = new Uint8Array(0);

export function buildApp(opts: AppOptions): FastifyInstance {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const admit = clientLoad(limits, opts.maxRequestBytes);
  let closing = false;
  // Our own server, so that PUT and GET of a key take the lean path (lean-http.ts) and fastify
  // serves everything else; HTTPS with TLS. The timeouts are the ones fastify would set.
  // In front of node's parser, a reader of our own takes the plain PUTs and GETs of a key
  // (http-front.ts); what node parses, the lean listener sees first, then fastify.
  const serverFactory = (handler: Parameters<typeof leanListener>[1]): Server => {
    const lean = { kv: opts.kv, maxRequestBytes: opts.maxRequestBytes, metrics: opts.metrics, closing: () => closing, admit };
    const listener = opts.leanPath === false ? handler : leanListener(lean, handler);
    const server = opts.tls ? createHttpsServer(tlsServerOptions(opts.tls), listener) : createHttpServer(listener);
    server.keepAliveTimeout = httpKeepAliveTimeoutMs;
    server.requestTimeout = limits.requestReceiveTimeoutMs;
    server.setTimeout(limits.requestReceiveTimeoutMs);
    if (opts.leanPath !== false && opts.front !== false) {
      installFront(server, { ...leanFront(lean), requestReceiveTimeoutMs: limits.requestReceiveTimeoutMs, keepAliveTimeoutMs: httpKeepAliveTimeoutMs });
    }
    return server;
  };
  const app = Fastify({
    serverFactory,
    logger: false,
    bodyLimit: opts.maxRequestBytes,
    exposeHeadRoutes: false,
    // A client must send its whole request within this (slow senders cannot hold sockets forever)...
    requestTimeout: limits.requestReceiveTimeoutMs,
    // ...and no socket may stall as long (node checks requestTimeout only every 30 s).
    connectionTimeout: limits.requestReceiveTimeoutMs,
    // We answer our own 503 (with Retry-After) once closing starts: see the onRequest hook.
    return503OnClosing: false,
    // A path fastify's router cannot decode (`/%zz`) gets our table's 400, as text.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply, err.code === 'FST_ERR_BAD_URL' ? new ServiceError('ERR_BAD_PATH') : err);
    },
  });
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (req, reply, done) => {
    // Every body is an opaque value whatever media type it claims, even a malformed one (which
    // fastify would refuse with 415): the catch-all parser takes it as bytes.
    req.headers['content-type'] = 'application/octet-stream';
    if (closing) {
      reply.header('connection', 'close');
      sendError(reply, new ServiceError('ERR_STOPPING'));
      return;
    }
    done();
  });
  shedWhenBusy(app, admit);

  // Every body is an opaque value (or a peer URL): never let fastify parse JSON or forms.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const metrics = opts.metrics;
  if (metrics !== undefined) {
    app.addHook('onResponse', (req, reply, done) => {
      metrics.observeHttp(routeOf(req.method, splitUrl(req.url).path), reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }

  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  app.setNotFoundHandler((req, reply) => {
    sendError(reply, new ServiceError(isAllowedMethod(req.method) ? 'ERR_NOT_FOUND' : 'ERR_METHOD_NOT_ALLOWED'));
  });

  if (opts.ui !== undefined) registerUi(app, opts.ui);
  const handler = makeHandler(opts);
  app.all('/*', handler);
  return app;
}

/**
 * Shed load before reading a body: past the bound of requests or of body bytes at once, a
 * request is answered 503 overloaded (certainly not applied) at once, so memory and the work of
 * one burst stay bounded however many sockets a flood opens. The /-/ paths are never shed: an
 * operator must see health, status and metrics most when the node is busiest.
 */
function shedWhenBusy(app: FastifyInstance, admit: Admit): void {
  app.addHook('onRequest', (req, reply, done) => {
    if (req.url.startsWith(RESERVED_PREFIX)) return done();
    const release = admit(req.headers);
    if (release === null) {
      // An unread body would have to be read and thrown away to keep the socket: close it instead.
      if (declaresBody(req.headers)) reply.header('connection', 'close');
      sendError(reply, new ServiceError('ERR_OVERLOADED', 'too many requests at once'));
      return;
    }
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
    done();
  });
}

/** The client port's load, shared by the lean path and fastify's routes: admits a request or sheds it. */
function clientLoad(limits: ClientListenerLimits, maxRequestBytes: number): Admit {
  let inFlight = 0;
  let bodyBytesInFlight = 0;
  return (headers) => {
    const bytes = declaredBodyBytes(headers, maxRequestBytes);
    if (inFlight >= limits.requestsInFlightMax || (inFlight > 0 && bodyBytesInFlight + bytes > limits.bodyBytesInFlightMax)) return null;
    inFlight++;
    bodyBytesInFlight += bytes;
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      inFlight--;
      bodyBytesInFlight -= bytes;
    };
  };
}

function makeHandler(opts: AppOptions) {
  const { kv } = opts;
  return async function handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { path, query } = splitUrl(req.url);
    if (path.startsWith(RESERVED_PREFIX)) return serveReserved(opts, req.method, path, query, reply);
    switch (req.method) {
      case 'PUT':
        await kv.put(path, bodyBytes(req.body));
        reply.code(204).send();
        return;
      case 'GET': {
        const value = await kv.get(path, hasFlag(query, 'serializable'));
        if (value === undefined) throw new ServiceError('ERR_KEY_NOT_FOUND');
        reply.code(200).type('application/octet-stream').send(asBuffer(value));
        return;
      }
      case 'POST': {
        const nodeId = nodeIdFromPath(path);
        const url = parsePeerUrl(Buffer.from(bodyBytes(req.body)).toString('utf8').trim());
        if (url === null) throw new ServiceError('ERR_BAD_PEER_URL');
        if (peerSchemeProblem(url, opts.peerScheme ?? 'http:') !== null) throw new ServiceError('ERR_PEER_URL_SCHEME');
        const change: MemberChange = hasFlag(query, 'learner')
          ? { kind: 'addLearner', type: ConfChangeType.AddLearnerNode, nodeId, peerUrl: url }
          : { kind: 'addVoter', type: ConfChangeType.AddNode, nodeId, peerUrl: url };
        await confChange(opts.confChangeC, change);
        reply.code(204).send();
        return;
      }
      case 'DELETE': {
        const nodeId = nodeIdFromPath(path);
        await confChange(opts.confChangeC, { kind: 'remove', type: ConfChangeType.RemoveNode, nodeId, peerUrl: '' });
        reply.code(204).send();
        return;
      }
      default:
        throw new ServiceError('ERR_METHOD_NOT_ALLOWED');
    }
  };
}

const PROMOTE_PATH = /^\/-\/members\/([^/]*)\/promote$/;

async function serveReserved(opts: AppOptions, method: string, path: string, query: string, reply: FastifyReply): Promise<void> {
  if (method === 'POST') return serveControl(opts, path, query, reply);
  if (method !== 'GET') throw new ServiceError(isAllowedMethod(method) ? 'ERR_RESERVED_PATH' : 'ERR_METHOD_NOT_ALLOWED');
  const { node } = opts;
  switch (path) {
    case '/-/health': {
      const reason = await node.unhealthyReason();
      if (reason === null) reply.code(200).send({ health: true });
      else reply.code(503).header('retry-after', String(RETRY_AFTER_S)).send({ health: false, reason });
      return;
    }
    case '/-/ready': {
      const reason = (opts.readiness?.listenersOpen ?? true) ? node.notReadyReason() : 'listeners not open yet';
      if (reason === null) reply.code(200).send({ ready: true });
      else reply.code(503).header('retry-after', String(RETRY_AFTER_S)).send({ ready: false, reason });
      return;
    }
    case '/-/status':
      reply.code(200).send({ version: VERSION, ...(await node.status()) });
      return;
    case '/-/members':
      reply.code(200).send({ members: node.members() });
      return;
    case '/-/metrics': {
      if (opts.metrics === undefined) throw new ServiceError('ERR_NOT_FOUND');
      const { body, contentType } = await opts.metrics.text();
      reply.code(200).type(contentType).send(body);
      return;
    }
    default:
      if (PROMOTE_PATH.test(path) || path === '/-/transfer-leader') throw new ServiceError('ERR_RESERVED_PATH', 'use POST');
      throw new ServiceError('ERR_NOT_FOUND');
  }
}

/** POST /-/members/<id>/promote (204 once applied) and POST /-/transfer-leader?to=<id> (200 once moved). */
async function serveControl(opts: AppOptions, path: string, query: string, reply: FastifyReply): Promise<void> {
  const promote = PROMOTE_PATH.exec(path);
  if (promote !== null) {
    const nodeId = parseNodeId(promote[1]);
    if (nodeId === null) throw new ServiceError('ERR_BAD_NODE_ID', JSON.stringify(promote[1]));
    await confChange(opts.confChangeC, { kind: 'promote', type: ConfChangeType.AddNode, nodeId, peerUrl: '' });
    reply.code(204).send();
    return;
  }
  if (path === '/-/transfer-leader') {
    const to = query === '' ? null : new URLSearchParams(query).get('to');
    const target = parseNodeId(to);
    if (target === null) throw new ServiceError('ERR_BAD_TRANSFER_TARGET', to === null ? 'no ?to=' : JSON.stringify(to));
    const leader = await opts.node.transferLeader(target);
    reply.code(200).send({ leader });
    return;
  }
  throw new ServiceError(isKnownGetPath(path) ? 'ERR_RESERVED_PATH' : 'ERR_NOT_FOUND');
}

function isKnownGetPath(path: string): boolean {
  if (path === '/-/ui' || path.startsWith('/-/ui/') || path === '/-/events') return true;
  return path === '/-/health' || path === '/-/ready' || path === '/-/status' || path === '/-/members' || path === '/-/metrics';
}

const RESERVED_ROUTES: Record<string, HttpRoute> = {
  '/-/health': 'health',
  '/-/ready': 'ready',
  '/-/status': 'status',
  '/-/members': 'members',
  '/-/metrics': 'metrics',
  '/-/transfer-leader': 'transfer_leader',
  '/-/events': 'events',
  '/-/ui': 'ui',
};

/** A request's route label: one of a fixed few, so no key or id ever becomes a label value. */
export function routeOf(method: string, path: string): HttpRoute {
  if (path.startsWith(RESERVED_PREFIX)) {
    return RESERVED_ROUTES[path] ?? (PROMOTE_PATH.test(path) ? 'promote' : path.startsWith('/-/ui/') ? 'ui' : 'other');
  }
  switch (method) {
    case 'PUT':
      return 'key_put';
    case 'GET':
      return 'key_get';
    case 'POST':
      return 'member_add';
    case 'DELETE':
      return 'member_remove';
    default:
      return 'other';
  }
}

function confChange(confChangeC: Chan<ConfChangeRequest>, change: MemberChange): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    confChangeC.send({ change, resolve, reject }).catch((e: unknown) => {
      reject(e instanceof ChanClosedError ? new ServiceError('ERR_STOPPING') : e);
    });
  });
}

function sendError(reply: FastifyReply, err: unknown): void {
  const e = toHttpError(err);
  if (e.status === 405) reply.header('allow', ALLOWED_METHODS);
  if (e.status === 503) reply.header('retry-after', String(RETRY_AFTER_S));
  reply.code(e.status).type('text/plain; charset=utf-8').send(e.message + '\n');
}

function isAllowedMethod(m: string): boolean {
  return m === 'PUT' || m === 'GET' || m === 'POST' || m === 'DELETE';
}

/** The key is the raw request path (as raftexample uses RequestURI), without the query string. */
function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function nodeIdFromPath(path: string): number {
  const s = path.slice(1);
  const id = parseNodeId(s);
  if (id === null) throw new ServiceError('ERR_BAD_NODE_ID', JSON.stringify(s));
  return id;
}

function bodyBytes(body: unknown): Uint8Array {
  return body instanceof Uint8Array ? body : EMPTY;
}

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
