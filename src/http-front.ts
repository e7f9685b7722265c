// A hand-written HTTP/1.1 reader in front of node's http server, for the few requests that are
// the service's hot path. Each connection starts here. A request whose head is in the narrow,
// common shape below (and that `takes` wants) is read and answered here; at the first request
// that is anything else, the connection, with that request's bytes unread, is handed to node's
// server for the rest of its life, and node parses and answers it as it always would.
//
// Why: by callgrind, a 128-byte PUT through node's http server and the lean path costs about
// 300k instructions (IncomingMessage and ServerResponse streams, header objects, per-request
// timers), through this reader 113k. On the leader, one such request is made per write.
//
// What this reader accepts is a strict subset of what node's parser accepts: the request line
// exactly `GET|PUT|POST <visible ASCII target> HTTP/1.1`; header names of letters, digits and '-';
// values of visible ASCII, space and tab; a Host header; at most one Content-Length, decimal;
// Connection only `keep-alive` or `close`; no Transfer-Encoding, Expect, Upgrade or folded
// lines; a head within HEAD_BYTES_MAX. Anything else goes to node untouched, so nothing is
// answered here that node would have refused, and nothing node would parse differently is
// served here. Requests on one connection are served one at a time, in order.

import { STATUS_CODES, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

/** A head longer than this is never ours (node's own limit is 16 KiB). */
export const HEAD_BYTES_MAX = 8 * 1024;
/** Headers in a head we read; more go to node. */
const HEADERS_MAX = 64;

export type FrontMethod = 'GET' | 'PUT' | 'POST';

export interface FrontExchange {
  readonly method: FrontMethod;
  /** The request target as sent: a path with an optional query. */
  readonly url: string;
  /** The declared body length (0 when none was declared). */
  readonly contentLength: number;
  /** The values of the headers named in FrontOptions.headers that the request carries. */
  readonly headers: Readonly<Record<string, string>>;
  /** Calls back once the whole body has arrived (at once for an empty one). */
  readBody(done: (body: Buffer) => void): void;
  /**
   * Answer: status, extra header lines (each ending in CRLF; no Date, Connection or
   * Content-Length), and the body. `close` ends the connection after it; so does an answer
   * given before a declared body was read (that body is never read).
   */
  respond(status: number, headerLines: string, body: Uint8Array | null, close?: boolean): void;
  /** Called (once) if the connection closes before the answer is written. */
  onAbort: (() => void) | null;
}

export interface FrontOptions {
  /** Whether a request of this method, target and headers (those named in `headers`) is served here. */
  takes(method: FrontMethod, url: string, headers: Readonly<Record<string, string>>): boolean;
  /** Header names (lower case) whose values the exchange carries; a request repeating one is not ours. */
  headers?: readonly string[];
  /** Serve one request; it must call respond() exactly once, unless the connection aborts. */
  serve(x: FrontExchange): void;
  /** A request must arrive whole within this, and no connection may stay silent for as long. */
  requestReceiveTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

type ConnectionListener = (socket: Socket) => void;

/**
 * Put the reader in front of `server` (plain or TLS): it takes over the listener node's http
 * server installed for new connections, and calls it for the connections it hands over. Its
 * own idle connections are closed with node's (closeIdleConnections, closeAllConnections).
 */
export function installFront(server: HttpServer | HttpsServer, o: FrontOptions): void {
  const event = isTls(server) ? 'secureConnection' : 'connection';
  const node = server.listeners(event)[0] as ConnectionListener | undefined;
  if (node === undefined) throw new Error(`no ${event} listener on the server to put the front before`);
  server.removeListener(event, node);
  const open = new Set<FrontConnection>();
  const handOver = (socket: Socket) => node.call(server, socket);
  server.on(event, (socket: Socket) => {
    const c = new FrontConnection(socket, o, handOver, () => open.delete(c));
    open.add(c);
  });
  const closeIdle = server.closeIdleConnections.bind(server);
  const closeAll = server.closeAllConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    for (const c of open) c.closeIfIdle();
  };
  server.closeAllConnections = () => {
    closeAll();
    for (const c of open) c.destroy();
  };
}

function isTls(server: object): boolean {
  return typeof (server as { addContext?: unknown }).addContext === 'function';
}

let dateSecond = -1;
let dateText = '';
/** The Date header's value, made once a second (as node does). */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}


/** What a head we can serve says; null when it is not one (node's then). */
interface Head {
  method: FrontMethod;
  url: string;
  contentLength: number;
  headers: Record<string, string>;
  close: boolean;
  /** Bytes of the head, CRLFCRLF included. */
  bytes: number;
}

const NO_HEADERS: readonly string[] = [];

/**
 * Read a complete head at the start of `buf` (`end` is the index of its CRLFCRLF), or null if
 * it is not in our shape. The values of the headers named in `wanted` are kept.
 */
