// The world a node lives in, as the few things it asks of it: the time, timers and
// randomness. The service passes the real ones (below); the simulator passes its own, so
// the node it checks is the node users run (with the file system, src/storage/fs.ts, and
// the peer network, src/transport/network.ts, the other two seams).

import { randomInt } from 'node:crypto';

/** Milliseconds, never going backwards within one process. */
export interface Clock {
  now(): number;
  /**
   * The wall clock (Date.now()), where there is one: it may jump either way, but unlike
   * now() it moves on while the machine is suspended (a VM paused, a laptop asleep), which
   * the read lease must notice.
   */
  wallNow?(): number;
}

/** An opaque handle for a timer, to cancel it. */
export type TimerHandle = { readonly timer: unknown };

export interface Timers {
  /** Run fn once, ms from now (setTimeout). */
  after(fn: () => void, ms: number): TimerHandle;
  /** Run fn every ms (setInterval). */
  every(fn: () => void, ms: number): TimerHandle;
  /** Cancel a timeout or an interval; cancelling one twice, or one that fired, is harmless. */
  clear(handle: TimerHandle): void;
}

export interface Random {
  /** A uniformly random integer in [0, maxExclusive), maxExclusive at most 2^48. */
  int(maxExclusive: number): number;
}

/** `performance.now()`-based: monotonic, unlike Date.now(), which jumps with the wall clock. */
export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

export const realTimers: Timers = {
  after: (fn, ms) => ({ timer: setTimeout(fn, ms) }),
  every: (fn, ms) => ({ timer: setInterval(fn, ms) }),
  clear: (h) => clearTimeout(h.timer as NodeJS.Timeout),
};

export const realRandom: Random = {
  int: (maxExclusive) => randomInt(maxExclusive),
};

/** Resolves after `ms` on the given timers. */
export function sleep(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => timers.after(resolve, ms));
}
