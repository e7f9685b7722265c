// RawNode: the application's handle on the Raft state machine. It turns API calls into
// messages for the core and collects the core's output into Ready batches.

import type { RaftConfig } from './config.ts';
import { encodeConfChange } from '../raftpb/encoding.ts';
import { Raft } from './raft.ts';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  RaftError,
  RaftErrorCode,
  type Ready,
  type SoftState,
  StateType,
  isRaftError,
} from '../raftpb/types.ts';
import { entriesSize, isLocalMsg, isResponseMsg, newMessage } from './util.ts';

export type ProgressStateName = 'probe' | 'replicate' | 'snapshot';

export interface PeerProgressStatus {
  match: number;
  next: number;
  state: ProgressStateName;
}

export interface RaftStatus {
  id: NodeId;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  commit: number;
  lastIndex: number;
  leadTransferee: NodeId;
  /** Only on the leader. */
  progress: Map<NodeId, PeerProgressStatus> | null;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode {
  private readonly raft: Raft;
  private readonly readWithoutReadIndex: boolean;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** A Ready was handed out and not yet advanced. */
  private readyOutstanding = false;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.readWithoutReadIndex = config.plantedBugs?.readWithoutReadIndex === true;
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * Starts a brand-new cluster on empty storage: one committed AddNode entry per peer at term 1,
   * handed out in the first Ready (to persist, then apply). Restarting or joining nodes skip this.
   * Peers marked `learner` start as learners (an AddLearnerNode entry); at least one must vote.
   */
  bootstrap(peers: { id: NodeId; context: Uint8Array; learner?: boolean }[]): void {
    if (!peers.some((p) => p.learner !== true)) throw new Error('raft: bootstrap needs at least one voter');
    const ids = new Set<NodeId>();
    for (const p of peers) {
      if (!Number.isSafeInteger(p.id) || p.id <= 0) throw new Error(`raft: bootstrap peer id ${p.id} is not positive`);
      if (ids.has(p.id)) throw new Error(`raft: bootstrap peer ${p.id} is listed twice`);
      ids.add(p.id);
    }
    const log = this.raft.log;
    if (log.lastIndex() !== 0 || log.storage.initialState().hardState.term !== 0) {
      throw new Error('raft: bootstrap needs empty storage (a restarting node must not bootstrap)');
    }
    this.raft.bootstrap(peers);
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (with a pre-vote if enabled). */
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.MsgHup, from: this.raft.id }));
  }

  /** Throws RaftError(ERR_PROPOSAL_DROPPED) when there is no leader, a transfer is on, or too much is uncommitted. */
  propose(data: Uint8Array): void {
    const entry = { term: 0, index: 0, type: EntryType.Normal, data };
    this.raft.step(newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [entry] }));
  }

  /**
   * Proposes many entries as one MsgProp: one append and one broadcast for all of them, in
   * order. All or nothing: when dropped (same reasons as propose), none of them is appended.
   */
  proposeBatch(datas: readonly Uint8Array[]): void {
    if (datas.length === 0) return;
    const entries = datas.map((data) => ({ term: 0, index: 0, type: EntryType.Normal, data }));
    this.raft.step(newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries }));
  }

  /** Like propose; the leader also drops it while another conf change is pending or before its own-term commit. */
  proposeConfChange(cc: ConfChange): void {
    if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0) {
      throw new Error(`conf change: node id must be a positive integer, got ${cc.nodeId}`);
    }
    const entry = { term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) };
    this.raft.step(newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [entry] }));
  }

  /** Called by the application when it applies a ConfChange entry; returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Network input. A message is either acted on (which may mean ignored, as Raft ignores a
   * stale response) or refused with RaftError(ERR_INVALID_MESSAGE) before it changes anything:
   * malformed fields, a local-only type (ERR_STEP_LOCAL_MSG), another node's address, or a
   * claim that contradicts what this node knows (an append rewriting a committed entry, a
   * commit index beyond our log). Nothing a peer sends throws anything but a RaftError.
   */
  step(m: Message): void {
    if (isLocalMsg(m.type)) throw new RaftError(RaftErrorCode.StepLocalMsg, `raft: cannot step local message type ${m.type}`);
    const raft = this.raft;
    const bad = malformed(m) ?? (m.to !== raft.id ? `addressed to ${m.to}` : null) ?? contradicts(raft, m);
    if (bad !== null) throw new RaftError(RaftErrorCode.InvalidMessage, `raft: invalid message type ${String(m.type)} from ${String(m.from)}: ${bad}`);
    if (isResponseMsg(m.type) && !raft.trk.progress.has(m.from)) return;
    try {
      raft.step(m);
    } catch (e) {
      if (!isRaftError(e, RaftErrorCode.ProposalDropped)) throw e;
      raft.logger.debug('raft: dropped a forwarded request', { id: raft.id, from: m.from, why: e.message });
    }
  }

  /**
   * Asks for a linearizable read; the answer comes as a ReadState with the same ctx in a later Ready.
   * Throws ERR_PROPOSAL_DROPPED if no leader is known (or the leader's read queue is full).
   */
  readIndex(ctx: Uint8Array): void {
    const raft = this.raft;
    if (this.readWithoutReadIndex) {
      // Planted bug: answer from the local commit index, with no leadership check.
      raft.readStates.push({ index: raft.log.committed, requestCtx: ctx });
      return;
    }
    raft.step(newMessage({ type: MessageType.MsgReadIndex, from: raft.id, context: ctx }));
  }

  /** See Raft.leaseReadIndex: the commit index a lease read may use in `term`, or -1. */
  leaseReadIndex(term: number): number {
    return this.raft.leaseReadIndex(term);
  }

  /** Our current term. */
  get term(): number {
    return this.raft.term;
  }

  transferLeader(to: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.MsgTransferLeader, from: to }));
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(newMessage({ type: MessageType.MsgSnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const raft = this.raft;
    const ss = raft.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) return true;
    if (!sameHardState(raft.hardState(), this.prevHardState)) return true;
    const log = raft.log;
    if (log.hasPendingSnapshot() || log.unstable.entries.length > 0) return true;
    return raft.msgs.length > 0 || raft.readStates.length > 0 || log.hasNextCommittedEntries();
  }

  /** The next batch of work; see Ready in types.ts for what to do with it. Call advance() after. */
  ready(): Ready {
    if (this.readyOutstanding) throw new Error('raft: ready() called again before advance() of the previous Ready');
    this.readyOutstanding = true;
    const raft = this.raft;
    const log = raft.log;
    const ss = raft.softState();
    const hs = raft.hardState();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState;
    const hardChanged = !sameHardState(hs, this.prevHardState);
    const rd: Ready = {
      softState: softChanged ? ss : null,
      hardState: hardChanged ? hs : null,
      readStates: raft.readStates,
      entries: log.unstableEntries(),
      snapshot: log.unstable.snapshot,
      committedEntries: log.nextCommittedEntries(),
      messages: raft.msgs,
      mustSync: false,
      changesTermOrVote: false,
    };
    rd.changesTermOrVote = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    // A membership change must not be forgotten once it took effect: a node that applied the
    // removal of the other voter of two, then restarted with an older commit index, would be
    // back in the old configuration, needing a vote from a node that has stopped.
    const appliesConfChange = rd.committedEntries.some((e) => e.type === EntryType.ConfChange);
    rd.mustSync = rd.entries.length > 0 || rd.snapshot !== null || rd.changesTermOrVote || appliesConfChange;
    // Accept: what is handed out now is not handed out again.
    if (softChanged) this.prevSoftState = ss;
    if (hardChanged) this.prevHardState = hs;
    raft.msgs = [];
    raft.messagesHandedOut();
    raft.readStates = [];
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) log.acceptApplying(lastCommitted.index);
    return rd;
  }

  /**
   * The application persisted, sent and applied `rd`. Persisted is what counts here: a leader
   * counts its own new entries toward commit only now, so call this only once `rd` is durable.
   */
  advance(rd: Ready): void {
    this.readyOutstanding = false;
    const log = this.raft.log;
    if (rd.snapshot !== null) {
      log.stableSnapTo(rd.snapshot.metadata.index);
      log.appliedTo(rd.snapshot.metadata.index);
    }
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) {
      log.stableTo(lastEntry.index, lastEntry.term);
      this.raft.persistedTo(lastEntry.index, lastEntry.term);
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      log.appliedTo(lastCommitted.index);
      this.raft.reduceUncommittedSize(entriesSize(rd.committedEntries));
    }
  }

  status(): RaftStatus {
    const raft = this.raft;
    let progress: Map<NodeId, PeerProgressStatus> | null = null;
    if (raft.state === StateType.Leader) {
      progress = new Map();
      for (const id of raft.trk.ids()) {
        const pr = raft.trk.progress.get(id)!;
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state });
      }
    }
    return {
      id: raft.id,
      hardState: raft.hardState(),
      softState: raft.softState(),
      applied: raft.log.applied,
      commit: raft.log.committed,
      lastIndex: raft.log.lastIndex(),
      leadTransferee: raft.leadTransferee,
      progress,
    };
  }
}

