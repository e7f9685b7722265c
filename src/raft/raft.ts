// The Raft state machine: elections, replication, reads, transfers and membership, driven only
// by tick() and step(). It does no I/O; outgoing messages and read states accumulate in `msgs`
// and `readStates` until RawNode hands them out in a Ready.

import {
  DEFAULT_MAX_INFLIGHT_MSGS,
  DEFAULT_MAX_PENDING_READS,
  DEFAULT_MAX_SIZE_PER_MSG,
  DEFAULT_MAX_UNCOMMITTED_ENTRIES_SIZE,
  type PlantedBugs,
  type RaftConfig,
  validateConfig,
} from './config.ts';
import { decodeConfChange, encodeConfChange } from '../raftpb/encoding.ts';
import { type RaftLogger, silentLogger } from './logger.ts';
import { Progress, ProgressTracker } from './progress.ts';
import { RaftLog } from './raft-log.ts';
import { type PendingRead, ReadOnlyQueue } from './read-only.ts';
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  RaftError,
  RaftErrorCode,
  type ReadState,
  type Snapshot,
  type SoftState,
  StateType,
  isRaftError,
} from '../raftpb/types.ts';
import { entriesSize, newMessage, voteRespType } from './util.ts';

/** MsgVote context of a campaign started by a leader transfer: voters skip the lease check. */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');
const EMPTY = new Uint8Array(0);

type CampaignKind = 'pre-election' | 'election' | 'transfer';

function dropped(why: string): RaftError {
  return new RaftError(RaftErrorCode.ProposalDropped, `proposal dropped: ${why}`);
}

