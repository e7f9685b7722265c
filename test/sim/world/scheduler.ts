// Virtual time for one simulated run: one queue of events ordered by (time, sequence), run
// one at a time, each followed by a full drain of the microtask queue, so the promise
// chains of the nodes under test interleave the same way for the same seed, bit for bit.
// Per node: a clock (rate and offset, for skew and drift), timers, and seeded randomness,
// implementing the seams of src/world.ts. Nothing here reads the real clock.

import type { Clock, Random, TimerHandle, Timers } from '../../../src/world.ts';
import { EventQueue } from '../event_queue.ts';
import type { Prng } from '../prng.ts';

/** A scheduled event; cancel() before it runs and it never does. */
export interface ScheduledEvent {
  readonly timeMs: number;
  cancelled: boolean;
  readonly run: () => void;
}

/** Why runUntil returned. */
export type RunOutcome = 'condition' | 'time' | 'idle' | 'eventsMax';

export interface RunLimits {
  /** Stop with 'eventsMax' after this many events (a guard against runaway runs). Default 10 million. */
  eventsMax?: number;
}

/** Resolves once every microtask queued so far, and every one those queue, has run. */
const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Scheduler {
  private readonly queue = new EventQueue<ScheduledEvent>();
  private nowMs = 0;
  private eventsRun = 0;
  private running = false;

  /** Virtual milliseconds since the start of the run. */
  get now(): number {
    return this.nowMs;
  }

  /** Events run so far. */
  get events(): number {
    return this.eventsRun;
  }

  /** Events still queued (cancelled ones included until they are reached). */
  get pending(): number {
    return this.queue.size;
  }

  /** Run `run` at virtual time `timeMs` (not before now: a time in the past means now). */
  at(timeMs: number, run: () => void): ScheduledEvent {
    if (!Number.isFinite(timeMs)) throw new Error(`scheduler: time ${timeMs}`);
    const event: ScheduledEvent = { timeMs: Math.max(timeMs, this.nowMs), cancelled: false, run };
    this.queue.push(event.timeMs, event);
    return event;
  }

  after(delayMs: number, run: () => void): ScheduledEvent {
    return this.at(this.nowMs + Math.max(0, delayMs), run);
  }

  /** A promise that resolves `delayMs` of virtual time from now. */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.after(delayMs, resolve));
  }

  /**
   * Run events in order until `stop` holds (checked before the first event and after each
   * one, microtasks drained), virtual time would pass `stop` (a number: time advances to
   * it), or nothing is left to run.
   */
  async runUntil(stop: number | (() => boolean), limits: RunLimits = {}): Promise<RunOutcome> {
    if (this.running) throw new Error('scheduler: runUntil is not reentrant');
    this.running = true;
    try {
      return await this.runLoop(stop, limits.eventsMax ?? 10_000_000);
    } finally {
      this.running = false;
    }
  }

  /** Run events until `work` settles; its value, or its error. Throws if nothing is left to run first. */
  async complete<T>(work: Promise<T>, limits: RunLimits = {}): Promise<T> {
    let settled = false;
    const done = work.then(
      (value) => ((settled = true), value),
      (e: unknown) => {
        settled = true;
        throw e;
      },
    );
    done.catch(() => {}); // observed below
    const outcome = await this.runUntil(() => settled, limits);
    if (outcome !== 'condition') throw new Error(`scheduler: the work did not settle (${outcome} at ${this.nowMs} ms)`);
    return done;
  }

  private async runLoop(stop: number | (() => boolean), eventsMax: number): Promise<RunOutcome> {
    const untilMs = typeof stop === 'number' ? stop : Infinity;
    const condition = typeof stop === 'function' ? stop : null;
    await drainMicrotasks();
    for (let ran = 0; ; ran++) {
      if (condition?.()) return 'condition';
      if (ran >= eventsMax) return 'eventsMax';
      const next = this.queue.peekTime();
      if (next > untilMs) {
        this.nowMs = Math.max(this.nowMs, untilMs);
        return 'time';
      }
      if (next === Infinity) return 'idle';
      const event = this.queue.pop()!.value;
      if (event.cancelled) continue;
      this.nowMs = event.timeMs;
      this.eventsRun++;
      event.run();
      await drainMicrotasks();
    }
  }
}

