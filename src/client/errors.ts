// The client library's errors: what a caller must tell apart. A refusal the service gave
// (ClientError), no endpoint serving at all (UnavailableError), and a request whose effect is
// not known (UnknownOutcomeError), which is never reported as a failure.

import { ErrorTable } from '../errors.ts';

/** One try of a request at one endpoint, as the retry loop saw it. */
export interface Attempt {
  endpoint: string;
  /** What came back: `503 no leader; not applied`, `connect ECONNREFUSED ...`, `timed out after sending`. */
  result: string;
  /** Milliseconds since the request started. */
  atMs: number;
}

/** The service refused the request (4xx, or 507): retrying elsewhere cannot change the answer. */
export class ClientError extends Error {
  readonly status: number;
  /** The code of the service's error table (src/errors.ts), or ERR_UNRECOGNISED for a body not in it. */
  readonly code: string;
  readonly endpoint: string;

  constructor(status: number, body: string, endpoint: string) {
    const text = body.trim();
    super(text === '' ? `HTTP ${status}` : text);
    this.name = 'ClientError';
    this.status = status;
    this.code = errorCodeOf(status, text);
    this.endpoint = endpoint;
  }
}

/** No endpoint served the request within its time (every attempt was refused, not sent, or 503). */
export class UnavailableError extends Error {
  readonly attempts: Attempt[];

  constructor(attempts: Attempt[], elapsedMs: number) {
    const last = lastPerEndpoint(attempts).map((a) => `${a.endpoint}: ${a.result}`).join('; ');
    super(`no endpoint served the request (${attempts.length} attempts in ${Math.round(elapsedMs)} ms): ${last}`);
    this.name = 'UnavailableError';
    this.attempts = attempts;
  }
}

/**
 * The request was sent but its outcome is unknown: a 504, or a timeout or a broken connection
 * after the request left. A write may still be applied; read it back to know.
 */
export class UnknownOutcomeError extends Error {
  readonly endpoint: string;
  readonly attempts: Attempt[];

  constructor(endpoint: string, result: string, attempts: Attempt[]) {
    super(`outcome unknown (it may still be applied): ${endpoint}: ${result}`);
    this.name = 'UnknownOutcomeError';
    this.endpoint = endpoint;
    this.attempts = attempts;
  }
}

/** The table code whose message starts the body (the longest such, as the body may add detail). */
export function errorCodeOf(status: number, body: string): string {
  let best: { code: string; length: number } | null = null;
  for (const [code, entry] of Object.entries(ErrorTable)) {
    if (entry.status !== status || !body.startsWith(entry.message)) continue;
    if (best === null || entry.message.length > best.length) best = { code, length: entry.message.length };
  }
  return best?.code ?? 'ERR_UNRECOGNISED';
}

function lastPerEndpoint(attempts: Attempt[]): Attempt[] {
  const byEndpoint = new Map<string, Attempt>();
  for (const a of attempts) byEndpoint.set(a.endpoint, a);
  return [...byEndpoint.values()];
}
