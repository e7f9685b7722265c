// A scripted network and clock for the client's unit tests: each endpoint answers from its
// own script (the last entry repeats), every attempt costs 1 ms of fake time, sleeping
// advances the clock, and the log records attempts and waits in order.

import type { AttemptOutcome, ClientRequest, ClientTransport } from '../../src/client/transport.ts';
import type { RetryEnv } from '../../src/client/retry.ts';

export type Script = Record<string, AttemptOutcome[]>;

export const refused: AttemptOutcome = { kind: 'not-sent', reason: 'connect ECONNREFUSED' };
export const lost: AttemptOutcome = { kind: 'unanswered', reason: 'other side closed after sending' };

export function answer(status: number, body = ''): AttemptOutcome {
  return { kind: 'answered', status, headers: {}, body: Buffer.from(body) };
}

export type LogEntry = { attempt: string; path: string } | { backoffMs: number; round: number };

export class FakeNetwork implements ClientTransport {
  nowMs = 0;
  readonly log: LogEntry[] = [];
  readonly retained: string[][] = [];
  private readonly script: Script;

  constructor(script: Script) {
    this.script = script;
  }

  async send(endpoint: string, request: ClientRequest, _timeoutMs: number, signal?: AbortSignal): Promise<AttemptOutcome> {
    if (signal?.aborted) throw signal.reason;
    this.nowMs += 1;
    this.log.push({ attempt: endpoint, path: request.path });
    const answers = this.script[endpoint] ?? [refused];
    return answers.length > 1 ? answers.shift()! : answers[0]!;
  }

  retain(endpoints: readonly string[]): void {
    this.retained.push([...endpoints]);
  }

  async close(): Promise<void> {}

  /** The retry seams on this fake clock; jitter fixed at `random`. */
  env(random = 0.5): RetryEnv {
    return {
      now: () => this.nowMs,
      sleep: async (ms, signal) => {
        if (signal?.aborted) throw signal.reason;
        this.nowMs += ms;
      },
      random: () => random,
      onBackoff: ({ round, delayMs }) => this.log.push({ backoffMs: delayMs, round }),
    };
  }

  attempts(): string[] {
    return this.log.flatMap((e) => ('attempt' in e ? [e.attempt] : []));
  }

  /** The log as a string: `a b | a b |` (an endpoint's last letter per attempt, `|` per wait). */
  shape(): string {
    return this.log.map((e) => ('attempt' in e ? e.attempt.slice(-1) : '|')).join(' ');
  }
}
