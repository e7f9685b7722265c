// Configuration of one Raft node, with defaults and validation.

import type { RaftLogger } from './logger.ts';
import type { NodeId, Storage } from '../raftpb/types.ts';

/** Test-only switches that plant known safety bugs, so the simulator can prove it catches them. */
export interface PlantedBugs {
  /** Leader commits an entry of an earlier term by counting replicas (violates the Figure 8 rule). */
  commitOldTermByCount?: boolean;
  /** A node may grant a second, different vote in the same term. */
  grantTwoVotesPerTerm?: boolean;
  /** readIndex answered at once from the local commit index, with no leadership check (also on followers). */
  readWithoutReadIndex?: boolean;
}

export interface RaftConfig {
  id: NodeId;
  /** The election timeout is randomized in [electionTicks, 2*electionTicks). */
  electionTicks: number;
  heartbeatTicks: number;
  /** Read-only view of the persisted log; MemoryStorage in practice. */
  storage: Storage;
  /**
   * Last applied index when restarting. Committed entries after it are handed out again; the
   * storage's confState must then reflect every conf change up to `applied`.
   */
  applied?: number;
  /** Entry data bytes per MsgApp (default 1 MiB). */
  maxSizePerMsg?: number;
  /** Unacknowledged MsgApp per follower (default 256). */
  maxInflightMsgs?: number;
  /** Uncommitted entry bytes a leader accepts before dropping proposals (default 64 MiB). */
  maxUncommittedEntriesSize?: number;
  /** Linearizable reads a leader holds at once (waiting for a round or its own-term commit); default 4096. */
  maxPendingReads?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /**
   * Refuse (pre-)votes for an election timeout after start, as if a leader had just been heard
   * (needs checkQuorum). A member may have acknowledged a leader's heartbeat just before it
   * crashed; for leader lease reads it must not help elect another leader sooner after a
   * restart than it would have without one. Default false.
   */
  leaseAtStart?: boolean;
  /** An integer in [0, n), seeded by the caller. */
  random: (n: number) => number;
  logger?: RaftLogger;
  plantedBugs?: PlantedBugs;
}

export const DEFAULT_MAX_SIZE_PER_MSG = 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_MSGS = 256;
export const DEFAULT_MAX_UNCOMMITTED_ENTRIES_SIZE = 64 * 1024 * 1024;
export const DEFAULT_MAX_PENDING_READS = 4096;

function positiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`raft config: ${name} must be a positive integer, got ${value}`);
  }
}

/** Throws an Error naming the first bad field. */
export function validateConfig(c: RaftConfig): void {
  positiveInteger(c.id, 'id');
  positiveInteger(c.heartbeatTicks, 'heartbeatTicks');
  positiveInteger(c.electionTicks, 'electionTicks');
  if (c.electionTicks <= c.heartbeatTicks) {
    throw new Error(
      `raft config: electionTicks (${c.electionTicks}) must be greater than heartbeatTicks (${c.heartbeatTicks})`,
    );
  }
  if (c.storage === undefined || c.storage === null) throw new Error('raft config: storage is required');
  if (typeof c.random !== 'function') throw new Error('raft config: random is required');
  if (c.applied !== undefined && (!Number.isSafeInteger(c.applied) || c.applied < 0)) {
    throw new Error(`raft config: applied must be a non-negative integer, got ${c.applied}`);
  }
  if (c.maxSizePerMsg !== undefined) positiveInteger(c.maxSizePerMsg, 'maxSizePerMsg');
  if (c.maxInflightMsgs !== undefined) positiveInteger(c.maxInflightMsgs, 'maxInflightMsgs');
  if (c.maxPendingReads !== undefined) positiveInteger(c.maxPendingReads, 'maxPendingReads');
  if (c.maxUncommittedEntriesSize !== undefined) {
    positiveInteger(c.maxUncommittedEntriesSize, 'maxUncommittedEntriesSize');
  }
}
