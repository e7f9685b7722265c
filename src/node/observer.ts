// For the simulator only: what the node reports as it works, so the checker can hold it to
// Raft's safety properties, and the planted bugs that prove the checker would notice. The
// service passes neither; then the node pays nothing for them.

import type { PlantedBugs } from '../raft/index.ts';
import type { ConfState, Entry, HardState, Message, Ready, Snapshot } from '../raftpb/index.ts';

export interface NodeObserver {
  /** The node came back from its disk: the snapshot it restarted from and the log after it. */
  restarted(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState): void;
  /** A Ready, before the node acts on it. */
  ready(rd: Ready): void;
  /** That Ready is on disk (its WAL write returned, fsynced when mustSync). */
  persisted(rd: Ready): void;
  /** Messages handed to the transport. */
  sent(msgs: readonly Message[]): void;
  /** Committed entries handed to the state machine, in log order, and the configuration after them. */
  applied(entries: readonly Entry[], confState: ConfState): void;
  /** A snapshot from the leader replaced the log and the state. */
  installed(snapshot: Snapshot): void;
}

/** Bugs the simulator must catch, planted only behind this switch (never set by the service). */
export interface NodePlantedBugs {
  /** A follower acknowledges appends (and votes) before its fsync. */
  ackBeforeFsync?: boolean;
  /** Committed entries are applied before they are on this node's disk. */
  applyBeforeDurable?: boolean;
  /** No snapshot right after an AddNode (a new member cannot install an older one). */
  skipSnapshotAfterAddNode?: boolean;
  /** A read is served with the index of an older ReadIndex round. */
  readFromOlderRound?: boolean;
  /** WAL replay keeps the entries that a snapshot installed from a leader superseded. */
  replayKeepsSuperseded?: boolean;
  /** Issue 7's fixes, reverted: saving a snapshot file removes the old ones beyond --max-snapshots before the new marker is durable. */
  retainBeforeMarker?: boolean;
  /** Read contexts carry the same epoch in every process life (an earlier life's answer serves our read). */
  readEpochConstant?: boolean;
  /** An applied conf change settles every waiting request for the same change, not the one that proposed it. */
  confChangeByContent?: boolean;
  /** A committed conf change already on disk is applied before the Ready's fsync makes its commit durable. */
  applyConfChangeEarly?: boolean;
  /** The read lease lasts 20 times what the followers' election timeouts guarantee. */
  leaseTooLong?: boolean;
  /** The core's planted bugs (RaftConfig.plantedBugs), passed through to it. */
  core?: PlantedBugs;
}
