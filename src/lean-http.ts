// The hot path of the client port: PUT /<key> and GET /<key> answered straight from node's
// http server, before fastify's routing, hooks and body parsing (about a third of the CPU a
// small request costs). It answers exactly what the fastify routes in httpapi.ts answer for
// the same request; anything unusual (the /-/ paths, other methods, a path fastify would
// decode or refuse) goes to fastify untouched.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { FrontOptions } from './http-front.ts';
import { RETRY_AFTER_S, ServiceError, toHttpError } from './errors.ts';
import type { KvApi } from './kvstore.ts';
import type { HttpRoute, ServiceMetrics } from './metrics.ts';

/** Whether the client listener sheds this request (ClientLoad in httpapi.ts): a release function, or null. */
export type Admit = (headers: IncomingHttpHeaders) => (() => void) | null;

export interface LeanPathOptions {
  kv: KvApi;
  maxRequestBytes: number;
  metrics?: ServiceMetrics;
  /** True once the app is closing: every request gets 503 stopping. */
  closing: () => boolean;
  admit: Admit;
}

const EMPTY = new Uint8Array(0);
const TEXT = 'text/plain; charset=utf-8';
const OCTETS = 'application/octet-stream';

/**
 * Returns a request listener that serves what it can and hands the rest to `fallback`
 * (fastify's own listener).
 */
export function leanListener(o: LeanPathOptions, fallback: (req: IncomingMessage, res: ServerResponse) => void) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method;
    const url = req.url ?? '';
    if ((method !== 'PUT' && method !== 'GET') || !isLeanTarget(url)) {
      fallback(req, res);
      return;
    }
    serveNode(o, method, url, req, res);
  };
}

/**
 * fastify decodes '%' escapes to route (refusing bad ones with 400): those are left to it, and
 * the reserved paths, and any target that is not a plain path.
 */
function isLeanTarget(url: string): boolean {
  return url.charCodeAt(0) === 0x2f && !url.startsWith('/-/') && !url.includes('%');
}

/** How one answer is written: by node's ServerResponse or by the front's reader. */
interface Answer {
  /** `type`: a content type, or null for none; `close`: end the connection after it; `retryAfter`: add Retry-After. */
  send(status: number, type: string | null, body: Uint8Array | null, close: boolean, retryAfter: boolean): void;
}

/** One PUT or GET of a key as both paths see it. */
interface KeyRequest {
  method: 'PUT' | 'GET';
  url: string;
  /** What admit() and the size check read: the request's declared length, as headers. */
  headers: IncomingHttpHeaders;
  /** The whole body, or null once it is longer than the bound (then it is not read). */
  readBody(max: number, done: (body: Uint8Array | null) => void): void;
}

/** `admit` is o.admit, or a path's wrapper of it that also watches its socket. */
function serve(o: LeanPathOptions, admit: Admit, r: KeyRequest, out: Answer): void {
  const started = o.metrics === undefined ? 0 : performance.now();
  const route: HttpRoute = r.method === 'PUT' ? 'key_put' : 'key_get';
  const finish = (status: number) => {
    if (o.metrics !== undefined) o.metrics.observeHttp(route, status, (performance.now() - started) / 1000);
  };
  const fail = (err: unknown, close = false) => {
    const e = toHttpError(err);
    out.send(e.status, TEXT, Buffer.from(e.message + '\n'), close, e.status === 503);
    finish(e.status);
  };
  if (o.closing()) return fail(new ServiceError('ERR_STOPPING'), true);
  const release = admit(r.headers);
  if (release === null) return fail(new ServiceError('ERR_OVERLOADED', 'too many requests at once'), declaresBody(r.headers));
  const url = r.url;
  const q = url.indexOf('?');
  const key = q < 0 ? url : url.slice(0, q);
  if (r.method === 'GET') {
    const serializable = q >= 0 && hasFlag(url.slice(q + 1), 'serializable');
    o.kv.get(key, serializable).then(
      (value) => {
        release();
        if (value === undefined) return fail(new ServiceError('ERR_KEY_NOT_FOUND'));
        out.send(200, OCTETS, value, false, false);
        finish(200);
      },
      (e: unknown) => (release(), fail(e)),
    );
    return;
  }
  r.readBody(o.maxRequestBytes, (body) => {
    if (body === null) return release(), fail(new ServiceError('ERR_TOO_LARGE'), true);
    o.kv.put(key, body).then(
      () => {
        release();
        out.send(204, null, null, false, false);
        finish(204);
      },
      (e: unknown) => (release(), fail(e)),
    );
  });
}

