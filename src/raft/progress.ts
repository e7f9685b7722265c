// What a leader knows about one follower's log, and how fast it may send to it.
//   probe:     next is a guess; send one MsgApp per heartbeat round until one is accepted.
//   replicate: the follower keeps up; stream MsgApp optimistically, up to the inflight window.
//   snapshot:  a snapshot is on its way; send nothing until it lands or fails.

import type { NodeId } from '../raftpb/types.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded window of MsgApp sent and not yet acknowledged: the last index each one carried. */
export class Inflights {
  private readonly indexes: number[];
  private start = 0;
  count = 0;

  constructor(readonly capacity: number) {
    this.indexes = new Array<number>(capacity).fill(0);
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  add(lastIndex: number): void {
    if (this.full()) throw new Error('inflights: window is full');
    this.indexes[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Acknowledges every message whose last index is <= to. */
  freeLE(to: number): void {
    while (this.count > 0 && this.indexes[this.start]! <= to) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export class Progress {
  /** Highest index known to be in the follower's log. */
  match: number;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Highest commit index sent to the follower (in MsgApp or heartbeat). */
  sentCommit = 0;
  /** Highest commit index the follower has told us it knows (in its responses). */
  knownCommit = 0;
  /** Stop sending MsgApp: a probe is outstanding, or the inflight window is full. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(match: number, next: number, maxInflight: number, isLearner: boolean) {
    this.match = match;
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, the follower has at least the snapshot: probe from just past it.
    const from = this.state === 'snapshot' ? Math.max(this.match, this.pendingSnapshot) : this.match;
    this.resetState('probe');
    this.next = from + 1;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records a MsgApp carrying `entries` entries, the last of them at next + entries - 1. */
  sentEntries(entries: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        this.next += entries;
        this.inflights.add(this.next - 1);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      if (entries > 0) this.msgAppFlowPaused = true;
    }
  }

  /** The follower accepted up to n. Returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * The follower rejected a MsgApp whose previous index was `rejected`; `matchHint` is where its
   * log may match. Returns false for a stale rejection (one we already moved past).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Would a MsgApp now tell the follower a commit index it has not been sent yet? */
  canBumpCommit(committed: number): boolean {
    return this.state !== 'snapshot' && committed > this.sentCommit && this.sentCommit < this.next - 1;
  }

  isPaused(): boolean {
    return this.state === 'snapshot' || this.msgAppFlowPaused;
  }
}

/** Majority of `n` voters. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Voters, learners and their progress; only single-step membership changes (no joint consensus). */
export class ProgressTracker {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  constructor(readonly maxInflight: number) {}

  /** Every member, voters and learners, in id order (so traces are stable). */
  ids(): NodeId[] {
    return [...this.progress.keys()].sort((a, b) => a - b);
  }

  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  /** The highest index a quorum of voters has: the commit candidate. */
  committed(): number {
    if (this.voters.size === 0) return 0;
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    return matches[quorumSize(matches.length) - 1]!;
  }

  /** Has a quorum of voters been recently active? The leader itself always counts. */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive === true) active++;
    }
    return active >= quorumSize(this.voters.size);
  }

  /** Does a quorum of voters lie within `acks`? */
  hasQuorum(acks: ReadonlySet<NodeId>): boolean {
    let n = 0;
    for (const id of this.voters) if (acks.has(id)) n++;
    return n >= quorumSize(this.voters.size);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** The first answer from a voter counts; a later one is ignored. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = quorumSize(this.voters.size);
    let result: VoteResult = 'pending';
    if (granted >= q) result = 'won';
    else if (this.voters.size - rejected < q) result = 'lost';
    return { granted, rejected, result };
  }

  confState(): { voters: NodeId[]; learners: NodeId[] } {
    return {
      voters: [...this.voters].sort((a, b) => a - b),
      learners: [...this.learners].sort((a, b) => a - b),
    };
  }
}