export function parseHead(buf: Buffer, end: number, wanted: readonly string[] = NO_HEADERS): Head | null {
  const text = buf.toString('latin1', 0, end);
  const lineEnd = text.indexOf('\r\n');
  const requestLine = lineEnd < 0 ? text : text.slice(0, lineEnd);
  let method: FrontMethod;
  if (requestLine.startsWith('GET ')) method = 'GET';
  else if (requestLine.startsWith('PUT ')) method = 'PUT';
  else if (requestLine.startsWith('POST ')) method = 'POST';
  else return null;
  if (!requestLine.endsWith(' HTTP/1.1')) return null;
  const url = requestLine.slice(method.length + 1, requestLine.length - 9);
  if (url.length === 0 || !isVisible(url)) return null;
  let contentLength = -1;
  let close = false;
  let host = false;
  let count = 0;
  const headers: Record<string, string> = {};
  let at = lineEnd < 0 ? text.length : lineEnd + 2;
  while (at < text.length) {
    let next = text.indexOf('\r\n', at);
    if (next < 0) next = text.length;
    const line = text.slice(at, next);
    at = next + 2;
    if (++count > HEADERS_MAX) return null;
    const colon = line.indexOf(':');
    if (colon <= 0 || !isToken(line, colon)) return null;
    const value = line.slice(colon + 1).trim();
    if (!isFieldValue(line, colon + 1)) return null;
    const name = line.slice(0, colon).toLowerCase();
    if (wanted.length > 0 && wanted.includes(name)) {
      if (name in headers) return null;
      headers[name] = value;
    }
    switch (name) {
      case 'content-length':
        if (contentLength >= 0 || !/^[0-9]{1,15}$/.test(value)) return null;
        contentLength = Number(value);
        break;
      case 'host':
        if (host) return null;
        host = true;
        break;
      case 'connection': {
        const v = value.toLowerCase();
        if (v === 'close') close = true;
        else if (v !== 'keep-alive') return null;
        break;
      }
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return null;
    }
  }
  if (!host) return null;
  if (method === 'GET' && contentLength > 0) return null;
  if (method !== 'GET' && contentLength < 0) return null;
  return { method, url, contentLength: Math.max(0, contentLength), headers, close, bytes: end + 4 };
}

function isVisible(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/** Letters, digits and '-' only, the names real clients send. */
function isToken(line: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = line.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d)) return false;
  }
  return true;
}

/** Visible ASCII, space and tab (no control bytes, no obs-text). */
function isFieldValue(line: string, from: number): boolean {
  for (let i = from; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 0x09 && (c < 0x20 || c >= 0x7f)) return false;
  }
  return true;
}

/** Index of the first CRLFCRLF in buf, or -1. */
function headEnd(buf: Buffer): number {
  return buf.indexOf('\r\n\r\n', 0, 'latin1');
}

class FrontConnection {
  private buf: Buffer | null = null;
  /** Pieces of a body being waited for, after buf. */
  private later: Buffer[] = [];
  private laterBytes = 0;
  /** A request is being served: no more are read until it is answered. */
  private busy = false;
  private gone = false;
  /** When the request being received began (its first byte), or -1 between requests. */
  private receivingSince = -1;
  private exchange: Exchange | null = null;
  /** Answers wait to go out (the client reads slowly): no request is read meanwhile. */
  private draining = false;
  /** Inside next(): an answer given synchronously must not start another loop. */
  private reading = false;
  private readonly onData = (chunk: Buffer) => this.data(chunk);
  private readonly onClose = () => this.closed();
  private readonly onTimeout = () => this.socket.destroy();
  private readonly onError = () => undefined;

  constructor(
    private readonly socket: Socket,
    private readonly o: FrontOptions,
    private readonly handOver: (socket: Socket) => void,
    private readonly forget: () => void,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(Math.min(o.requestReceiveTimeoutMs, o.keepAliveTimeoutMs));
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
  }