/** A request node's server parsed, answered through its ServerResponse. */
function serveNode(o: LeanPathOptions, method: 'PUT' | 'GET', url: string, req: IncomingMessage, res: ServerResponse): void {
  // serve() releases the count of requests at once with its answer; a socket closed first releases it too.
  const admit: Admit = (headers) => {
    const release = o.admit(headers);
    if (release !== null) res.once('close', release);
    return release;
  };
  serve(o, admit, { method, url, headers: req.headers, readBody: (max, done) => readBody(req, max, done) }, {
    send: (status, type, body, close, retryAfter) => {
      if (res.headersSent) return void res.destroy();
      if (close) res.setHeader('connection', 'close');
      const headers: string[] = [];
      if (type !== null) headers.push('content-type', type, 'content-length', String(body?.length ?? 0));
      if (retryAfter) headers.push('retry-after', String(RETRY_AFTER_S));
      res.writeHead(status, headers);
      res.end(body ?? undefined);
    },
  });
}

/**
 * The front's half (http-front.ts): which requests it takes, the same as the node path's, and
 * how it serves them, the same way.
 */
export function leanFront(o: LeanPathOptions): Pick<FrontOptions, 'takes' | 'serve'> {
  return {
    takes: (method, url) => method !== 'POST' && isLeanTarget(url),
    serve: (x) => {
      if (x.method === 'POST') return x.respond(405, '', null, true); // not taken (above): never reached
      let release: (() => void) | null = null;
      const admit: Admit = (headers) => (release = o.admit(headers));
      x.onAbort = () => release?.();
      const headers: IncomingHttpHeaders = x.method === 'PUT' ? { 'content-length': String(x.contentLength) } : {};
      const readBody = (max: number, done: (body: Uint8Array | null) => void) => (x.contentLength > max ? done(null) : x.readBody(done));
      serve(o, admit, { method: x.method, url: x.url, headers, readBody }, {
        send: (status, type, body, close, retryAfter) => {
          const lines = (type !== null ? `content-type: ${type}\r\n` : '') + (retryAfter ? `retry-after: ${RETRY_AFTER_S}\r\n` : '');
          x.respond(status, lines, body, close);
        },
      });
    },
  };
}

/** The whole body, or null once it is longer than max (the rest is not read: the socket closes). */
function readBody(req: IncomingMessage, max: number, done: (body: Uint8Array | null) => void): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return done(null);
  let first: Buffer | null = null;
  let more: Buffer[] | null = null;
  let bytes = 0;
  let over = false;
  req.on('data', (chunk: Buffer) => {
    if (over) return;
    bytes += chunk.length;
    if (bytes > max) {
      over = true;
      req.pause();
      return done(null);
    }
    if (first === null) first = chunk;
    else (more ??= [first]).push(chunk);
  });
  req.on('end', () => {
    if (over) return;
    done(more !== null ? Buffer.concat(more, bytes) : (first ?? EMPTY));
  });
  // An aborted request: node closes the response; nothing to answer.
  req.on('error', () => undefined);
}

/** The body a request says it brings: its content-length, or the largest allowed when chunked. */
export function declaredBodyBytes(headers: IncomingHttpHeaders, maxRequestBytes: number): number {
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    return Number.isSafeInteger(n) && n >= 0 ? Math.min(n, maxRequestBytes) : maxRequestBytes;
  }
  return headers['transfer-encoding'] !== undefined ? maxRequestBytes : 0;
}

/** Whether a request brings a body at all (then a refusal closes the socket rather than read it). */
export function declaresBody(headers: IncomingHttpHeaders): boolean {
  return declaredBodyBytes(headers, 1) > 0;
}

/** `?name`, `?name=1`, `?name=true`: set; `=0`, `=false` or absent: not (as httpapi.ts reads flags). */
export function hasFlag(query: string, name: string): boolean {
  if (query === '') return false;
  const v = new URLSearchParams(query).get(name);
  return v !== null && v !== 'false' && v !== '0';
}
