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
  /** Only on the leader: each follower's replication progress, by id. */
  progress?: FollowerProgress[];
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
