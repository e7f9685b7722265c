// One HTTP exchange with one endpoint, on undici Pools with keep-alive (one per endpoint).
// It reports whether the request left: a connection that fails before the request is handed
// to the socket is safe to retry; one that fails after it leaves the outcome unknown.

import { Pool, type Dispatcher } from 'undici';
import { entryBytesMax } from '../limits.ts';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface ClientRequest {
  method: Method;
  /** Path and query, already encoded: `/my-key`, `/-/transfer-leader?to=2`. */
  path: string;
  body?: Uint8Array;
}

export interface AnsweredRequest {
  kind: 'answered';
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The request never reached the socket (refused, unreachable, pool closed): it certainly had no effect. */
export interface NotSentRequest {
  kind: 'not-sent';
  reason: string;
}

/** The request left but no whole answer came back (timeout, reset, too large): outcome unknown. */
export interface UnansweredRequest {
  kind: 'unanswered';
  reason: string;
}

export type AttemptOutcome = AnsweredRequest | NotSentRequest | UnansweredRequest;

/** What the retry loop needs from the network; tests plug in a fake. */
export interface ClientTransport {
  /** One attempt; rejects only with the caller's abort reason when `signal` aborts. */
  send(endpoint: string, request: ClientRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptOutcome>;
  /** Drop the connections to endpoints no longer in use. */
  retain(endpoints: readonly string[]): void;
  close(): Promise<void>;
}

export interface ClientTls {
  /** PEM CA bundle the servers' certificates must chain to (default: the system's roots). */
  ca?: string | Buffer;
  /** PEM client certificate and key, for servers with --client-cert-auth. */
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** The largest answer taken: a value at its largest (an entry) or the member list, with room for headers. */
export const responseBytesMax = entryBytesMax + 64 * 1024;
/** Connections per endpoint: enough for a busy caller, bounded so a burst cannot open thousands of sockets. */
export const connectionsPerEndpointMax = 64;

export class HttpTransport implements ClientTransport {
  private readonly pools = new Map<string, Pool>();
  private readonly tls: ClientTls | undefined;

  constructor(tls?: ClientTls) {
    this.tls = tls;
  }

  send(endpoint: string, request: ClientRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptOutcome> {
    return exchange(this.poolFor(endpoint), request, timeoutMs, signal);
  }

  retain(endpoints: readonly string[]): void {
    for (const [endpoint, pool] of this.pools) {
      if (endpoints.includes(endpoint)) continue;
      this.pools.delete(endpoint);
      void pool.close().catch(() => {}); // in-flight requests finish; new ones get a fresh pool
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => {})));
  }

  private poolFor(endpoint: string): Pool {
    let pool = this.pools.get(endpoint);
    if (pool === undefined) {
      const connect = this.tls === undefined ? {} : { connect: { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key } };
      pool = new Pool(endpoint, { connections: connectionsPerEndpointMax, pipelining: 1, ...connect });
      this.pools.set(endpoint, pool);
    }
    return pool;
  }
}

/**
 * One request on a pool. "Sent" is undici's onConnect: it runs right before the request is
 * written to a connected socket, so an error before it (connect refused, pool closed) means
 * nothing left. A timeout that fires before it aborts the request there, so it never leaves later.
 */
function exchange(pool: Dispatcher, request: ClientRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptOutcome> {
  return new Promise<AttemptOutcome>((resolve, reject) => {
    let sent = false;
    let settled = false;
    let abortRequest: ((err?: Error) => void) | null = null;
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    let bytes = 0;

    const finish = (outcome: AttemptOutcome | { kind: 'aborted'; reason: unknown }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (outcome.kind !== 'answered') abortRequest?.(new Error('request abandoned'));
      if (outcome.kind === 'aborted') reject(outcome.reason);
      else resolve(outcome);
    };
    const giveUp = (why: string): void => {
      finish(sent ? { kind: 'unanswered', reason: `${why} after sending` } : { kind: 'not-sent', reason: `${why} before sending` });
    };
    const onAbort = (): void => finish({ kind: 'aborted', reason: signal?.reason });
    const timer = setTimeout(() => giveUp(`timed out (${timeoutMs} ms)`), timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const handler: Dispatcher.DispatchHandler = {
      onConnect(abort) {
        abortRequest = abort;
        if (settled) abort(new Error('request abandoned before it was sent'));
        else sent = true;
      },
      onHeaders(statusCode, rawHeaders, _resume) {
        if (statusCode < 200) return true; // 1xx: the real answer follows
        status = statusCode;
        headers = headersOf(rawHeaders);
        return true;
      },
      onData(chunk) {
        bytes += chunk.length;
        if (bytes > responseBytesMax) giveUp(`answer over ${responseBytesMax} bytes`);
        else chunks.push(chunk);
        return true;
      },
      onComplete() {
        finish({ kind: 'answered', status, headers, body: Buffer.concat(chunks) });
      },
      onError(err) {
        giveUp(describe(err));
      },
    };
    const body = request.body === undefined ? null : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    try {
      pool.dispatch({ path: request.path, method: request.method, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, handler);
    } catch (err) {
      giveUp(describe(err)); // a closed pool throws here: nothing was sent
    }
  });
}

function headersOf(raw: Buffer[] | string[] | null): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (let i = 0; raw !== null && i + 1 < raw.length; i += 2) out[String(raw[i]).toLowerCase()] = String(raw[i + 1]);
  return out;
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return code !== '' && !message.includes(code) ? `${code}: ${message}` : message;
}