  closeIfIdle(): void {
    if (!this.busy && this.buf === null) this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private data(chunk: Buffer): void {
    if (this.gone) return; // answered with close, or cut off: nothing more is read
    if (this.receivingSince < 0) this.receivingSince = Date.now();
    const x = this.exchange;
    // A body arriving in pieces is joined once, when it is all here (bodies reach maxRequestBytes).
    if (x !== null && x.waitingForBody) {
      this.later.push(chunk);
      this.laterBytes += chunk.length;
    } else this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    if (x === null) return this.draining ? undefined : this.next();
    if (x.waitingForBody) {
      if (this.tooSlow()) return;
      x.arrived();
    }
    // Pipelined requests wait for the answer; past a head's worth, stop reading until then.
    if (this.exchange !== null && !this.exchange.waitingForBody && this.buf !== null && this.buf.length > HEAD_BYTES_MAX) this.socket.pause();
  }

  /** The request being received is past its deadline: answered 408 and the connection closed. */
  private tooSlow(): boolean {
    if (Date.now() - this.receivingSince <= this.o.requestReceiveTimeoutMs) return false;
    this.gone = true;
    this.socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return true;
  }

  get keepAliveS(): number {
    return Math.floor(this.o.keepAliveTimeoutMs / 1000);
  }

  /** Read the next request from what has arrived, if it is all there. */
  private next(): void {
    if (this.reading) return; // answered from inside serve(): the loop below goes on
    this.reading = true;
    try {
      this.readRequests();
    } finally {
      this.reading = false;
    }
  }

  private readRequests(): void {
    while (!this.busy && !this.draining && !this.gone && this.buf !== null) {
      if (this.tooSlow()) return;
      const end = headEnd(this.buf);
      if (end < 0) {
        if (this.buf.length > HEAD_BYTES_MAX) this.release();
        return;
      }
      const head = end + 4 <= HEAD_BYTES_MAX ? parseHead(this.buf, end, this.o.headers) : null;
      if (head === null || !this.o.takes(head.method, head.url, head.headers)) return this.release();
      this.buf = this.buf.length === head.bytes ? null : this.buf.subarray(head.bytes);
      this.busy = true;
      this.exchange = new Exchange(this, head);
      this.o.serve(this.exchange);
      // A request served at once (its body was already here) lets the loop read the next.
    }
  }

  /** Bytes of the body of the request being served, as they have arrived (taken off the buffer). */
  takeBody(want: number): Buffer | null {
    if ((this.buf?.length ?? 0) + this.laterBytes < want) return null;
    if (this.laterBytes > 0) {
      this.buf = Buffer.concat(this.buf === null ? this.later : [this.buf, ...this.later]);
      this.later = [];
      this.laterBytes = 0;
    }
    if (this.buf === null) return null; // want is 0: never asked
    const body = this.buf.length === want ? this.buf : this.buf.subarray(0, want);
    this.buf = this.buf.length === want ? null : this.buf.subarray(want);
    return body;
  }

  write(head: Buffer, body: Uint8Array | null, close: boolean): void {
    this.exchange = null;
    this.busy = false;
    this.receivingSince = this.buf === null ? -1 : Date.now();
    if (this.gone) return;
    const s = this.socket;
    const hasBody = body !== null && body.length > 0;
    if (hasBody) s.cork();
    s.write(head);
    if (hasBody) s.write(body);
    if (hasBody) s.uncork();
    if (close) {
      this.gone = true;
      s.end();
      return;
    }
    // A client that does not read its answers: read no more requests until they have gone out.
    if (s.writableNeedDrain) {
      this.draining = true;
      s.pause();
      s.once('drain', this.onDrain);
      return;
    }
    if (s.isPaused()) s.resume();
    this.next();
  }

  private readonly onDrain = () => {
    this.draining = false;
    if (this.gone) return;
    this.socket.resume();
    this.next();
  };

  /** Hand the connection, with the request not yet read, to node's server. */
  private release(): void {
    this.gone = true;
    const s = this.socket;
    s.pause();
    s.removeListener('data', this.onData);
    s.removeListener('close', this.onClose);
    s.removeListener('timeout', this.onTimeout);
    s.removeListener('error', this.onError);
    s.removeListener('drain', this.onDrain);
    this.forget();
    if (this.buf !== null) s.unshift(this.buf);
    this.buf = null;
    this.handOver(s);
    s.resume();
  }

  private closed(): void {
    this.gone = true;
    this.forget();
    const x = this.exchange;
    this.exchange = null;
    if (x !== null) x.abort();
  }
}

class Exchange implements FrontExchange {
  readonly method: FrontMethod;
  readonly url: string;
  readonly contentLength: number;
  readonly headers: Readonly<Record<string, string>>;
  onAbort: (() => void) | null = null;
  private waiting: ((body: Buffer) => void) | null = null;
  get waitingForBody(): boolean {
    return this.waiting !== null;
  }
  private bodyRead: boolean;
  private answered = false;

  constructor(
    private readonly c: FrontConnection,
    private readonly head: Head,
  ) {
    this.method = head.method;
    this.url = head.url;
    this.contentLength = head.contentLength;
    this.headers = head.headers;
    this.bodyRead = head.contentLength === 0;
  }

  readBody(done: (body: Buffer) => void): void {
    if (this.contentLength === 0) return done(EMPTY);
    this.waiting = done;
    this.arrived();
  }

  arrived(): void {
    if (this.waiting === null) return;
    const body = this.c.takeBody(this.contentLength);
    if (body === null) return;
    const done = this.waiting;
    this.waiting = null;
    this.bodyRead = true;
    done(body);
  }

  respond(status: number, headerLines: string, body: Uint8Array | null, close = false): void {
    if (this.answered) return;
    this.answered = true;
    const shut = close || this.head.close || !this.bodyRead;
    const length = body === null ? 0 : body.length;
    const head =
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n${headerLines}` +
      (status === 204 ? '' : `content-length: ${length}\r\n`) +
      `Date: ${httpDate()}\r\n` +
      (shut ? 'Connection: close\r\n\r\n' : `Connection: keep-alive\r\nKeep-Alive: timeout=${this.c.keepAliveS}\r\n\r\n`);
    this.c.write(Buffer.from(head, 'latin1'), body, shut);
  }

  abort(): void {
    if (this.answered) return;
    this.answered = true;
    this.onAbort?.();
  }
}

const EMPTY = Buffer.alloc(0);
