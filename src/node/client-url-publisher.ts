// Publishes this member's client URL through Raft, as etcd's server publishes its attributes
// after it joins: once the node is ready (a ReadIndex round proves a leader, and the log is
// applied up to that round's index), it proposes a client URL record, unless the applied
// member table already holds this very URL. Failures (no leader, a dropped proposal, a record
// that does not apply in time) are logged and retried, one attempt at a time, with a doubling
// delay up to a bound, until the record applies or the node stops.

import type { Logger } from '../logger.ts';
import type { Clock, TimerHandle, Timers } from '../world.ts';
import { encodeClientUrlRecord } from './client-url-record.ts';

export interface ClientUrlPublisherOptions {
  memberId: number;
  clientUrl: string;
  /** One ReadIndex round: resolves with the commit index a linearizable read waits for. */
  readIndex: () => Promise<number>;
  /** The index the node's member table is applied up to. */
  applied: () => number;
  /** The client URL the applied member table holds for this member, if any. */
  published: () => string | undefined;
  /** Hand entry data to the core; `failed` is called if it certainly will not commit. */
  propose: (data: Uint8Array, failed: (e: Error) => void) => void;
  clock: Clock;
  timers: Timers;
  log: Logger;
  /** How long one attempt waits for the log to apply, and then for its record to apply. */
  attemptTimeoutMs: number;
  /** The delay before the first retry; it doubles up to retryDelayMsMax. */
  retryDelayMsMin: number;
  retryDelayMsMax: number;
  /** How often a waiting attempt looks at the applied index again. */
  pollIntervalMs: number;
}

export type PublishOutcome = 'published' | 'alreadyPublished' | 'stopped';

export class ClientUrlPublisher {
  private readonly opts: ClientUrlPublisherOptions;
  private stopped = false;
  /** The pending pause, so stop() can end it at once (no timer outlives the node). */
  private pause: { timer: TimerHandle; wake: () => void } | null = null;
  /** Proposals made so far (for tests and the log). */
  proposals = 0;

  constructor(opts: ClientUrlPublisherOptions) {
    this.opts = opts;
  }

  /** Attempt until the record is applied or stop() is called; never rejects. */
  async run(): Promise<PublishOutcome> {
    const { clientUrl } = this.opts;
    let delayMs = this.opts.retryDelayMsMin;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const outcome = await this.attempt();
        if (this.stopped) break;
        const msg = outcome === 'alreadyPublished' ? 'client URL already published' : 'client URL published';
        this.opts.log.info({ clientUrl, attempts: attempt, proposals: this.proposals }, msg);
        return outcome;
      } catch (e) {
        if (this.stopped) break;
        this.opts.log.warn({ clientUrl, attempt, err: (e as Error).message, retryInMs: delayMs }, 'publishing client URL failed, will retry');
        await this.sleep(delayMs);
        delayMs = Math.min(2 * delayMs, this.opts.retryDelayMsMax);
      }
    }
    return 'stopped';
  }

  stop(): void {
    this.stopped = true;
    const pause = this.pause;
    if (pause === null) return;
    this.pause = null;
    this.opts.timers.clear(pause.timer);
    pause.wake();
  }

  /** One try: ready (leader known, log applied), then propose unless already so; throws if not done in time. */
  private async attempt(): Promise<Exclude<PublishOutcome, 'stopped'>> {
    const { opts } = this;
    const index = await opts.readIndex();
    await this.waitFor(() => opts.applied() >= index, `the log to apply up to index ${index}`);
    if (opts.published() === opts.clientUrl) return 'alreadyPublished';
    const proposal: { failure: Error | null } = { failure: null };
    this.proposals++;
    opts.propose(encodeClientUrlRecord({ memberId: opts.memberId, clientUrl: opts.clientUrl }), (e) => (proposal.failure = e));
    await this.waitFor(() => proposal.failure !== null || opts.published() === opts.clientUrl, 'the client URL record to apply');
    if (opts.published() === opts.clientUrl) return 'published';
    throw proposal.failure ?? new Error('client URL record not applied');
  }

  /** Poll until `done`; throws when the attempt's time is up (or the publisher stopped). */
  private async waitFor(done: () => boolean, what: string): Promise<void> {
    const deadline = this.opts.clock.now() + this.opts.attemptTimeoutMs;
    while (!done()) {
      if (this.stopped) throw new Error('stopped');
      if (this.opts.clock.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
      await this.sleep(this.opts.pollIntervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.pause = null;
        resolve();
      };
      this.pause = { timer: this.opts.timers.after(wake, ms), wake };
    });
  }
}
