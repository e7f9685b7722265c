// What travels on the three queues between the layers (chan.ts): proposeC (kvstore → node),
// confChangeC (httpapi → node) and commitC (node → kvstore). The payloads live here, beside
// the queue, so no layer imports a layer above it to name them.

import type { ConfChangeType } from './raftpb/index.ts';

/**
 * Where a write is on its way to Raft. Queued: waiting in proposeC or the node's inbox, so
 * it can still be withdrawn and certainly not applied (503). Proposed: handed to the core,
 * so it may commit whatever happens next (504 if we give up on it). Withdrawn: its client
 * gave up while it was queued; the node skips it.
 */
export const ProposalState = { Queued: 0, Proposed: 1, Withdrawn: 2 } as const;
export type ProposalState = (typeof ProposalState)[keyof typeof ProposalState];

/**
 * The first byte of a normal entry's data says what it is: a kvstore PUT, or a member's client
 * URL record (node/client-url-record.ts), which the node applies itself and never hands to the
 * kvstore. Empty entries (a new leader's) have no kind. A kind is never reused for another meaning.
 */
export const EntryKind = { Put: 1, ClientUrl: 2 } as const;

/** A write on its way to Raft (proposeC); `fail` is called if the core drops it. */
export interface Proposal {
  data: Uint8Array;
  state: ProposalState;
  fail(e: Error): void;
}

/** Committed work for the state machine, in log order (commitC). */
export interface Commit {
  /** State to load first (from a snapshot), or null. */
  snapshot: Uint8Array | null;
  /** Data of the committed normal entries with a payload. */
  entries: Uint8Array[];
  /** Log index this commit brings the state machine to. */
  index: number;
  /** Called once applied (the node uses it before taking a snapshot). */
  done: (() => void) | null;
}

/**
 * What a membership change means. The core's types do not say it: an AddNode makes a new
 * voter or promotes a learner, and the apply-time refusal must know which was asked for.
 */
export type MemberChangeKind = 'addVoter' | 'addLearner' | 'promote' | 'remove';

/** A membership change as the service asks for it (the URL is '' for a removal or a promotion). */
export interface MemberChange {
  kind: MemberChangeKind;
  type: ConfChangeType;
  nodeId: number;
  peerUrl: string;
}

/** A membership change on its way to the node (confChangeC): settled once applied (or refused, failed, or timed out). */
export interface ConfChangeRequest {
  change: MemberChange;
  resolve: () => void;
  reject: (e: Error) => void;
}
