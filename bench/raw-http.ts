// The load generator's HTTP/1.1 client: one request at a time on a kept-alive socket, the
// request written as one buffer, the response read by a small incremental parser that keeps
// only the status (the body is counted and dropped). It shares the two cores with the cluster
// it measures, so what it costs per request is taken from the systems under test: undici's
// Pool, with its dispatcher, handler objects and header arrays per request, cost about 28 µs
// of CPU per read here and kept the generator's one thread saturated (0.94 cores) while a node
// serving the same reads used 0.8. The parser is strict: anything it does not understand is a
// failed request and the connection is closed, never a guess.

import { connect, type Socket } from 'node:net';

/** A response head larger than this is refused (the systems under test send a few hundred bytes). */
export const RESPONSE_HEAD_BYTES_MAX = 16 * 1024;

export type ParseEvent = { kind: 'response'; status: number; close: boolean } | { kind: 'error'; why: string };

const enum State {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
  UntilClose,
}

const CR = 0x0d;
const isDigits = (s: string, from: number, to: number) => {
  if (to > s.length) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
};
const LF = 0x0a;

/**
 * An incremental HTTP/1.1 response reader: feed it the bytes as they come; it reports each
 * whole response (status and whether the server will close) or the first error. Bodies may be
 * sized by Content-Length, chunked, or (with neither) run until the connection closes.
 */
export class ResponseParser {
  private state = State.Head;
  private head: Buffer[] = [];
  private headBytes = 0;
  private status = 0;
  private close = false;
  private remaining = 0;
  /** The digits of a chunk-size line read so far (a line may arrive in pieces). */
  private line = '';
  private failed = false;

  constructor(private readonly on: (e: ParseEvent) => void) {}

  /** Whether the current response runs until the connection closes (then end() completes it). */
  get readsUntilClose(): boolean {
    return this.state === State.UntilClose;
  }

  /** The connection closed: completes a response that runs until then; false if one was cut off. */
  end(): boolean {
    if (this.state === State.UntilClose) {
      this.on({ kind: 'response', status: this.status, close: true });
      this.reset();
      return true;
    }
    return this.state === State.Head && this.headBytes === 0;
  }

  feed(buf: Buffer): void {
    let at = 0;
    while (at < buf.length && !this.failed) {
      switch (this.state) {
        case State.Head: {
          at = this.readHead(buf, at);
          break;
        }
        case State.Body: {
          const take = Math.min(this.remaining, buf.length - at);
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) this.complete();
          break;
        }
        case State.ChunkSize:
        case State.Trailer: {
          const lf = buf.indexOf(LF, at);
          const end = lf < 0 ? buf.length : lf;
          this.line += buf.toString('latin1', at, end);
          if (this.line.length > 1024) return this.fail('chunk line too long');
          at = end;
          if (lf < 0) break;
          at = lf + 1;
          const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : null;
          this.line = '';
          if (line === null) return this.fail('chunk line not ended by CRLF');
          if (this.state === State.Trailer) {
            if (line === '') this.complete();
            break;
          }
          const size = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(line);
          if (size === null) return this.fail('bad chunk size');
          this.remaining = parseInt(size[1]!, 16);
          this.state = this.remaining === 0 ? State.Trailer : State.ChunkData;
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, buf.length - at);
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) {
            this.state = State.ChunkDataEnd;
            this.remaining = 2;
          }
          break;
        }
        case State.ChunkDataEnd: {
          const expected = this.remaining === 2 ? CR : LF;
          if (buf[at] !== expected) return this.fail('chunk data not ended by CRLF');
          at++;
          if (--this.remaining === 0) this.state = State.ChunkSize;
          break;
        }
        case State.UntilClose:
          at = buf.length;
          break;
      }
    }
  }

  private readHead(buf: Buffer, at: number): number {
    // The end of the head may straddle pieces: search from a few bytes back into what we hold.
    this.head.push(at === 0 ? buf : buf.subarray(at));
    this.headBytes += buf.length - at;
    const whole = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head);
    const end = whole.indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0) {
      if (this.headBytes > RESPONSE_HEAD_BYTES_MAX) this.fail('response head too large');
      else if (this.head.length > 1) this.head = [whole];
      return buf.length;
    }
    if (end + 4 > RESPONSE_HEAD_BYTES_MAX) {
      this.fail('response head too large');
      return buf.length;
    }
    const consumedHere = end + 4 - (this.headBytes - (buf.length - at));
    this.head = [];
    this.headBytes = 0;
    this.startBody(whole.toString('latin1', 0, end));
    return at + consumedHere;
  }

  private startBody(head: string): void {
    // "HTTP/1.x NNN" then an optional reason: the status by position, no regular expression.
    if (!head.startsWith('HTTP/1.') || (head[7] !== '1' && head[7] !== '0') || head[8] !== ' ' || !isDigits(head, 9, 12) || (head.length > 12 && head[12] !== ' ' && head[12] !== '\r')) {
      return this.fail('bad status line');
    }
    const status = Number(head.slice(9, 12));
    let length: number | null = null;
    let chunked = false;
    let close = head[7] === '0';
    let at = head.indexOf('\r\n');
    while (at >= 0) {
      const from = at + 2;
      const next = head.indexOf('\r\n', from);
      const lineEnd = next < 0 ? head.length : next;
      at = next;
      const colon = head.indexOf(':', from);
      if (colon <= from || colon > lineEnd) return this.fail('bad header line');
      // Only three names matter, all starting with c or t: skip the rest without lowercasing them.
      const first = head.charCodeAt(from) | 0x20;
      if (first !== 0x63 && first !== 0x74) continue;
      const name = head.slice(from, colon).toLowerCase();
      if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection') continue;
      const value = head.slice(colon + 1, lineEnd).trim().toLowerCase();
      if (name === 'content-length') {
        if (value.length === 0 || value.length > 15 || !isDigits(value, 0, value.length) || (length !== null && length !== Number(value))) return this.fail('bad Content-Length');
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        if (value !== 'chunked') return this.fail(`unsupported Transfer-Encoding ${value}`);
        chunked = true;
      } else {
        const tokens = value.split(',').map((t) => t.trim());
        if (tokens.includes('close')) close = true;
        else if (tokens.includes('keep-alive')) close = false;
      }
    }
    if (chunked && length !== null) return this.fail('both Content-Length and chunked');
    // 1xx: an interim answer, the real one follows.
    if (status < 200) return;
    this.status = status;
    this.close = close;
    if (status === 204 || status === 304) this.complete();
    else if (chunked) this.state = State.ChunkSize;
    else if (length !== null) {
      this.remaining = length;
      if (length === 0) this.complete();
      else this.state = State.Body;
    } else this.state = State.UntilClose;
  }

  private complete(): void {
    const e: ParseEvent = { kind: 'response', status: this.status, close: this.close };
    this.reset();
    this.on(e);
  }

  private reset(): void {
    this.state = State.Head;
    this.status = 0;
    this.close = false;
    this.remaining = 0;
    this.line = '';
  }

  private fail(why: string): void {
    this.failed = true;
    this.on({ kind: 'error', why });
  }
}