const MESSAGE_TYPE_MAX = MessageType.MsgPreVoteResp;

function isIndex(n: unknown): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function entryMalformed(e: Entry): string | null {
  if (e === null || typeof e !== 'object') return 'entry is not an object';
  if (!isIndex(e.term) || !isIndex(e.index)) return 'bad entry term or index';
  if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) return `unknown entry type ${String(e.type)}`;
  if (!(e.data instanceof Uint8Array)) return 'entry data is not bytes';
  return null;
}

function snapshotMalformed(m: Message): string | null {
  const s = m.snapshot;
  if (s === null || typeof s !== 'object' || s.metadata === null || typeof s.metadata !== 'object') return 'snapshot message without snapshot';
  const { index, term, confState } = s.metadata;
  if (!isIndex(index) || index === 0 || !isIndex(term) || term === 0 || term > m.term) return 'bad snapshot index or term';
  if (!(s.data instanceof Uint8Array)) return 'snapshot data is not bytes';
  if (confState === null || typeof confState !== 'object' || !Array.isArray(confState.voters) || !Array.isArray(confState.learners)) {
    return 'snapshot without configuration';
  }
  const ids = [...confState.voters, ...confState.learners];
  if (confState.voters.length === 0 || ids.some((id) => !isIndex(id) || id === 0)) return 'bad snapshot configuration';
  if (new Set(ids).size !== ids.length) return 'snapshot configuration lists a node twice';
  return null;
}