/**
 * A node's clock: virtual time × rate + offset, so nodes can be skewed (offset) and drift
 * (rate ≠ 1). Changing the rate keeps the reading continuous; it never goes backwards.
 */
export class SimClock implements Clock {
  private anchorVirtualMs: number;
  private anchorLocalMs: number;

  constructor(
    private readonly scheduler: Scheduler,
    private rate = 1,
    offsetMs = 0,
  ) {
    if (!(rate > 0)) throw new Error(`clock rate ${rate}`);
    this.anchorVirtualMs = scheduler.now;
    this.anchorLocalMs = scheduler.now * rate + offsetMs;
  }

  now(): number {
    return this.anchorLocalMs + (this.scheduler.now - this.anchorVirtualMs) * this.rate;
  }

  get currentRate(): number {
    return this.rate;
  }

  /** From now on the clock runs at `rate` (1.01: 1 % fast). */
  setRate(rate: number): void {
    if (!(rate > 0)) throw new Error(`clock rate ${rate}`);
    this.anchorLocalMs = this.now();
    this.anchorVirtualMs = this.scheduler.now;
    this.rate = rate;
  }

  /** Jump forward (a monotonic clock never jumps back), as after a process pause. */
  jumpForward(ms: number): void {
    if (!(ms >= 0)) throw new Error(`clock jump ${ms}`);
    this.anchorLocalMs += ms;
  }

  /** Virtual milliseconds until this clock has advanced by `localMs`. */
  virtualDelay(localMs: number): number {
    return localMs / this.rate;
  }
}

interface SimTimer {
  event: ScheduledEvent | null;
  readonly intervalMs: number | null;
  readonly fn: () => void;
}

/**
 * A node's timers on the scheduler, measured on its clock. kill() cancels every timer and
 * ignores later ones: a crashed process runs nothing.
 */
export class SimTimers implements Timers {
  private readonly live = new Set<SimTimer>();
  private dead = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly clock: SimClock,
  ) {}

  after(fn: () => void, ms: number): TimerHandle {
    return this.start({ event: null, intervalMs: null, fn }, ms);
  }

  every(fn: () => void, ms: number): TimerHandle {
    return this.start({ event: null, intervalMs: Math.max(1, ms), fn }, ms);
  }

  clear(handle: TimerHandle): void {
    const timer = handle.timer as SimTimer;
    if (timer.event) timer.event.cancelled = true;
    this.live.delete(timer);
  }

  /** Timers waiting to fire. */
  get count(): number {
    return this.live.size;
  }

  kill(): void {
    this.dead = true;
    for (const timer of this.live) if (timer.event) timer.event.cancelled = true;
    this.live.clear();
  }

  private start(timer: SimTimer, ms: number): TimerHandle {
    if (!this.dead) {
      this.live.add(timer);
      this.arm(timer, ms);
    }
    return { timer };
  }

  /** As Node does, a delay below 1 ms (or not a number) is 1 ms. */
  private arm(timer: SimTimer, ms: number): void {
    const localMs = Number.isFinite(ms) && ms >= 1 ? ms : 1;
    timer.event = this.scheduler.after(this.clock.virtualDelay(localMs), () => this.fire(timer));
  }

  private fire(timer: SimTimer): void {
    if (!this.live.has(timer)) return;
    if (timer.intervalMs === null) this.live.delete(timer);
    else this.arm(timer, timer.intervalMs);
    timer.fn();
  }
}

/** Seeded randomness (src/world.ts Random) on the simulator's PRNG. */
export class SimRandom implements Random {
  constructor(private readonly prng: Prng) {}

  int(maxExclusive: number): number {
    if (!Number.isSafeInteger(maxExclusive) || maxExclusive <= 0 || maxExclusive > 2 ** 48) throw new Error(`random int(${maxExclusive})`);
    if (maxExclusive <= 2 ** 32) return this.prng.int(maxExclusive);
    const bits48 = this.prng.u32() * 0x10000 + (this.prng.u32() >>> 16);
    return Math.floor((bits48 / 2 ** 48) * maxExclusive);
  }
}
