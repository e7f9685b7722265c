// A closed-loop HTTP load generator: `clients` workers, each sending its next request when
// the last one is answered, each on a kept-alive connection of its own. It shares the cores
// with the cluster it measures, so it is kept cheap: by default each worker has a RawConnection
// (raw-http.ts); `client: 'undici'` uses one undici Pool per node instead, with bare dispatch
// handlers (no response streams), as the benchmark did before (--client undici), to compare.

import { Pool } from 'undici';
import { encodeRequest, RawConnection } from './raw-http.ts';
import { SampleLog } from './stats.ts';

export type GeneratorClient = 'raw' | 'undici';

export interface BenchRequest {
  method: 'PUT' | 'GET';
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
}

export interface LoadSpec {
  /** Client i talks to origins[i % origins.length]. */
  origins: string[];
  clients: number;
  durationMs: number;
  /** The seq-th request of the phase (seq counts from 0 over all clients). */
  request(seq: number): BenchRequest;
  isOk(status: number): boolean;
  /** Called for each request answered with an ok status. */
  onOk?(seq: number): void;
  /** Called about every 250 ms while the phase runs. */
  onProgress?(elapsedMs: number, ok: number): void;
  requestTimeoutMs?: number;
  /** How requests are sent (raw unless told). */
  client?: GeneratorClient;
}

export interface LoadResult {
  samples: SampleLog;
  ok: number;
  /** Failed requests by HTTP status, or "network" for no answer. */
  failures: Record<string, number>;
  /** From the first request to the last answer (requests in flight at the deadline are waited for). */
  elapsedMs: number;
}

const NETWORK_FAILURE_PAUSE_MS = 20;

/** Sends one request of a worker's and resolves with the status (0: no answer). */
type Sender = (req: BenchRequest, timeoutMs: number) => Promise<number>;

interface Senders {
  forClient(index: number): Sender;
  /** Called every 250 ms. */
  tick(now: number): void;
  close(): Promise<void>;
}

function rawSenders(origins: string[], clients: number): Senders {
  const targets = origins.map((origin) => {
    const u = new URL(origin);
    if (u.protocol !== 'http:') throw new Error(`load generator: only http:// origins, not ${origin}`);
    return { host: u.host, hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 80) };
  });
  const connections = Array.from({ length: clients }, (_, i) => {
    const t = targets[i % targets.length]!;
    return { host: t.host, connection: new RawConnection(t.hostname, t.port) };
  });
  return {
    forClient: (index) => {
      const { host, connection } = connections[index]!;
      return (req, timeoutMs) => connection.send(encodeRequest(host, req), timeoutMs);
    },
    tick: (now) => {
      for (const c of connections) c.connection.expire(now);
    },
    close: async () => {
      for (const c of connections) c.connection.destroy();
    },
  };
}

function undiciSenders(origins: string[], clients: number): Senders {
  const perOrigin = Math.ceil(clients / origins.length);
  const pools = origins.map((origin) => new Pool(origin, { connections: perOrigin, pipelining: 1, keepAliveTimeout: 30_000 }));
  return {
    forClient: (index) => {
      const pool = pools[index % pools.length]!;
      const origin = origins[index % origins.length]!;
      return (req, timeoutMs) => send(pool, origin, req, timeoutMs);
    },
    tick: () => undefined,
    close: async () => {
      await Promise.all(pools.map((p) => p.destroy()));
    },
  };
}

export async function runClosedLoop(spec: LoadSpec): Promise<LoadResult> {
  const senders = (spec.client ?? 'raw') === 'raw' ? rawSenders(spec.origins, spec.clients) : undiciSenders(spec.origins, spec.clients);
  const result: LoadResult = { samples: new SampleLog(), ok: 0, failures: {}, elapsedMs: 0 };
  const startMs = performance.now();
  const deadlineMs = startMs + spec.durationMs;
  const progress = setInterval(() => {
    const now = performance.now();
    senders.tick(now);
    spec.onProgress?.(now - startMs, result.ok);
  }, 250);
  let seq = 0;
  const timeoutMs = spec.requestTimeoutMs ?? 10_000;
  const client = async (index: number) => {
    const sendOne = senders.forClient(index);
    while (performance.now() < deadlineMs) {
      const mine = seq++;
      const sentMs = performance.now();
      const status = await sendOne(spec.request(mine), timeoutMs);
      const answeredMs = performance.now();
      if (spec.isOk(status)) {
        result.ok++;
        result.samples.add(answeredMs - startMs, answeredMs - sentMs);
        spec.onOk?.(mine);
      } else {
        const reason = status === 0 ? 'network' : String(status);
        result.failures[reason] = (result.failures[reason] ?? 0) + 1;
        if (status === 0) await new Promise((r) => setTimeout(r, NETWORK_FAILURE_PAUSE_MS));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.clients }, (_, i) => client(i)));
  } finally {
    clearInterval(progress);
    await senders.close();
  }
  result.elapsedMs = performance.now() - startMs;
  return result;
}

/** The response's status (0 for a network error or timeout); the body is discarded. */
function send(pool: Pool, origin: string, req: BenchRequest, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    let status = 0;
    try {
      pool.dispatch(
        { origin, path: req.path, method: req.method, headers: req.headers ?? {}, body: req.body ?? null, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
        // The classic handler interface, as src/transport/http-network.ts uses it.
        {
          onConnect: () => undefined,
          onHeaders: (statusCode) => ((status = statusCode), true),
          onData: () => true,
          onComplete: () => resolve(status),
          onError: () => resolve(0),
        },
      );
    } catch {
      resolve(0);
    }
  });
}
