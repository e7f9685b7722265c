// What the node reports as lifecycle events for the dashboard's timeline (/-/events): the
// same moments its log lines mark (elections, leaders, members, snapshots, peers down/up),
// as data. Implemented by src/ui/event-ring.ts, so the node layer knows nothing of HTTP.

export type NodeEvent =
  /** This node's role changed (`role`: leader, follower, candidate, pre-candidate) in `term`. */
  | { kind: 'role'; role: string; term: number }
  /** This node saw a new leader (`leader` 0: it lost the one it had). */
  | { kind: 'leader'; leader: number; term: number }
  /** A membership change applied here. */
  | { kind: 'member'; change: 'added-voter' | 'added-learner' | 'promoted' | 'removed'; member: number; index: number }
  /** A snapshot was taken here (`taken`) or installed from the leader (`installed`). */
  | { kind: 'snapshot'; how: 'taken' | 'installed'; index: number }
  /** The transport could not reach `peer` (down) or heard from it again (up). */
  | { kind: 'peer'; peer: number; up: boolean };

export interface NodeEvents {
  event(e: NodeEvent): void;
}

/** Reports nothing: the node's default (the simulator's too). */
export const noNodeEvents: NodeEvents = { event: () => undefined };
