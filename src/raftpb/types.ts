// The data the Raft core exchanges with the rest of the program: log entries,
// messages, persistent state, snapshots and the Ready batch. Plain data only.

/** A node id: a positive integer. 0 means "nobody" (no leader, no vote). */
export type NodeId = number;
export const NONE: NodeId = 0;

export const EntryType = {
  Normal: 0,
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One log entry. An entry of type Normal with empty data is a leader's no-op. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on disk before the node says anything that depends on it. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Cluster membership as the core sees it. Peer addresses are the application's business. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export const ConfChangeType = {
  /** Add a voter, or promote an existing learner to voter. */
  AddNode: 0,
  RemoveNode: 1,
  AddLearnerNode: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** A membership change. `context` is opaque to the core; the service puts the peer URL there. */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  context: Uint8Array;
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

/** Message types, numbered as in etcd's raftpb so traces read the same. */
export const MessageType = {
  MsgHup: 0, // local: start an election
  MsgBeat: 1, // local: leader sends heartbeats
  MsgProp: 2, // a proposal (local, or forwarded by a follower)
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgUnreachable: 10, // local: the transport could not reach a peer
  MsgSnapStatus: 11, // local: a snapshot send finished (reject = failed)
  MsgCheckQuorum: 12, // local
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  /** MsgApp: term of the entry at `index` (the one before `entries`). Votes: candidate's last log term. */
  logTerm: number;
  /** MsgApp: index preceding `entries`. AppResp: the index accepted or rejected. Votes: last log index. */
  index: number;
  entries: Entry[];
  commit: number;
  snapshot: Snapshot | null;
  reject: boolean;
  /** On a rejected MsgAppResp: a hint where the follower's log may match (fast backtracking). */
  rejectHint: number;
  /** Opaque bytes: the read-index request id, or the campaign kind on MsgVote after a transfer. */
  context: Uint8Array;
}

export const StateType = {
  Follower: 0,
  Candidate: 1,
  Leader: 2,
  PreCandidate: 3,
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

/** Volatile state that the application may want to show or react to. */
export interface SoftState {
  lead: NodeId;
  raftState: StateType;
}

/** A confirmed read: once the state machine has applied `index`, the read with `requestCtx` may be served. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/**
 * One batch of work handed out by the core. The application handles one Ready at a time, in
 * this order, and takes the next ready() only after advance():
 *  1. Persist `snapshot` (if any), `entries` and `hardState` (if any), with one fsync when
 *     `mustSync` is true.
 *  2. Send `messages`. The messages for which canSendBeforePersist(rd, m) is true (a leader's
 *     appends, heartbeats and snapshots, from a Ready that changes neither term nor vote) MAY
 *     be sent BEFORE step 1 completes, in parallel with the fsync; every other message (votes,
 *     every response, and anything at all from a Ready with `changesTermOrVote`) only AFTER.
 *  3. Apply `snapshot`, then `committedEntries`, to the state machine AFTER step 1 (entries
 *     already durable from an earlier Ready may be applied while it runs); serve `readStates`
 *     once their index is applied.
 *  4. Call advance(rd) only AFTER step 1 has completed: advance is how the core learns that
 *     `entries` are durable. A leader counts its own entries toward the commit index only then,
 *     so no commit index it sends or hands out covers an entry that is not on its disk.
 */
export interface Ready {
  softState: SoftState | null;
  hardState: HardState | null;
  readStates: ReadState[];
  entries: Entry[];
  snapshot: Snapshot | null;
  committedEntries: Entry[];
  messages: Message[];
  /** Persist with an fsync: new entries, a snapshot, a new term or vote, or a commit index that
   *  covers a ConfChange entry about to be applied. */
  mustSync: boolean;
  /** The term or vote differs from the previous Ready's (the one last persisted): nothing may
   *  be sent before this Ready is persisted. */
  changesTermOrVote: boolean;
}

/** The read-only view of the log the core relies on. The application owns all writes. */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if any, stopping before the total data size exceeds maxBytes. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i; valid for i in [firstIndex()-1, lastIndex()]. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** Errors the core raises, each with a stable code. */
export const RaftErrorCode = {
  /** Proposal dropped: no leader, leader transfer in progress, or too many uncommitted entries. */
  ProposalDropped: 'ERR_PROPOSAL_DROPPED',
  Compacted: 'ERR_COMPACTED',
  Unavailable: 'ERR_UNAVAILABLE',
  SnapOutOfDate: 'ERR_SNAP_OUT_OF_DATE',
  SnapshotTemporarilyUnavailable: 'ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE',
  StepLocalMsg: 'ERR_STEP_LOCAL_MSG',
  StepPeerNotFound: 'ERR_STEP_PEER_NOT_FOUND',
  /** A peer's message that cannot be used (malformed, or contradicting what this node knows):
   *  refused before it changed anything. The node should count it and drop it. */
  InvalidMessage: 'ERR_INVALID_MESSAGE',
} as const;
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  /**
   * A ProposalDropped because a bound of the leader is full (uncommitted bytes, pending reads):
   * the leader is there but busy, so the caller sheds load rather than reporting "no leader".
   */
  readonly overloaded: boolean;
  constructor(code: RaftErrorCode, message: string, overloaded = false) {
    super(message);
    this.name = 'RaftError';
    this.code = code;
    this.overloaded = overloaded;
  }
}

export function isRaftError(e: unknown, code?: RaftErrorCode): e is RaftError {
  return e instanceof RaftError && (code === undefined || e.code === code);
}
