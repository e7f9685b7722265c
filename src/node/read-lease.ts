// The leader lease for linearizable reads. A ReadIndex round confirmed by a quorum proves we
// led when it was asked; the lease stretches that proof over a bounded time after it, so reads
// arriving within it take our commit index at once, with no round of their own.
//
// Why no other leader can be elected inside it: every voter that acknowledged the round's
// heartbeat took it after the round was asked, and from then on refuses every (pre-)vote until
// an election timeout of its own ticks has passed without a leader's message (the core's lease
// check, with checkQuorum; after a restart, leaseAtStart does the same). A candidate needs one
// of them, since any quorum shares a member with the one that confirmed the round. What shortens
// that time, and is taken off the lease:
// - the first tick after the heartbeat may fire at once;
// - ticks counted in the same turn as the heartbeat, after it, may have fired before it arrived
//   (at most ticksPerTurn of them);
// - clocks advance at rates that may differ by up to about 10% (LEASE_CLOCK_FACTOR).
// Our monotonic clock stops while the machine is suspended, and the followers' do not: the
// lease must also hold by the wall clock (a wall clock set back only leaves the monotonic
// bound; one set forward ends the lease early, which is safe).
// The core voids the lease in any term in which we started a leadership transfer (the
// transferee campaigns past every lease), and the node in any configuration other than the one
// the round was confirmed in.

import type { RoundAsked } from './read-index.ts';

/** The lease is this share of what the followers' ticks guarantee (tolerates clock rates ~11% apart). */
export const LEASE_CLOCK_FACTOR = 0.8;

/** How long a confirmed round vouches for our leadership after it was asked (ms by our clock); 0: no lease possible. */
export function leaseDurationMs(electionTicks: number, tickMs: number, ticksPerTurn: number): number {
  const ticks = electionTicks - 1 - ticksPerTurn;
  return ticks <= 0 ? 0 : Math.floor(ticks * tickMs * LEASE_CLOCK_FACTOR);
}

export class ReadLease {
  readonly durationMs: number;
  private until = 0;
  private untilWall = 0;
  private term = 0;
  private conf = -1;
  private renewing = false;

  constructor(durationMs: number) {
    this.durationMs = durationMs;
  }

  /** A round asked as `asked` says was confirmed, and we still lead in its term and configuration. */
  confirmed(asked: RoundAsked): void {
    const until = asked.at + this.durationMs;
    if (asked.term !== this.term || asked.conf !== this.conf || until > this.until) {
      this.until = until;
      this.untilWall = asked.wall + this.durationMs;
      this.term = asked.term;
      this.conf = asked.conf;
    }
  }

  /** The term the lease holds for at `now` (`wall` by the wall clock) under configuration `conf`, or 0 if it does not hold. */
  heldTerm(now: number, wall: number, conf: number): number {
    return now < this.until && wall < this.untilWall && conf === this.conf ? this.term : 0;
  }

  /** Whether to ask for a round now to extend the lease before it runs out (then one is counted as asked). */
  shouldRenew(now: number): boolean {
    if (this.renewing || now < this.until - this.durationMs / 2) return false;
    this.renewing = true;
    return true;
  }

  /** The renewing round was answered or failed. */
  renewed(): void {
    this.renewing = false;
  }

  drop(): void {
    this.until = 0;
    this.untilWall = 0;
  }
}