export interface RawRequest {
  method: string;
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
}

/** The bytes of a request: head and body in one buffer, so one write (and one segment) carries it. */
export function encodeRequest(host: string, req: RawRequest): Buffer {
  let head = `${req.method} ${req.path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(req.headers ?? {})) head += `${name}: ${value}\r\n`;
  const body = req.body;
  if (body !== undefined || req.method === 'PUT' || req.method === 'POST') head += `Content-Length: ${body?.length ?? 0}\r\n`;
  head += '\r\n';
  const headBytes = Buffer.byteLength(head, 'latin1');
  const out = Buffer.allocUnsafe(headBytes + (body?.length ?? 0));
  out.write(head, 0, 'latin1');
  if (body !== undefined) body.copy(out, headBytes);
  return out;
}

/**
 * One kept-alive connection that carries one request at a time. send() resolves with the
 * response's status, or 0 when there was none (refused, reset, cut off, unparseable, or no
 * answer within the timeout); the next send() then opens a new connection.
 */
export class RawConnection {
  private socket: Socket | null = null;
  private waiting: ((status: number) => void) | null = null;
  private deadline = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  send(request: Buffer, timeoutMs: number): Promise<number> {
    if (this.waiting !== null) throw new Error('raw http: one request at a time');
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deadline = performance.now() + timeoutMs;
      const socket = this.socket ?? this.open();
      socket.write(request);
    });
  }

  /** Ends a request that has waited past its deadline (the generator calls this now and then). */
  expire(now: number): void {
    if (this.waiting !== null && now > this.deadline) this.drop();
  }

  destroy(): void {
    this.drop();
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    const parser = new ResponseParser((e) => {
      if (this.socket !== socket) return;
      // A second answer to one request (or an error): the stream can no longer be trusted.
      if (this.waiting === null) {
        this.drop();
        return;
      }
      if (e.kind === 'error' || e.close) {
        if (e.kind === 'response') this.answer(e.status);
        this.drop();
        return;
      }
      this.answer(e.status);
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      if (this.waiting === null) {
        this.drop(); // bytes nobody asked for: the stream can no longer be trusted
        return;
      }
      parser.feed(chunk);
    });
    const gone = () => {
      if (this.socket !== socket) return;
      parser.end(); // completes a body that runs until the close
      this.drop();
    };
    socket.on('end', gone);
    socket.on('close', gone);
    socket.on('error', gone);
    this.socket = socket;
    return socket;
  }

  private answer(status: number): void {
    const w = this.waiting;
    this.waiting = null;
    w?.(status);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    this.answer(0);
  }
}