/** Dropped because a bound of this leader is full: it is busy, not gone. */
function droppedOverloaded(why: string): RaftError {
  return new RaftError(RaftErrorCode.ProposalDropped, `proposal dropped: ${why}`, true);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  state: StateType = StateType.Follower;

  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  /** Leader only: the node leadership is being handed to. */
  leadTransferee: NodeId = NONE;
  /**
   * Leader only, once it has applied its own removal or demotion: the commit index every
   * remaining voter must confirm knowing before this node steps down. Stepping down at once can
   * wedge the survivor of a two-voter cluster: if the one message carrying that commit is lost,
   * it is still in the old configuration and needs the vote of a node that has left.
   */
  private leavingCommit = 0;
  /** Leader only: index of the latest conf change proposed; no other until it is applied. */
  private pendingConfIndex = 0;
  /** Leader only: data bytes of entries appended but not yet applied. */
  private uncommittedSize = 0;
  private readonly readOnly = new ReadOnlyQueue();
  /** Heartbeats of the latest read round while still in `msgs`: later reads can join that round. */
  private unsentRound: Message[] | null = null;
  /** Leader only: reads that arrived before an entry of this term was committed. */
  private pendingReadIndexMessages: Message[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Ticks since start, counted up to the election timeout (leaseAtStart). */
  private ticksSinceStart = 0;
  private readonly leaseAtStart: boolean;
  /** The last term in which we, as leader, started a leadership transfer (no lease reads in it). */
  private transferTerm = 0;
  private randomizedElectionTimeout = 0;
  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private readonly maxMsgSize: number;
  private readonly maxUncommittedSize: number;
  private readonly maxPendingReads: number;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  private readonly random: (n: number) => number;
  readonly logger: RaftLogger;
  private readonly bugs: PlantedBugs;

  private tickFn: () => void = () => this.tickElection();
  private stepFn: (m: Message) => void = (m) => this.stepFollower(m);

  constructor(c: RaftConfig) {
    validateConfig(c);
    this.id = c.id;
    this.electionTimeout = c.electionTicks;
    this.heartbeatTimeout = c.heartbeatTicks;
    this.maxMsgSize = c.maxSizePerMsg ?? DEFAULT_MAX_SIZE_PER_MSG;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ?? DEFAULT_MAX_UNCOMMITTED_ENTRIES_SIZE;
    this.maxPendingReads = c.maxPendingReads ?? DEFAULT_MAX_PENDING_READS;
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.leaseAtStart = c.leaseAtStart ?? false;
    this.random = c.random;
    this.logger = c.logger ?? silentLogger;
    this.bugs = c.plantedBugs ?? {};
    this.log = new RaftLog(c.storage, this.maxMsgSize);
    this.trk = new ProgressTracker(c.maxInflightMsgs ?? DEFAULT_MAX_INFLIGHT_MSGS);

    const { hardState, confState } = c.storage.initialState();
    this.restoreConfState(confState);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.log.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.logger.info('raft: node started', {
      id: this.id,
      term: this.term,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      ...this.trk.confState(),
    });
  }

  // ---- state accessors ----

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.log.committed || hs.commit > this.log.lastIndex()) {
      throw new Error(
        `raft: hard state commit ${hs.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`,
      );
    }
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** Can this node become leader? Voters only, and not while a received snapshot is unpersisted. */
  private promotable(): boolean {
    return this.trk.voters.has(this.id) && !this.log.hasPendingSnapshot();
  }

  /**
   * The index a leader lease read may be served at: our commit index, if we lead in `term`
   * with checkQuorum, have committed an entry of it, and have started no leadership transfer in
   * it; otherwise -1. The caller holds the lease: it knows, by its clock, that a quorum
   * confirmed our leadership recently enough that none of them can have helped elect another.
   */
  leaseReadIndex(term: number): number {
    if (this.state !== StateType.Leader || this.term !== term || !this.checkQuorum || this.transferTerm === term) return -1;
    return this.committedEntryInCurrentTerm() ? this.log.committed : -1;
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term;
  }

  // ---- role transitions ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + this.random(this.electionTimeout);
    this.leadTransferee = NONE;
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const fresh = new Progress(0, last + 1, this.trk.maxInflight, pr.isLearner);
      // Our own log counts only as far as it is on our disk (see persistedTo).
      if (id === this.id) fresh.match = this.log.persistedIndex();
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.leavingCommit = 0;
    this.uncommittedSize = 0;
    this.readOnly.reset();
    this.unsentRound = null;
    this.pendingReadIndexMessages = [];
  }

  /** RawNode handed `msgs` to the application: what was in there has left. */
  messagesHandedOut(): void {
    this.unsentRound = null;
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.stepFn = (m) => this.stepFollower(m);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.Follower;
    this.logger.debug('raft: became follower', { id: this.id, term, lead });
  }

  private becomePreCandidate(): void {
    if (this.state === StateType.Leader) throw new Error('raft: leader cannot become pre-candidate');
    // Neither the term nor the vote changes: a pre-election disturbs nobody.
    this.stepFn = (m) => this.stepCandidate(m);
    this.tickFn = () => this.tickElection();
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
    this.logger.debug('raft: became pre-candidate', { id: this.id, term: this.term });
  }

  private becomeCandidate(): void {
    if (this.state === StateType.Leader) throw new Error('raft: leader cannot become candidate');
    this.reset(this.term + 1);
    this.stepFn = (m) => this.stepCandidate(m);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.logger.debug('raft: became candidate', { id: this.id, term: this.term });
  }

  private becomeLeader(): void {
    if (this.state === StateType.Follower) throw new Error('raft: follower cannot become leader');
    this.reset(this.term);
    this.stepFn = (m) => this.stepLeader(m);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // Conf changes wait until everything before this term is applied.
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op of this term: committing it commits every earlier entry (Figure 8 rule).
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }]);
    this.logger.info('raft: became leader', { id: this.id, term: this.term });
  }

  // ---- ticks ----

  tick(): void {
    if (this.ticksSinceStart < this.electionTimeout) this.ticksSinceStart++;
    this.tickFn();
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage({ type: MessageType.MsgCheckQuorum, from: this.id }));
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  // ---- sending ----

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    if (
      t === MessageType.MsgVote ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResp
    ) {
      // A pre-vote carries the term the sender would campaign at, so callers set it.
      if (m.term === 0) throw new Error(`raft: term must be set on message type ${t}`);
    } else if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) {
      // Forwarded proposals and reads carry no term: they are treated as local at the leader.
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Sends the follower the entries it lacks (or a snapshot). Returns whether anything was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    // Compacted away: only a snapshot can bring this follower up (checked first, not by catching
    // ERR_COMPACTED, because bcastAppend runs this for every proposal).
    if (prevIndex < this.log.firstIndex() - 1) return this.sendSnapshot(to, pr);
    let prevTerm: number;
    let entries: Entry[];
    try {
      prevTerm = this.log.term(prevIndex);
      // With a full window (unpaused by a heartbeat response) send only an empty append: if the
      // whole window was lost, its answer is what clears the window and restarts the flow.
      const windowFull = pr.state === 'replicate' && pr.inflights.full();
      entries = windowFull ? [] : this.log.entries(pr.next, this.maxMsgSize);
    } catch (e) {
      if (isRaftError(e, RaftErrorCode.Compacted)) return this.sendSnapshot(to, pr);
      if (isRaftError(e, RaftErrorCode.Unavailable)) {
        this.logger.warn('raft: entries unavailable for append', { id: this.id, to, next: pr.next });
        return false;
      }
      throw e;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    const commit = this.log.committed;
    this.send(newMessage({ type: MessageType.MsgApp, to, index: prevIndex, logTerm: prevTerm, entries, commit }));
    pr.sentEntries(entries.length);
    pr.sentCommit = Math.max(pr.sentCommit, commit);
    return true;
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug('raft: not sending snapshot to an inactive peer', { id: this.id, to });
      return false;
    }
    let snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (e) {
      if (isRaftError(e, RaftErrorCode.SnapshotTemporarilyUnavailable)) return false;
      throw e;
    }
    if (snapshot.metadata.index === 0) throw new Error('raft: a compacted log needs a non-empty snapshot');
    this.send(newMessage({ type: MessageType.MsgSnap, to, snapshot }));
    pr.becomeSnapshot(snapshot.metadata.index);
    this.logger.info('raft: sent snapshot', { id: this.id, to, index: snapshot.metadata.index });
    return true;
  }

  private sendHeartbeat(to: NodeId, context: Uint8Array): void {
    const pr = this.trk.progress.get(to)!;
    // Never tell a follower a commit index beyond what it is known to hold.
    const commit = Math.min(pr.match, this.log.committed);
    this.send(newMessage({ type: MessageType.MsgHeartbeat, to, commit, context }));
    pr.sentCommit = Math.max(pr.sentCommit, commit);
  }

  private bcastAppend(): void {
    for (const id of this.trk.ids()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context: Uint8Array): void {
    for (const id of this.trk.ids()) if (id !== this.id) this.sendHeartbeat(id, context);
  }

  /** Sends a heartbeat round confirming every pending read. */
  private startReadRound(): void {
    const ctx = this.readOnly.startRound(this.id);
    const first = this.msgs.length;
    this.bcastHeartbeat(ctx);
    this.unsentRound = this.msgs.slice(first);
  }

  // ---- leader log management ----

  /** Appends proposed entries at this term; throws ERR_PROPOSAL_DROPPED over the uncommitted bound. */
  private appendEntries(proposed: Entry[]): void {
    const size = entriesSize(proposed);
    if (this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > this.maxUncommittedSize) {
      throw droppedOverloaded(`uncommitted entries would exceed ${this.maxUncommittedSize} bytes`);
    }
    this.uncommittedSize += size;
    let index = this.log.lastIndex();
    const ents = proposed.map((e) => ({ term: this.term, index: ++index, type: e.type, data: e.data }));
    this.log.append(ents);
    // Not matched yet: our own entries count toward commit only once the application reports
    // them persisted (persistedTo, from advance), though our appends may leave before our fsync.
    // Callers broadcast afterwards.
  }

  /**
   * The application persisted our log up to (index, term) (RawNode.advance). A leader's own
   * progress moves only here, so a commit index never counts an entry that is not on our disk:
   * with a single voter, a learner could otherwise apply an entry the voter then loses in a crash.
   */
  persistedTo(index: number, term: number): void {
    if (this.state !== StateType.Leader || !this.log.matchTerm(index, term)) return;
    const self = this.trk.progress.get(this.id);
    if (self === undefined || !self.maybeUpdate(index)) return;
    if (this.maybeCommit()) this.bcastAppend();
  }

  /** Advances the commit index to what a quorum holds; releases reads waiting for an own-term commit. */
  private maybeCommit(): boolean {
    const advanced = this.log.maybeCommit(this.trk.committed(), this.term, this.bugs.commitOldTermByCount === true);
    if (advanced && this.state === StateType.Leader) this.releasePendingReadIndexMessages();
    return advanced;
  }

  /** Called after the application applied entries: they no longer count as uncommitted. */
  reduceUncommittedSize(size: number): void {
    if (this.state !== StateType.Leader) return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - size);
  }

  // ---- step ----

  step(m: Message): void {
    if (m.term === 0) {
      // Local message, or a forwarded proposal/read: no term rules apply.
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = sameBytes(m.context, CAMPAIGN_TRANSFER);
        const inLease = this.checkQuorum && ((this.lead !== NONE && this.electionElapsed < this.electionTimeout) || (this.leaseAtStart && this.ticksSinceStart < this.electionTimeout));
        if (!force && inLease) {
          // We heard from a live leader within the election timeout: the candidate is disruptive.
          this.logger.debug('raft: ignored vote request within leader lease', { id: this.id, from: m.from });
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote || (m.type === MessageType.MsgPreVoteResp && !m.reject)) {
        // A pre-vote never changes our term; a granted pre-vote response carries the future term.
      } else if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
        // A stale leader learns our term from this and steps down; without it, a node cut off
        // with a higher term could never be reached again.
        this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from }));
      } else if (m.type === MessageType.MsgPreVote || m.type === MessageType.MsgVote) {
        // Refuse with our term, as the paper's RequestVote reply does. Ignoring a stale candidate
        // silently can livelock: a candidate with the newest log never learns the term it needs
        // while a lagging voter campaigns at ever higher terms (simulator seed 1421).
        this.send(this.voteResponse(m, this.term, true));
      }
      return;
    }

    if ((m.type === MessageType.MsgVoteResp || m.type === MessageType.MsgPreVoteResp) && this.state !== StateType.Leader) {
      if (this.learnCommit(m) && this.state !== StateType.Follower) {
        // What we learned may change the configuration we are campaigning in (even remove us):
        // give up this campaign; the next one starts once those entries are applied.
        this.becomeFollower(this.term, NONE);
        return;
      }
    }
    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? 'pre-election' : 'election');
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote:
        this.handleVoteRequest(m);
        return;
      default:
        this.stepFn(m);
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.MsgPreVote && m.term > this.term) ||
      (m.type === MessageType.MsgVote && this.bugs.grantTwoVotesPerTerm === true);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.logger.debug('raft: granted vote', { id: this.id, type: m.type, to: m.from, term: m.term });
      // A granted response carries the candidate's term (for a pre-vote, the term it will campaign at).
      this.send(this.voteResponse(m, m.term, false));
      if (m.type === MessageType.MsgVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(this.voteResponse(m, this.term, true));
    }
  }

  /**
   * Every vote answer also says what we know is committed: `commit` and the term of our entry
   * there (`logTerm`). A candidate that has that very entry knows its log up to there is
   * committed (Log Matching). This is how a survivor learns that a member which left was
   * committed out, when that member's longer log keeps it from winning the survivor's vote
   * under the old configuration (simulator seeds 3752, 2439).
   */
  private voteResponse(m: Message, term: number, reject: boolean): Message {
    const commit = this.log.committed;
    return newMessage({ type: voteRespType(m.type), to: m.from, term, reject, commit, logTerm: this.log.termOrZero(commit) });
  }

  /** Raises our commit index from a vote answer when we hold the entry it names; says whether it did. */
  private learnCommit(m: Message): boolean {
    if (m.commit <= this.log.committed || m.commit > this.log.lastIndex() || !this.log.matchTerm(m.commit, m.logTerm)) return false;
    this.logger.debug('raft: learned a commit index from a vote answer', { id: this.id, from: m.from, commit: m.commit });
    this.log.commitTo(m.commit);
    return true;
  }

  // ---- elections ----

  private hup(kind: CampaignKind): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) {
      this.logger.debug('raft: not promotable, not campaigning', { id: this.id });
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      // Our configuration may be about to change: we might not even be a voter in it.
      this.logger.debug('raft: conf changes pending apply, not campaigning', { id: this.id });
      return;
    }
    this.campaign(kind);
  }

  private hasUnappliedConfChanges(): boolean {
    let lo = this.log.applied + 1;
    const hi = this.log.committed + 1;
    while (lo < hi) {
      const page = this.log.slice(lo, hi, this.maxMsgSize);
      if (page.some((e) => e.type === EntryType.ConfChange)) return true;
      lo += page.length;
    }
    return false;
  }

  private campaign(kind: CampaignKind): void {
    let voteType: MessageType;
    let term: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteType = MessageType.MsgPreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single voter wins at once.
      if (kind === 'pre-election') {
        this.campaign('election');
      } else {
        this.becomeLeader();
        this.bcastAppend(); // its learners, if any
      }
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    const context = kind === 'transfer' ? CAMPAIGN_TRANSFER : EMPTY;
    for (const id of [...this.trk.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send(newMessage({ type: voteType, to: id, term, index, logTerm, context }));
    }
  }

  private poll(from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    this.trk.recordVote(from, granted);
    return this.trk.tallyVotes().result;
  }

  // ---- role step functions ----

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        // A new round for reads no round covers yet; else repeat the newest round, in case
        // its heartbeats or acks were lost.
        if (this.readOnly.hasUncovered()) this.startReadRound();
        else this.bcastHeartbeat(this.readOnly.newestRoundCtx() ?? EMPTY);
        return;
      case MessageType.MsgCheckQuorum:
        // A leader handing off after leaving the voters keeps going until they confirm: as a
        // follower it could no longer bring a lagging survivor the entries and commit it needs.
        if (this.leavingCommit === 0 && !this.trk.quorumActive(this.id)) {
          this.logger.warn('raft: stepping down, no quorum heard from within an election timeout', {
            id: this.id,
            term: this.term,
          });
          this.becomeFollower(this.term, NONE);
        }
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case MessageType.MsgProp:
        this.leaderPropose(m);
        return;
      case MessageType.MsgReadIndex:
        this.leaderReadIndex(m);
        return;
      default:
        break;
    }

    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.MsgAppResp:
        pr.recentActive = true;
        if (m.reject) this.handleAppendRejected(m, pr);
        else this.handleAppendAccepted(m, pr);
        this.noteKnownCommit(pr, m.commit);
        return;
      case MessageType.MsgHeartbeatResp:
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
        if (m.context.length > 0) this.handleReadAck(m);
        this.noteKnownCommit(pr, m.commit);
        return;
      case MessageType.MsgSnapStatus:
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Success: wait for the follower's MsgAppResp. Failure: retry after a heartbeat.
        pr.msgAppFlowPaused = true;
        this.logger.info('raft: snapshot send finished', { id: this.id, to: m.from, ok: !m.reject });
        return;
      case MessageType.MsgUnreachable:
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      case MessageType.MsgTransferLeader:
        this.startLeaderTransfer(m.from, pr);
        return;
      default:
        return;
    }
  }

  /** A follower's response says which commit index it knows; a leaving leader waits for that. */
  private noteKnownCommit(pr: Progress, commit: number): void {
    if (commit > pr.knownCommit) pr.knownCommit = commit;
    if (this.state === StateType.Leader && this.leavingCommit > 0) this.maybeFinishLeaving();
  }

  /** Steps down once every voter has confirmed the commit index that covers our leaving. */
  private maybeFinishLeaving(): void {
    for (const id of this.trk.voters) {
      if ((this.trk.progress.get(id)?.knownCommit ?? 0) < this.leavingCommit) return;
    }
    this.logger.info('raft: the voters know we left, stepping down', { id: this.id, term: this.term });
    this.becomeFollower(this.term, NONE);
  }

  private handleAppendRejected(m: Message, pr: Progress): void {
    // The follower told us where its log may match (rejectHint) and the term there (logTerm):
    // skip every entry of ours after the last one whose term is <= that term.
    let nextProbe = m.rejectHint;
    if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (pr.maybeDecrTo(m.index, nextProbe)) {
      this.logger.debug('raft: append rejected, backing off', { id: this.id, from: m.from, next: pr.next });
      if (pr.state === 'replicate') pr.becomeProbe();
      this.sendAppend(m.from);
    }
  }

  private handleAppendAccepted(m: Message, pr: Progress): void {
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe'))) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      // The snapshot landed (or the follower caught up otherwise): entries can flow again.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (pr.canBumpCommit(this.log.committed)) {
      this.sendAppend(m.from);
    }
    // Acknowledged messages opened the window: fill it.
    while (this.maybeSendAppend(m.from, false)) {
      // keep sending
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private leaderPropose(m: Message): void {
    if (m.entries.length === 0) throw new RaftError(RaftErrorCode.InvalidMessage, 'raft: empty proposal');
    if (!this.trk.progress.has(this.id)) throw dropped('this leader was removed from the cluster');
    if (!this.trk.voters.has(this.id)) throw dropped('this leader is no longer a voter');
    if (this.leadTransferee !== NONE) throw dropped(`leadership is being transferred to ${this.leadTransferee}`);
    let confIndex = -1;
    m.entries.forEach((e, i) => {
      if (e.type !== EntryType.ConfChange) return;
      const refusal = confIndex >= 0 ? 'one conf change at a time' : this.confChangeRefusal(e);
      if (refusal !== null) throw dropped(refusal);
      confIndex = i;
    });
    const before = this.log.lastIndex();
    this.appendEntries(m.entries);
    if (confIndex >= 0) this.pendingConfIndex = before + 1 + confIndex;
    this.bcastAppend();
  }

  /** Why a conf change may not be proposed now, or null if it may. */
  private confChangeRefusal(e: Entry): string | null {
    if (this.pendingConfIndex > this.log.applied) {
      return `a conf change is pending (index ${this.pendingConfIndex}, applied ${this.log.applied})`;
    }
    if (!this.committedEntryInCurrentTerm()) return 'the leader has not committed an entry of its term yet';
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch (err) {
      return `malformed conf change: ${(err as Error).message}`;
    }
    if (cc.nodeId <= 0) return `conf change for node id ${cc.nodeId}`;
    const v = this.trk.voters;
    const removesVoter = cc.type === ConfChangeType.RemoveNode || cc.type === ConfChangeType.AddLearnerNode;
    if (removesVoter && v.size === 1 && v.has(cc.nodeId)) return 'it would leave the cluster with no voter';
    return null;
  }

  private startLeaderTransfer(transferee: NodeId, pr: Progress): void {
    if (pr.isLearner) {
      this.logger.debug('raft: ignored transfer to a learner', { id: this.id, transferee });
      return;
    }
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    // The transfer must finish within an election timeout.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    // The transferee will campaign past every follower's lease: ours is void for this term.
    this.transferTerm = this.term;
    this.logger.info('raft: transferring leadership', { id: this.id, term: this.term, to: transferee });
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(newMessage({ type: MessageType.MsgTimeoutNow, to }));
  }

  private abortLeaderTransfer(): void {
    if (this.leadTransferee !== NONE) {
      this.logger.info('raft: leader transfer aborted', { id: this.id, to: this.leadTransferee });
    }
    this.leadTransferee = NONE;
  }

  private stepCandidate(m: Message): void {
    const myVoteResp =
      this.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        throw dropped('no leader');
      case MessageType.MsgReadIndex:
        throw dropped('no leader for a read');
      case MessageType.MsgApp:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteResp: {
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.state === StateType.PreCandidate) {
            this.campaign('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          // A pre-vote response with a higher term has already made us a follower in step().
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === NONE) throw dropped('no leader');
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTransferLeader:
        if (this.lead === NONE) {
          this.logger.debug('raft: no leader to forward a transfer to', { id: this.id });
          return;
        }
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.MsgTimeoutNow:
        // The leader handed over: campaign now, skipping the pre-vote, past every lease.
        this.logger.info('raft: received TimeoutNow, campaigning', { id: this.id, term: this.term });
        this.hup('transfer');
        return;
      case MessageType.MsgReadIndex:
        if (this.lead === NONE) throw dropped('no leader for a read');
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.MsgReadIndexResp:
        this.readStates.push({ index: m.index, requestCtx: m.context });
        return;
      default:
        return;
    }
  }

  // ---- follower handlers ----

  private handleAppendEntries(m: Message): void {
    // Responses carry our commit index: a leader leaving the voters waits until we know it.
    const commit = this.log.committed;
    if (m.index < commit) {
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: commit, commit }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: lastNew, commit: this.log.committed }));
      return;
    }
    // Our log lacks (m.index, m.logTerm). Hint the leader at the last entry of ours that could
    // match: the largest index <= m.index whose term is <= m.logTerm.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.logger.debug('raft: rejected append', { id: this.id, index: m.index, logTerm: m.logTerm, hint });
    this.send(
      newMessage({
        type: MessageType.MsgAppResp,
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
        commit: this.log.committed,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send(newMessage({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context, commit: this.log.committed }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === null) return;
    if (this.restore(s)) {
      this.logger.info('raft: restored snapshot', { id: this.id, index: s.metadata.index, term: s.metadata.term });
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.log.lastIndex(), commit: this.log.committed }));
    } else {
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.log.committed, commit: this.log.committed }));
    }
  }

  /** Installs a leader's snapshot; false if it brings nothing new. */
  private restore(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    if (index <= this.log.committed) return false;
    if (this.state !== StateType.Follower) {
      // Only a leader of our term sends snapshots, so we cannot be candidate or leader now.
      this.logger.error('raft: non-follower asked to restore a snapshot', { id: this.id, state: this.state });
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    if (!confState.voters.includes(this.id) && !confState.learners.includes(this.id)) {
      this.logger.warn('raft: ignored snapshot whose configuration lacks this node', { id: this.id, index });
      return false;
    }
    if (this.log.matchTerm(index, term)) {
      // We already have the snapshot's last entry: just move the commit index.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.trk.voters.clear();
    this.trk.learners.clear();
    this.trk.progress.clear();
    this.restoreConfState(confState);
    return true;
  }

  // ---- reads ----

  private leaderReadIndex(m: Message): void {
    if (!this.committedEntryInCurrentTerm()) {
      // Our commit index may lag what a previous leader (or we, before a restart) committed;
      // wait for our no-op. A single voter too: it commits the no-op only once it is on disk.
      if (this.pendingReadIndexMessages.length >= this.maxPendingReads) throw droppedOverloaded('too many pending reads');
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.answerOrQueueRead(m);
  }

  private answerOrQueueRead(m: Message): void {
    if (this.trk.isSingleton() && this.trk.voters.has(this.id)) {
      // Nobody else could have been elected: answer at once.
      this.respondToRead(m.from, m.context, this.log.committed);
      return;
    }
    this.queueRead(m);
  }

  private queueRead(m: Message): void {
    if (this.readOnly.size >= this.maxPendingReads) throw droppedOverloaded('too many pending reads');
    this.readOnly.add(this.log.committed, m.from, m.context);
    if (!this.readOnly.roundOutstanding()) {
      this.startReadRound();
    } else if (this.unsentRound !== null) {
      // The newest round has not left yet, so it is sent after this read arrived: join it.
      this.readOnly.extendNewestRound();
    }
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const waiting = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of waiting) {
      try {
        this.answerOrQueueRead(m);
      } catch (e) {
        if (!isRaftError(e, RaftErrorCode.ProposalDropped)) throw e;
      }
    }
  }

  private handleReadAck(m: Message): void {
    this.answerReads(this.readOnly.recvAck(m.from, m.context, (acks) => this.trk.hasQuorum(acks)));
  }

  private answerReads(done: PendingRead[]): void {
    for (const r of done) this.respondToRead(r.from, r.ctx, r.index);
    // Reads that arrived while that round was out ride on the next one, started now.
    if (done.length > 0 && this.readOnly.hasUncovered() && !this.readOnly.roundOutstanding()) this.startReadRound();
  }

  private respondToRead(from: NodeId, ctx: Uint8Array, index: number): void {
    if (from === NONE || from === this.id) {
      this.readStates.push({ index, requestCtx: ctx });
    } else {
      this.send(newMessage({ type: MessageType.MsgReadIndexResp, to: from, index, context: ctx }));
    }
  }

  // ---- membership ----

  /** A brand-new cluster: one committed AddNode entry per peer at term 1. */
  bootstrap(peers: { id: NodeId; context: Uint8Array; learner?: boolean }[]): void {
    this.becomeFollower(1, NONE);
    const changes: ConfChange[] = peers.map((p) => ({
      type: p.learner === true ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
      nodeId: p.id,
      context: p.context,
    }));
    const ents: Entry[] = changes.map((cc, i) => ({ term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange(cc) }));
    this.log.append(ents);
    // The entries are committed by fiat: every member of the new cluster starts with them.
    this.log.committed = ents.length;
    for (const cc of changes) this.applyConfChange(cc);
  }

  private restoreConfState(cs: ConfState): void {
    for (const id of cs.voters) this.addProgress(id, false);
    for (const id of cs.learners) {
      if (this.trk.voters.has(id)) throw new Error(`raft: node ${id} is both voter and learner`);
      this.addProgress(id, true);
    }
  }

  private addProgress(id: NodeId, learner: boolean): void {
    (learner ? this.trk.learners : this.trk.voters).add(id);
    const last = this.log.lastIndex();
    const pr = new Progress(id === this.id ? last : 0, Math.max(last, 1), this.trk.maxInflight, learner);
    // A new member gets a grace period before CheckQuorum counts it as silent.
    pr.recentActive = true;
    this.trk.progress.set(id, pr);
  }

  applyConfChange(cc: ConfChange): ConfState {
    const id = cc.nodeId;
    const trk = this.trk;
    if (id !== NONE) {
      switch (cc.type) {
        case ConfChangeType.AddNode:
          if (trk.learners.delete(id)) {
            trk.voters.add(id);
            trk.progress.get(id)!.isLearner = false;
          } else if (!trk.voters.has(id)) {
            this.addProgress(id, false);
          }
          break;
        case ConfChangeType.AddLearnerNode:
          if (trk.voters.delete(id)) {
            trk.learners.add(id);
            trk.progress.get(id)!.isLearner = true;
          } else if (!trk.learners.has(id)) {
            this.addProgress(id, true);
          }
          break;
        case ConfChangeType.RemoveNode:
          trk.voters.delete(id);
          trk.learners.delete(id);
          trk.progress.delete(id);
          break;
        default:
          throw new Error(`raft: unknown conf change type ${String(cc.type)}`);
      }
    }
    this.logger.info('raft: applied conf change', { id: this.id, type: cc.type, node: id, ...trk.confState() });
    this.switchToConfig();
    return trk.confState();
  }

  private switchToConfig(): void {
    if (this.state !== StateType.Leader) return;
    if (!this.trk.voters.has(this.id)) {
      // Removed (or demoted): stay leader, without taking proposals, until every remaining
      // voter confirms it knows the commit index that covers the change (in its responses to
      // our appends and heartbeats); then step down so they elect a leader among themselves.
      if (this.leavingCommit === 0) {
        this.leavingCommit = this.log.committed;
        this.logger.info('raft: leader left the voters, handing off', { id: this.id, term: this.term, commit: this.leavingCommit });
      }
      this.bcastAppend();
      this.maybeFinishLeaving();
      return;
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      for (const id of this.trk.ids()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
    if (this.leadTransferee !== NONE && !this.trk.voters.has(this.leadTransferee)) this.abortLeaderTransfer();
    // A smaller quorum may already have acknowledged waiting reads.
    this.answerReads(this.readOnly.recheck((acks) => this.trk.hasQuorum(acks)));
  }
}
