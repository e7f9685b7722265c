// A closed-loop HTTP load generator: `clients` workers, each sending its next request when
// the last one is answered, through one undici Pool per node. Bare dispatch handlers (no
// response streams) keep it cheap, since it shares the cores with the cluster it measures.

import { Pool } from 'undici';
import { SampleLog } from './stats.ts';

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

export async function runClosedLoop(spec: LoadSpec): Promise<LoadResult> {
  const perOrigin = Math.ceil(spec.clients / spec.origins.length);
  const pools = spec.origins.map((origin) => new Pool(origin, { connections: perOrigin, pipelining: 1, keepAliveTimeout: 30_000 }));
  const result: LoadResult = { samples: new SampleLog(), ok: 0, failures: {}, elapsedMs: 0 };
  const startMs = performance.now();
  const deadlineMs = startMs + spec.durationMs;
  const progress = setInterval(() => spec.onProgress?.(performance.now() - startMs, result.ok), 250);
  let seq = 0;
  const client = async (index: number) => {
    const pool = pools[index % pools.length]!;
    const origin = spec.origins[index % spec.origins.length]!;
    while (performance.now() < deadlineMs) {
      const mine = seq++;
      const sentMs = performance.now();
      const status = await send(pool, origin, spec.request(mine), spec.requestTimeoutMs ?? 10_000);
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
    await Promise.all(pools.map((p) => p.destroy()));
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
