// The dashboard's timeline: this node's own lifecycle events (NodeEvents, from the Ready
// loop) merged with what the cluster watch observes by polling the other members (a role or
// term change, a member that stops or starts answering). A bounded ring: the oldest go first.

import type { NodeEvent, NodeEvents } from '../node/events.ts';

/** What the node serving the page saw another member do, from its /-/status answers. */
export type ObservedEvent =
  | { kind: 'observed-role'; member: number; role: string; term: number }
  | { kind: 'reachability'; member: number; up: boolean };

/** One timeline entry: `seq` orders them (and is the SSE id), `atMs` is wall-clock time. */
export type TimelineEvent = (NodeEvent | ObservedEvent) & { seq: number; atMs: number; source: number };

export type TimelineListener = (e: TimelineEvent) => void;

export class EventRing implements NodeEvents {
  private readonly kept: TimelineEvent[] = [];
  private readonly listeners = new Set<TimelineListener>();
  private nextSeq = 1;

  constructor(
    /** The id of the node that keeps this ring (the `source` of its events). */
    private readonly selfId: number,
    private readonly capacity: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** NodeEvents: the node's own event. */
  event(e: NodeEvent): void {
    this.push(e);
  }

  /** An event seen by polling. */
  observed(e: ObservedEvent): void {
    this.push(e);
  }

  /** The events kept with a seq above `afterSeq`, oldest first. */
  since(afterSeq: number): TimelineEvent[] {
    return this.kept.filter((e) => e.seq > afterSeq);
  }

  /** Calls `listener` with every event from now on; returns the function that stops it. */
  subscribe(listener: TimelineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private push(e: NodeEvent | ObservedEvent): void {
    const entry: TimelineEvent = { ...e, seq: this.nextSeq++, atMs: this.nowMs(), source: this.selfId };
    this.kept.push(entry);
    if (this.kept.length > this.capacity) this.kept.splice(0, this.kept.length - this.capacity);
    // A listener's failure (a stream that broke) must not reach the Ready loop that called us.
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch {
        this.listeners.delete(listener);
      }
    }
  }
}
