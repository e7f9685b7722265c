// What the node tells the layers above it about itself: for /-/status, /-/members and
// /-/health (httpapi.ts serves them).

export interface NodeStatus {
  id: number;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  raftState: string;
}

export interface Member {
  id: number;
  peerURL: string;
}

/** Read-only views of the node, for the /-/ paths. */
export interface NodeInfo {
  status(): NodeStatus;
  members(): Member[];
  /** null when healthy, else why not. */
  unhealthyReason(): string | null;
}