/** Why a peer's message is malformed, whatever this node's state, or null. */
function malformed(m: Message): string | null {
  if (m === null || typeof m !== 'object') return 'not an object';
  if (!Number.isSafeInteger(m.type) || m.type < 0 || m.type > MESSAGE_TYPE_MAX) return 'unknown type';
  if (!isIndex(m.from) || m.from === 0) return 'bad sender';
  if (!isIndex(m.to)) return 'bad recipient';
  if (!isIndex(m.term)) return 'bad term';
  if (!isIndex(m.logTerm) || !isIndex(m.index) || !isIndex(m.commit) || !isIndex(m.rejectHint)) return 'bad index field';
  if (typeof m.reject !== 'boolean') return 'bad reject flag';
  if (!(m.context instanceof Uint8Array)) return 'context is not bytes';
  if (!Array.isArray(m.entries)) return 'entries is not a list';
  for (const e of m.entries) {
    const bad = entryMalformed(e);
    if (bad !== null) return bad;
  }
  // Only forwarded proposals and reads travel without a term (the leader treats them as local).
  if (m.term === 0 && m.type !== MessageType.MsgProp && m.type !== MessageType.MsgReadIndex) return 'missing term';
  if (m.type === MessageType.MsgProp && m.entries.length === 0) return 'empty proposal';
  if (m.type === MessageType.MsgApp) {
    if (!Number.isSafeInteger(m.index + m.entries.length + 1)) return 'index out of range';
    let prevTerm = m.logTerm;
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i]!;
      if (e.index !== m.index + 1 + i) return 'entries are not contiguous';
      if (e.term < prevTerm || e.term > m.term) return 'entry terms out of order';
      prevTerm = e.term;
    }
  }
  if (m.type === MessageType.MsgSnap) return snapshotMalformed(m);
  return null;
}

/**
 * Why a well-formed message contradicts what this node knows, or null. Only messages of our
 * term or later count: the core answers stale ones without using their content.
 */
function contradicts(raft: Raft, m: Message): string | null {
  if (m.term < raft.term) return null;
  const log = raft.log;
  switch (m.type) {
    case MessageType.MsgApp: {
      if (m.index < log.committed || !log.matchTerm(m.index, m.logTerm)) return null;
      const conflict = log.findConflict(m.entries);
      return conflict !== 0 && conflict <= log.committed ? `entry ${conflict} conflicts with our committed log` : null;
    }
    case MessageType.MsgHeartbeat:
      return m.commit > log.lastIndex() ? `commit ${m.commit} beyond our last index ${log.lastIndex()}` : null;
    case MessageType.MsgAppResp:
      if (m.term !== raft.term || raft.state !== StateType.Leader || m.reject) return null;
      return m.index > log.lastIndex() ? `acknowledges ${m.index}, beyond our last index ${log.lastIndex()}` : null;
    default:
      return null;
  }
}
