// What the node tells the layers above it about itself: for /-/status, /-/members,
// /-/health and /-/ready, and the control requests (promotion, leader transfer) that
// httpapi.ts serves.

export interface NodeStatus {
  id: number;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  raftState: string;
  /** Index of the newest snapshot on this node's disk (0: none). */
  snapshotIndex: number;
  /** Bytes of the WAL directory and of the snapshot directory on disk. */
  walBytes: number;
  snapshotBytes: number;
  members: MemberWithRole[];
  /** The last log index on this node's disk. */
  lastIndex: number;
  /** The terms of the last few entries on disk, for the dashboard's log view (see RecentLogTerms). */
  recentLogTerms: RecentLogTerms;
  /** This node's link to each peer. */
  links: PeerLink[];
  /** Only on the leader: each follower's replication progress, by id. */
  progress?: FollowerProgress[];
}

/** `terms[i]` is the term of entry `firstIndex + i`; at most limits.statusLogTermsMax of them, ending at lastIndex. */
export interface RecentLogTerms {
  firstIndex: number;
  terms: number[];
}

/** One peer as this node's transport sees it (counts since this process started). */
export interface PeerLink {
  peer: number;
  /** Raft messages in POSTs the peer answered 2xx. */
  messagesSent: number;
  /** Raft messages in POSTs that failed or were refused. */
  messagesFailed: number;
  /** The transport could not reach it, and nothing has arrived from it since. */
  unreachable: boolean;
  /** Milliseconds since a message from it last arrived (null: never, in this process). */
  msSinceHeard: number | null;
}

export interface FollowerProgress {
  id: number;
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  /** Milliseconds since a message from it last arrived (null: never, in this process). */
  msSinceHeard: number | null;
}

export interface Member {
  id: number;
  peerURL: string;
  /** Where the member serves clients, once it has published it through Raft (absent until then). */
  clientURL?: string;
}

export type MemberRole = 'voter' | 'learner';

export interface MemberWithRole extends Member {
  role: MemberRole;
}

/** Read-only views of the node, and its control requests, for the /-/ paths. */
export interface NodeInfo {
  status(): Promise<NodeStatus>;
  members(): MemberWithRole[];
  /**
   * null when healthy, else why not. Waits briefly (bounded) for the applied index to reach
   * the commit index known when asked, so a moment of apply lag under load is not reported.
   */
  unhealthyReason(): Promise<string | null>;
  /** Why the node is not ready to serve (stopping, not started), or null. */
  notReadyReason(): string | null;
  /**
   * Move leadership to voter `to`; resolves with the new leader once it has moved. Rejects
   * with a ServiceError: unknown target (400), a learner (409), no leader (503), not in time (504).
   */
  transferLeader(to: number): Promise<number>;
}
