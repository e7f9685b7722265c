// The hot path of the client port: PUT /<key> and GET /<key> answered straight from node's
// http server, before fastify's routing, hooks and body parsing (about a third of the CPU a
// small request costs). It answers exactly what the fastify routes in httpapi.ts answer for
// the same request; anything unusual (the /-/ paths, other methods, a path fastify would
// decode or refuse) goes to fastify untouched.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
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
    // fastify decodes '%' escapes to route (refusing bad ones with 400): leave those to it, and
    // the reserved paths, and any target that is not a plain path.
    if ((method !== 'PUT' && method !== 'GET') || url.charCodeAt(0) !== 0x2f || url.startsWith('/-/') || url.includes('%')) {
      fallback(req, res);
      return;
    }
    serve(o, method, url, req, res);
  };
}

function serve(o: LeanPathOptions, method: 'PUT' | 'GET', url: string, req: IncomingMessage, res: ServerResponse): void {
  const started = o.metrics === undefined ? 0 : performance.now();
  const route: HttpRoute = method === 'PUT' ? 'key_put' : 'key_get';
  const finish = (status: number) => {
    if (o.metrics !== undefined) o.metrics.observeHttp(route, status, (performance.now() - started) / 1000);
  };
  if (o.closing()) {
    res.setHeader('connection', 'close');
    finish(sendError(res, new ServiceError('ERR_STOPPING')));
    return;
  }
  const release = o.admit(req.headers);
  if (release === null) {
    if (declaresBody(req.headers)) res.setHeader('connection', 'close');
    finish(sendError(res, new ServiceError('ERR_OVERLOADED', 'too many requests at once')));
    return;
  }
  res.once('finish', release);
  res.once('close', release);
  const q = url.indexOf('?');
  const key = q < 0 ? url : url.slice(0, q);
  if (method === 'GET') {
    const serializable = q >= 0 && hasFlag(url.slice(q + 1), 'serializable');
    o.kv.get(key, serializable).then(
      (value) => {
        if (value === undefined) return finish(sendError(res, new ServiceError('ERR_KEY_NOT_FOUND')));
        res.writeHead(200, ['content-type', OCTETS, 'content-length', String(value.length)]);
        res.end(value);
        finish(200);
      },
      (e: unknown) => finish(sendError(res, e)),
    );
    return;
  }
  readBody(req, o.maxRequestBytes, (body) => {
    if (body === null) {
      res.setHeader('connection', 'close');
      return finish(sendError(res, new ServiceError('ERR_TOO_LARGE')));
    }
    o.kv.put(key, body).then(
      () => {
        res.writeHead(204);
        res.end();
        finish(204);
      },
      (e: unknown) => finish(sendError(res, e)),
    );
  });
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

/** Our error table's answer, as httpapi.ts's sendError writes it through fastify; returns the status. */
function sendError(res: ServerResponse, err: unknown): number {
  const e = toHttpError(err);
  if (res.headersSent) {
    res.destroy();
    return e.status;
  }
  const text = e.message + '\n';
  res.setHeader('content-type', TEXT);
  res.setHeader('content-length', Buffer.byteLength(text));
  if (e.status === 503) res.setHeader('retry-after', String(RETRY_AFTER_S));
  res.writeHead(e.status);
  res.end(text);
  return e.status;
}

/** `?name`, `?name=1`, `?name=true`: set; `=0`, `=false` or absent: not (as httpapi.ts reads flags). */
export function hasFlag(query: string, name: string): boolean {
  if (query === '') return false;
  const v = new URLSearchParams(query).get(name);
  return v !== null && v !== 'false' && v !== '0';
}
