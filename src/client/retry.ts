// etcd's quorum backoff over our HTTP API: try the endpoints round-robin, moving on at once
// after an answer that means "not served"; after a quorum's worth of attempts wait (jittered,
// doubling each round) before the next round; stop at the request's deadline. A result whose
// effect is unknown ends a write, unless the caller asked to retry it.

import { UnavailableError, UnknownOutcomeError, type Attempt } from './errors.ts';
import { quorumOf } from './endpoints.ts';
import type { AnsweredRequest, AttemptOutcome, ClientRequest, ClientTransport } from './transport.ts';

export interface RetryPolicy {
  /** The whole request, every attempt and wait included. */
  requestTimeoutMs: number;
  /** One attempt at most (also bounded by what is left of the request's time). */
  attemptTimeoutMs: number;
  /** The first round's wait; each later round doubles it, up to backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** Seams for tests: time, waiting and jitter; and hooks that see every attempt and wait. */
export interface RetryEnv {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** In [0, 1): the jitter. */
  random(): number;
  onAttempt?(attempt: Attempt): void;
  onBackoff?(wait: { round: number; delayMs: number; atMs: number }): void;
}

export interface RetriedRequest {
  request: ClientRequest;
  /** A read has no effect, so an unknown outcome is retried like a refusal. */
  effect: 'read' | 'write';
  /** Retry a write whose outcome became unknown (it may then be applied twice). */
  retryUnknown: boolean;
  signal?: AbortSignal;
}

/** A final answer, and the endpoint that gave it. */
export interface EndpointAnswer extends AnsweredRequest {
  endpoint: string;
}

type Verdict = 'final' | 'retry' | 'unknown';

/** 503: certainly not applied. 504, any other 5xx, or a lost answer: unknown. The rest is the answer. */
export function verdictOf(outcome: AttemptOutcome): Verdict {
  if (outcome.kind === 'not-sent') return 'retry';
  if (outcome.kind === 'unanswered') return 'unknown';
  if (outcome.status === 503) return 'retry';
  if (outcome.status >= 500 && outcome.status !== 507) return 'unknown';
  return 'final';
}

/** Round r's wait (r from 1): base·2^(r-1), capped, then jittered into [half, whole) so waits never bunch. */
export function backoffMs(policy: RetryPolicy, round: number, random: number): number {
  const full = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(round - 1, 30));
  return full / 2 + (full / 2) * random;
}

/** Runs one request over `endpoints` from `start`; resolves with the first final answer. */
export async function runWithRetry(
  transport: ClientTransport,
  endpoints: readonly string[],
  start: number,
  job: RetriedRequest,
  policy: RetryPolicy,
  env: RetryEnv,
): Promise<EndpointAnswer> {
  const begin = env.now();
  const deadline = begin + policy.requestTimeoutMs;
  const quorum = quorumOf(endpoints.length);
  const attempts: Attempt[] = [];
  let unknownAt: Attempt | null = null;
  for (let tried = 0; ; tried++) {
    const left = deadline - env.now();
    if (left <= 0) break;
    const endpoint = endpoints[(start + tried) % endpoints.length]!;
    const outcome = await transport.send(endpoint, job.request, Math.min(policy.attemptTimeoutMs, left), job.signal);
    const attempt: Attempt = { endpoint, result: resultOf(outcome), atMs: env.now() - begin };
    attempts.push(attempt);
    env.onAttempt?.(attempt);
    const verdict = verdictOf(outcome);
    if (verdict === 'final') return { ...(outcome as AnsweredRequest), endpoint };
    if (verdict === 'unknown' && job.effect === 'write') {
      if (!job.retryUnknown) throw new UnknownOutcomeError(endpoint, attempt.result, attempts);
      unknownAt = attempt;
    }
    if ((tried + 1) % quorum !== 0) continue;
    const round = (tried + 1) / quorum;
    const delayMs = backoffMs(policy, round, env.random());
    if (env.now() + delayMs >= deadline) break; // no time for another round
    env.onBackoff?.({ round, delayMs, atMs: env.now() - begin });
    await env.sleep(delayMs, job.signal);
  }
  // A write that may have been applied on the way stays unknown, whatever came after it.
  if (unknownAt !== null) throw new UnknownOutcomeError(unknownAt.endpoint, unknownAt.result, attempts);
  throw new UnavailableError(attempts, env.now() - begin);
}

function resultOf(outcome: AttemptOutcome): string {
  if (outcome.kind !== 'answered') return outcome.reason;
  const text = outcome.body.subarray(0, 200).toString('utf8').trim();
  return text === '' ? String(outcome.status) : `${outcome.status} ${text}`;
}

/** The real clock, timers and Math.random. */
export const realRetryEnv: RetryEnv = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  random: Math.random,
};
