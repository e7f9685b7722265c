// RaftNode drives the pure Raft core: it replays the disk at start, ticks, feeds the core
// proposals / conf changes / reads / peer messages, and runs the Ready loop:
//   persist (one WAL write, one fsync; a leader's appends leave in parallel)
//   → send → apply (commitC to the kvstore, conf changes here) → advance.
// Whatever arrives while a Ready is being persisted waits in the inbox and goes into the
// next Ready together: that is the group commit.

import type { Chan } from '../chan.ts';
import type { Config } from '../config.ts';
import { ServiceError } from '../errors.ts';
import { coreLogger, type Logger } from '../logger.ts';
import { coalesceMessages } from '../transport/coalesce.ts';
import {
  entryOverheadBytesMax,
  peerBodyBytesMax,
  peerConnectTimeoutMsMin,
  peerMessageEntriesMax,
  peerRequestTimeoutMsMin,
  peerSnapshotBodyBytesMax,
  peerSnapshotTimeoutMs,
  proposalBatchBytesMax,
  raftInflightMessagesMax,
  raftMessageEntryBytesMax,
  raftPendingReadsMax,
  raftUncommittedBytesMax,
  statusLogTermsMax,
} from '../limits.ts';
import { ClientUrlPublisher } from './client-url-publisher.ts';
import { decodeClientUrlRecord, isClientUrlRecord } from './client-url-record.ts';
import { Membership, decodeConfChangeContext, encodeConfChangeContext, learnerNotReadyReason } from './membership.ts';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  type MemoryStorage,
  RaftErrorCode,
  RawNode,
  StateType,
  decodeConfChange,
  isRaftError,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type Ready,
  type Snapshot,
  type SnapshotMetadata,
} from '../raft/index.ts';
import { newMessage } from '../raft/util.ts';
import { createNew, recover, type Recovered } from './recovery.ts';
import { Snapshotter, Wal } from '../storage/index.ts';
import { PeerTransport, createPeerService, type PeerListener } from '../transport/index.ts';
import { parseNodeId } from '../transport/headers.ts';
import { sleep, type TimerHandle } from '../world.ts';
import { realWorld, type NodeWorld } from './world.ts';
import { ConfChangeWaiters } from './conf-change-waiters.ts';
import { noNodeMetrics, type NodeMetrics } from './metrics.ts';
import { noNodeEvents, type NodeEvents } from './events.ts';
import { Inbox } from './inbox.ts';
import { ReadIndexTracker, type ReadRequest } from './read-index.ts';
import { leaseDurationMs, ReadLease } from './read-lease.ts';
import { planReady } from './ready-plan.ts';
import type { NodeObserver, NodePlantedBugs } from './observer.ts';
import { type ConfChangeRequest, ProposalState, type Commit, type Proposal, type MemberChange } from '../queues.ts';
import { dataOnDisk, decodeSnapshotData, encodeSnapshotDataMembers, SNAPSHOT_DATA_ON_DISK, type KvStateReader } from './snapshot-data.ts';
import { LocalSnapshot, snapshotChunkBytesDefault, type DurableLocalSnapshot, type SnapshotSink } from './local-snapshot.ts';
import type { FollowerProgress, MemberWithRole, NodeInfo, NodeStatus, PeerLink, RecentLogTerms } from './status.ts';

export type StopReason = { kind: 'stopped' } | { kind: 'removed' } | { kind: 'fatal'; error: Error };

export interface RaftNodeOptions {
  config: Config;
  log: Logger;
  proposeC: Chan<Proposal>;
  confChangeC: Chan<ConfChangeRequest>;
  commitC: Chan<Commit>;
  /**
   * The kvstore's state at its applied index, to be written out a chunk at a time (KvStore.captureState);
   * called from a commit's `done`, so that index is the snapshot's.
   */
  kvCapture: () => KvStateReader;
  /** The kvstore's applied index, for status. */
  kvApplied: () => number;
  /** Whether the kvstore is consuming commitC, for health. */
  kvApplying: () => boolean;
  /** Time, timers, randomness, file system and network (default: the real ones). */
  world?: NodeWorld;
  /** Durations and peer round trips for the metrics registry (default: none). */
  metrics?: NodeMetrics;
  /** Lifecycle events for the dashboard's timeline (default: none). */
  events?: NodeEvents;
  /** For the simulator: what the node does, reported as it happens. */
  observer?: NodeObserver;
  /** For the simulator: WAL segment size (default 64 MiB), small so that segments are cut and released. */
  walSegmentBytes?: number;
  /** For the simulator: bugs to plant (see observer.ts). Never set by the service. */
  plantedBugs?: NodePlantedBugs;
  /** Bytes of state a snapshot writes between two turns of the event loop (default 256 KiB; the simulator's are small, so writes interleave). */
  snapshotChunkBytes?: number;
}

const MAX_TICKS_PER_TURN = 2;
/** How long /-/health waits for the applied index to reach the commit index it saw (bounded). */
const HEALTH_APPLY_WAIT_MS = 1000;
/** How often a waiting health check or leader transfer looks again, at most. */
const POLL_INTERVAL_MS_MAX = 20;
/** At most one line per this many ms about dropped peer messages, and about dropped forwarded proposals. */
const DROPPED_LOG_INTERVAL_MS = 5000;
/** The longest pause between two attempts to publish the client URL (the first is an election timeout). */
const PUBLISH_RETRY_DELAY_MS_MAX = 10_000;

export class RaftNode implements NodeInfo {
  readonly id: number;
  readonly clusterId: string;
  /** Kv state from the snapshot the node restarted from, until the caller takes it (takeRestoredKv). */
  private restoredKv: { data: Uint8Array; index: number } | null;
  /** Resolves when the node has stopped running, and why. */
  readonly finished: Promise<StopReason>;

  private readonly o: RaftNodeOptions;
  private readonly cfg: Config;
  private readonly log: Logger;
  private readonly wal: Wal;
  private readonly snapshotter: Snapshotter;
  private readonly storage: MemoryStorage;
  private readonly raft: RawNode;
  private readonly transport: PeerTransport;
  private readonly membership: Membership;
  private readonly world: NodeWorld;
  private readonly observer: NodeObserver | null;
  private readonly metrics: NodeMetrics;
  private readonly events: NodeEvents;
  /** Messages delivered to and failed towards each peer (since this process started), for status. */
  private readonly linkCounts = new Map<number, { sent: number; failed: number }>();
  private readonly bugs: NodePlantedBugs;
  /** The index of the previous ReadIndex round (only for the planted bug readFromOlderRound). */
  private olderReadIndex = 0;
  private peerListener: PeerListener | null = null;
  /** Publishes --advertise-client-url once asked to (publishClientUrl), until it applies or we stop. */
  private clientUrlPublisher: ClientUrlPublisher | null = null;

  private readonly inbox = new Inbox();
  /** Proposals by their entry data, to fail them at once when the transport drops their forwarded MsgProp. */
  private readonly proposalsByData = new WeakMap<Uint8Array, Proposal>();
  private proposalsDroppedTotal = 0;
  private lastDropLog = 0;
  /**
   * Both keyed by a random epoch per process, in every read context and conf change request
   * id: an answer meant for an earlier incarnation of this node never settles ours.
   */
  private readonly reads: ReadIndexTracker;
  private readonly confChanges: ConfChangeWaiters;
  /** The leader lease for reads (null with --read-lease off, or an election timeout too short for one). */
  private readonly lease: ReadLease | null;
  /** Counts the conf changes applied: a lease holds only in the configuration its round was confirmed in. */
  private confEpoch = 0;
  /** Peer messages refused (malformed, local-only types, ...), and when we last said so. */
  private droppedPeerMessages = 0;
  private lastDroppedLog = 0;
  /** When a message from each peer last arrived (world clock, ms): for status and promotion. */
  private readonly lastHeardMs = new Map<number, number>();
  /** Peers the transport could not reach since we last heard from them (for the "unreachable" / "back" lines). */
  private readonly unreachablePeers = new Set<number>();
  /** The initial members' AddNode entries, if this process bootstrapped the cluster (committed by fiat). */
  private bootstrapEntries = 0;
  /** We applied our own removal as a voter and wait for a remaining voter to confirm it (see leave). */
  private leaving = false;
  /** Ticks without a leader to hear from (probeWhenLeaderless). */
  private leaderlessTicks = 0;

  private confState: ConfState;
  private appliedIndex: number;
  /** Last log index known to be on our disk. */
  private snapshotIndex: number;
  /**
   * A member was added in the Ready being handled: snapshot as soon as it is applied, so the
   * snapshot a leader sends to a new member (after compaction) includes that member. A
   * snapshot whose ConfState predates the AddNode is refused by the new member's core.
   */
  private snapshotForMembership = false;
  /**
   * Our snapshot's file could not be read to send it to a follower (damaged since): take a
   * new one at once, at the applied index (the same index if nothing applied since: the file
   * is then rewritten with the same state).
   */
  private snapshotForRepair = false;
  /** The snapshot whose file failed to read last, so that a peer's retries log it once. */
  private unreadableSnapshotIndex = -1;
  /** The snapshot of our own state being taken off the loop, if any (at most one). */
  private localSnapshot: LocalSnapshot | null = null;
  private leader = 0;
  private raftState: StateType = StateType.Follower;
  private term = 0;
  private commit = 0;

  private tickTimer: TimerHandle | null = null;
  private running = false;
  private stopRequested: StopReason | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private resolveFinished!: (r: StopReason) => void;
  private lastRejectLog = 0;

  private constructor(o: RaftNodeOptions, rec: Recovered, snapshotter: Snapshotter) {
    this.o = o;
    this.world = o.world ?? realWorld;
    this.observer = o.observer ?? null;
    this.metrics = o.metrics ?? noNodeMetrics;
    this.events = o.events ?? noNodeEvents;
    this.bugs = o.plantedBugs ?? {};
    const epoch = 1 + this.world.random.int(0xffff_fffe);
    this.reads = new ReadIndexTracker(this.bugs.readEpochConstant === true ? 1 : epoch);
    this.confChanges = new ConfChangeWaiters(epoch);
    this.cfg = o.config;
    const leaseMs = leaseDurationMs(o.config.electionTicks, o.config.tickMs, MAX_TICKS_PER_TURN);
    this.lease = o.config.readLease && leaseMs > 0 ? new ReadLease(this.bugs.leaseTooLong === true ? leaseMs * 20 : leaseMs) : null;
    this.log = o.log;
    this.id = o.config.id;
    this.clusterId = rec.clusterId;
    this.wal = rec.wal;
    this.storage = rec.storage;
    this.membership = rec.membership;
    this.snapshotter = snapshotter;
    this.finished = new Promise((r) => (this.resolveFinished = r));
    const snapIndex = rec.snapshot?.metadata.index ?? 0;
    this.restoredKv = rec.kvState === null ? null : { data: rec.kvState, index: snapIndex };
    this.appliedIndex = snapIndex;
    this.snapshotIndex = snapIndex;
    this.confState = rec.storage.initialState().confState;
    const hs = rec.storage.initialState().hardState;
    this.term = hs.term;
    this.commit = hs.commit;
    if (this.observer !== null) {
      const st = rec.storage;
      const entries = st.lastIndex() < st.firstIndex() ? [] : st.entries(st.firstIndex(), st.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
      this.observer.restarted(rec.snapshot, entries, hs);
    }

    this.raft = new RawNode({
      id: this.id,
      electionTicks: this.cfg.electionTicks,
      heartbeatTicks: this.cfg.heartbeatTicks,
      storage: this.storage,
      applied: snapIndex,
      maxSizePerMsg: raftMessageEntryBytesMax,
      maxInflightMsgs: raftInflightMessagesMax,
      maxUncommittedEntriesSize: raftUncommittedBytesMax,
      maxPendingReads: raftPendingReadsMax,
      preVote: true,
      checkQuorum: true,
      // Whatever our own --read-lease: a leader's lease may count on our acknowledgement.
      leaseAtStart: true,
      random: (n) => this.world.random.int(n),
      logger: coreLogger(this.log),
      plantedBugs: this.bugs.core,
    });
    if (rec.bootstrap) {
      this.bootstrapEntries = this.cfg.peerUrls.length;
      this.raft.bootstrap(this.cfg.peerUrls.map((url, i) => ({ id: i + 1, context: Buffer.from(url, 'utf8') })));
    }

    this.transport = new PeerTransport({
      localId: this.id,
      clusterId: this.clusterId,
      connectTimeoutMs: Math.max(peerConnectTimeoutMsMin, this.cfg.tickMs * this.cfg.heartbeatTicks * 5),
      requestTimeoutMs: Math.max(peerRequestTimeoutMsMin, this.cfg.tickMs * this.cfg.electionTicks),
      snapshotTimeoutMs: peerSnapshotTimeoutMs,
      network: this.world.network,
      clock: this.world.clock,
      events: {
        unreachable: (id) => {
          if (!this.unreachablePeers.has(id)) {
            this.unreachablePeers.add(id);
            this.log.warn({ peer: id, term: this.term }, 'peer unreachable');
            this.events.event({ kind: 'peer', peer: id, up: false });
          }
          this.inbox.push((inbox) => inbox.unreachable.add(id));
        },
        snapshotStatus: (id, ok) => this.inbox.push((inbox) => inbox.snapshotStatus.push({ id, ok })),
        removed: (id) => this.onPeerSaysRemoved(id),
        rejected: (id, status) => this.logRejected(id, status),
        received: (msgs) => this.receive(msgs),
        dropped: (msgs) => this.failDroppedProposals(msgs),
      },
      stats: { roundTrip: (peer, seconds, ok, messages) => this.countRoundTrip(peer, seconds, ok, messages) },
      snapshotData: (snap) => this.snapshotData(snap),
    });
    for (const [id, url] of this.membership.urls) this.transport.addPeer(id, url);
  }

  /**
   * The kv state of the snapshot the node restarted from, for the caller to restore, or null.
   * Given once: the node does not keep it (a large state would stay in memory for nothing).
   */
  takeRestoredKv(): { data: Uint8Array; index: number } | null {
    const kv = this.restoredKv;
    this.restoredKv = null;
    return kv;
  }

  /** Look at the data dir and bring back what is there (or create a new member). */
  static async open(o: RaftNodeOptions): Promise<RaftNode> {
    const world = o.world ?? realWorld;
    const snapshotter = new Snapshotter(o.config.snapDir, { maxSnapshots: o.config.maxSnapshots, logger: o.log, fs: world.fs });
    const rec = (await Wal.exists(o.config.walDir, { fs: world.fs })) ? await recover(o, world, snapshotter) : await createNew(o, world);
    await world.fs.mkdir(o.config.snapDir, { recursive: true });
    return new RaftNode(o, rec, snapshotter);
  }

  /** Open the peer listener on the host:port of this member's URL. */
  async listenPeers(): Promise<void> {
    const service = createPeerService({
      identity: { clusterId: this.clusterId, localId: this.id, isRemoved: (id) => this.membership.removed.has(id) },
      deliver: (msgs) => this.receive(msgs),
      cluster: () => ({ clusterId: this.clusterId, members: this.membership.list() }),
      hold: (from, respond) => {
        if (this.stopRequested !== null) respond(null);
        else this.transport.hold(from, respond);
      },
      maxBatchBytes: peerBodyBytesMax,
      maxSnapshotBytes: peerSnapshotBodyBytesMax,
    });
    this.peerListener = await this.world.network.listen(this.cfg.peerUrls[this.id - 1]!, service);
  }

  /** Start ticking and the loops. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tickTimer = this.world.timers.every(() => {
      if (this.leaving) this.transport.probe(this.confState.voters);
      else this.probeWhenLeaderless();
      this.transport.releaseStale();
      // Reads time out on the clock, not on the loop: a loop held up by slow fsyncs must not
      // hold a read past its deadline (nor send one that waited past it, stale, to the leader).
      this.sweepReads();
      this.inbox.push((inbox) => inbox.ticks++);
    }, this.cfg.tickMs);
    this.inbox.consume(this.o.proposeC, this.o.confChangeC);
    this.loopDone = this.readyLoop();
  }

  /**
   * Publish --advertise-client-url through Raft (call once the client listener is open): a
   * client URL record is proposed once the node is ready, unless the member table has it.
   */
  publishClientUrl(): void {
    if (this.clientUrlPublisher !== null || this.stopRequested !== null || this.leaving) return;
    const electionMs = this.cfg.electionTicks * this.cfg.tickMs;
    this.clientUrlPublisher = new ClientUrlPublisher({
      memberId: this.id,
      clientUrl: this.cfg.advertiseClientUrl,
      readIndex: () => this.readIndex(),
      applied: () => this.appliedIndex,
      published: () => this.membership.clientUrls.get(this.id),
      propose: (data, failed) => this.proposeOwn(data, failed),
      clock: this.world.clock,
      timers: this.world.timers,
      log: this.log,
      attemptTimeoutMs: this.cfg.requestTimeoutMs,
      retryDelayMsMin: electionMs,
      retryDelayMsMax: Math.max(electionMs, PUBLISH_RETRY_DELAY_MS_MAX),
      pollIntervalMs: Math.min(this.cfg.tickMs, POLL_INTERVAL_MS_MAX),
    });
    void this.clientUrlPublisher.run();
  }

  /** One ReadIndex round: resolves with the commit index a linearizable read must wait for. */
  readIndex(): Promise<number> {
    if (this.stopRequested !== null) return Promise.reject(new ServiceError('ERR_STOPPING'));
    return new Promise<number>((resolve, reject) => {
      const deadline = this.world.clock.now() + this.cfg.requestTimeoutMs;
      this.inbox.push((inbox) => inbox.reads.push({ resolve, reject, deadline }));
    });
  }

  /**
   * If leader, hand leadership to the most up-to-date follower and wait (at most an election
   * timeout) for it to take over, so a planned stop does not leave the cluster leaderless.
   */
  async transferLeadership(): Promise<void> {
    if (this.raftState !== StateType.Leader || this.stopRequested !== null) return;
    let target = 0;
    let best = -1;
    for (const [id, p] of this.raft.status().progress ?? []) {
      if (id !== this.id && this.confState.voters.includes(id) && p.match > best) {
        best = p.match;
        target = id;
      }
    }
    if (target === 0) return;
    this.log.info({ to: target }, 'handing over leadership before stopping');
    this.inbox.push((inbox) => (inbox.transferTo = target));
    const deadline = this.world.clock.now() + this.cfg.electionTicks * this.cfg.tickMs;
    while (this.leader === this.id && this.world.clock.now() < deadline && this.stopRequested === null) {
      await sleep(this.world.timers, this.cfg.tickMs);
    }
  }

  /** Stop the loop after the Ready in progress, close the network, sync and close the WAL. */
  async stop(): Promise<void> {
    this.requestStop({ kind: 'stopped' });
    await this.loopDone;
    // Its file may be left without a marker (ignored at start, as after a crash); never a write after close.
    await this.abandonLocalSnapshot();
    this.transport.releaseAll();
    await this.peerListener?.close();
    await this.transport.close();
    this.failPending();
    await this.wal.close();
  }

  // ---- NodeInfo (for /-/ paths) ----

  async status(): Promise<NodeStatus> {
    const [walBytes, snapshotBytes] = await Promise.all([this.wal.diskBytes(), this.snapshotter.diskBytes()]);
    const status: NodeStatus = {
      id: this.id,
      leader: this.leader,
      term: this.term,
      commit: this.commit,
      applied: this.o.kvApplied(),
      raftState: STATE_NAMES[this.raftState],
      snapshotIndex: this.snapshotIndex,
      walBytes,
      snapshotBytes,
      members: this.members(),
      lastIndex: this.storage.lastIndex(),
      recentLogTerms: this.recentLogTerms(),
      links: this.peerLinks(),
    };
    const progress = this.followerProgress();
    if (progress !== null) status.progress = progress;
    return status;
  }

  members(): MemberWithRole[] {
    return this.membership.withRoles(this.confState);
  }

  async unhealthyReason(): Promise<string | null> {
    const reason = this.unhealthyNow();
    if (reason !== null) return reason;
    // Under load applied trails commit by a moment: wait for what was committed when asked.
    const commit = this.commit;
    const deadline = this.world.clock.now() + HEALTH_APPLY_WAIT_MS;
    while (this.o.kvApplied() < commit) {
      if (this.world.clock.now() >= deadline) return `applied index ${this.o.kvApplied()} behind commit index ${commit}`;
      await sleep(this.world.timers, Math.min(this.cfg.tickMs, POLL_INTERVAL_MS_MAX));
    }
    return this.unhealthyNow();
  }

  notReadyReason(): string | null {
    if (this.stopRequested !== null) return 'stopping';
    if (!this.running) return 'not started';
    return null;
  }

  async transferLeader(to: number): Promise<number> {
    if (this.stopRequested !== null) throw new ServiceError('ERR_STOPPING');
    if (this.confState.learners.includes(to)) throw new ServiceError('ERR_TRANSFER_TO_LEARNER');
    if (!this.confState.voters.includes(to)) throw new ServiceError('ERR_BAD_TRANSFER_TARGET', `no voter ${to}`);
    const from = this.leader;
    if (from === 0) throw new ServiceError('ERR_NO_LEADER');
    if (from === to) return to;
    this.log.info({ from, to, term: this.term }, 'leader transfer requested');
    this.inbox.push((inbox) => (inbox.transferTo = to));
    const now = () => this.world.clock.now();
    const deadline = now() + this.cfg.requestTimeoutMs;
    // The core gives a transfer one election timeout; ask again until ours runs out.
    const electionMs = this.cfg.electionTicks * this.cfg.tickMs;
    let askAgainAt = now() + electionMs;
    while (this.leader !== to) {
      if (this.stopRequested !== null) throw new ServiceError('ERR_STOPPING_IN_FLIGHT');
      if (this.leader !== 0 && this.leader !== from) throw new ServiceError('ERR_TRANSFER_REFUSED', `member ${this.leader} became leader instead`);
      if (now() >= deadline) throw new ServiceError('ERR_TRANSFER_TIMEOUT');
      if (now() >= askAgainAt && this.leader !== 0) {
        this.inbox.push((inbox) => (inbox.transferTo = to));
        askAgainAt = now() + electionMs;
      }
      await sleep(this.world.timers, Math.min(this.cfg.tickMs, POLL_INTERVAL_MS_MAX));
    }
    return to;
  }

  private unhealthyNow(): string | null {
    if (this.stopRequested !== null) return 'stopping';
    if (this.leaving) return 'removed from the cluster; waiting for a remaining voter to confirm';
    if (!this.running) return 'not started';
    if (this.leader === 0) return 'no leader';
    if (!this.o.kvApplying()) return 'not applying';
    return null;
  }

  /** On the leader, each other member's progress (the core's) and when we last heard from it; else null. */
  private followerProgress(): FollowerProgress[] | null {
    if (this.raftState !== StateType.Leader) return null;
    const progress = this.raft.status().progress;
    if (progress === null) return null;
    const now = this.world.clock.now();
    const out: FollowerProgress[] = [];
    for (const [id, p] of [...progress].sort((a, b) => a[0] - b[0])) {
      if (id === this.id) continue;
      const heard = this.lastHeardMs.get(id);
      out.push({ id, match: p.match, next: p.next, state: p.state, msSinceHeard: heard === undefined ? null : now - heard });
    }
    return out;
  }

  /** The terms of the last entries on disk (at most statusLogTermsMax), for the dashboard's log view. */
  private recentLogTerms(): RecentLogTerms {
    const last = this.storage.lastIndex();
    const firstIndex = Math.max(this.storage.firstIndex(), last - statusLogTermsMax + 1);
    const terms: number[] = [];
    for (let i = firstIndex; i <= last; i++) terms.push(this.storage.term(i));
    return { firstIndex, terms };
  }

  /** Each peer link as this node sees it: messages delivered and failed, reachability, last heard. */
  private peerLinks(): PeerLink[] {
    const now = this.world.clock.now();
    return this.transport.peerIds().sort((a, b) => a - b).map((peer) => {
      const counts = this.linkCounts.get(peer);
      const heard = this.lastHeardMs.get(peer);
      return {
        peer,
        messagesSent: counts?.sent ?? 0,
        messagesFailed: counts?.failed ?? 0,
        unreachable: this.unreachablePeers.has(peer),
        msSinceHeard: heard === undefined ? null : now - heard,
      };
    });
  }

  private countRoundTrip(peer: number, seconds: number, ok: boolean, messages: number): void {
    let counts = this.linkCounts.get(peer);
    if (counts === undefined) this.linkCounts.set(peer, (counts = { sent: 0, failed: 0 }));
    if (ok) counts.sent += messages;
    else counts.failed += messages;
    this.metrics.peerRoundTrip(peer, seconds, ok, messages);
  }

  /** Peer messages arrived (a request, or replies held for us): step them in the next turn. */
  private receive(msgs: Message[]): void {
    const now = this.world.clock.now();
    for (const m of msgs) {
      this.lastHeardMs.set(m.from, now);
      if (this.unreachablePeers.delete(m.from)) {
        this.log.info({ peer: m.from, term: this.term }, 'peer reachable again');
        this.events.event({ kind: 'peer', peer: m.from, up: true });
      }
    }
    this.inbox.push((inbox) => {
      for (const m of msgs) inbox.msgs.push(m);
    });
  }

  // ---- the Ready loop ----

  private async readyLoop(): Promise<void> {
    try {
      while (this.stopRequested === null) {
        this.feedInbox();
        if (!this.raft.hasReady()) {
          this.transport.releaseFed([]); // what was fed produced nothing to answer
          if (this.localSnapshot?.isSettled === true || (this.localSnapshot === null && this.snapshotForRepair)) await this.maybeSnapshot();
          else await this.inbox.waitForWork();
          continue;
        }
        const rd = this.raft.ready();
        this.observer?.ready(rd);
        await this.handleReady(rd);
        this.raft.advance(rd);
        await this.maybeSnapshot();
      }
    } catch (e) {
      this.requestStop({ kind: 'fatal', error: e as Error });
    } finally {
      if (this.tickTimer !== null) this.world.timers.clear(this.tickTimer);
      this.running = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.hardState !== null) {
      this.term = rd.hardState.term;
      this.commit = rd.hardState.commit;
    }
    if (rd.softState !== null) this.onSoftState(rd.softState.lead, rd.softState.raftState);
    // MemoryStorage holds exactly what is on disk: it is appended only after the WAL save.
    const plan = planReady(rd, coalesceMessages(rd.messages), this.raftState === StateType.Leader || this.bugs.ackBeforeFsync === true, this.storage.lastIndex(), this.bugs.applyConfChangeEarly === true);
    if (this.bugs.ackBeforeFsync === true) plan.sendEarly.push(...plan.sendAfterPersist.splice(0));
    if (this.bugs.applyBeforeDurable === true && rd.snapshot === null) {
      const confChange = plan.applyAfterPersist.findIndex((e) => e.type === EntryType.ConfChange);
      plan.applyEarly = [...plan.applyEarly, ...plan.applyAfterPersist.splice(0, confChange < 0 ? plan.applyAfterPersist.length : confChange)];
    }
    if (plan.sendEarly.length > 0) this.send(plan.sendEarly);
    // Committed entries already on our disk need not wait for this Ready's fsync: apply them
    // (and answer their clients) while it runs.
    if (plan.applyEarly.length > 0) await this.applyEntries(plan.applyEarly);
    const snap = rd.snapshot;
    if (snap !== null) {
      // The leader's state replaces ours: a snapshot of ours being taken is of no use now.
      await this.abandonLocalSnapshot();
      // The file first, then the marker that vouches for it.
      await this.saveSnapshotFile(snap);
      await this.wal.saveSnapshotMarker({ index: snap.metadata.index, term: snap.metadata.term });
    }
    if (rd.hardState !== null || rd.entries.length > 0) {
      const started = this.world.clock.now();
      await this.wal.save(rd.hardState, rd.entries, rd.mustSync);
      if (rd.mustSync) this.metrics.walFsync((this.world.clock.now() - started) / 1000);
    }
    if (snap !== null) {
      // Its file is durable: the storage need not keep the data in memory too.
      this.storage.applySnapshot(dataOnDisk(snap));
      await this.applySnapshot(snap);
    }
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    this.observer?.persisted(rd);
    // Persisted: answer the peers' requests fed into this Ready, with our messages for them.
    this.observer?.sent(plan.sendAfterPersist);
    const rest = this.transport.releaseFed(plan.sendAfterPersist);
    if (rest.length > 0) this.transport.send(rest);
    if (rd.readStates.length > 0) this.answerReads(rd);
    if (plan.applyAfterPersist.length > 0) await this.applyEntries(plan.applyAfterPersist);
  }

  private answerReads(rd: Ready): void {
    let answered = 0;
    for (const rs of rd.readStates) {
      const index = this.bugs.readFromOlderRound === true ? Math.min(this.olderReadIndex, rs.index) : rs.index;
      this.olderReadIndex = rs.index;
      const r = this.reads.answer(rs.requestCtx, index);
      if (r === undefined) continue;
      if (r.renewal !== true) answered++;
      // A round we asked as leader, confirmed while we still lead in its term: a lease from when it was asked.
      const asked = r.asked;
      if (this.lease !== null && asked !== undefined && asked.conf === this.confEpoch && this.raft.leaseReadIndex(asked.term) >= 0) {
        this.lease.confirmed(asked);
      }
    }
    if (answered > 0) this.metrics.readsIndexed('round', answered);
  }

  /** Hand messages to the transport (and, in the simulator, say so). */
  private send(msgs: Message[]): void {
    this.observer?.sent(msgs);
    this.transport.send(msgs);
  }

  private async applyEntries(ents: Entry[]): Promise<void> {
    const data: Uint8Array[] = [];
    for (const e of ents) {
      if (e.type === EntryType.ConfChange) this.applyConfChange(e);
      else if (isClientUrlRecord(e.data)) this.applyClientUrlRecord(e);
      else if (e.data.length > 0) data.push(e.data);
    }
    const last = ents[ents.length - 1]!.index;
    this.appliedIndex = last;
    this.observer?.applied(ents, this.confState);
    await this.o.commitC.send({ snapshot: null, entries: data, index: last, done: null });
  }

  /** A member's client URL record: into the member table (the kvstore never sees it). */
  private applyClientUrlRecord(e: Entry): void {
    const record = decodeClientUrlRecord(e.data);
    if (record === null) {
      this.log.warn({ index: e.index }, 'skipping unreadable client URL record');
      return;
    }
    const outcome = this.membership.applyClientUrl(record, this.confState);
    const fields = { member: record.memberId, clientUrl: record.clientUrl, index: e.index, term: this.term };
    if (outcome === 'set') this.log.info(fields, 'member client URL set');
    else if (outcome === 'notMember') this.log.info(fields, 'client URL record ignored: not a member');
  }

  private applyConfChange(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
    } catch (err) {
      this.log.error({ index: e.index, err: (err as Error).message }, 'skipping undecodable conf change entry');
      return;
    }
    const { requestId, kind, peerUrl: url } = decodeConfChangeContext(cc.context, cc.type);
    const change: MemberChange = { kind, type: cc.type, nodeId: cc.nodeId, peerUrl: url };
    // Decided on replicated state, so every node refuses the same entries: a change that was
    // valid when proposed may not be by the time it applies (two requests for the same id).
    // The entries of a bootstrap this process made are in the core's configuration already.
    const refusal = e.index <= this.bootstrapEntries ? null : this.membership.refusal(change, this.confState);
    if (refusal !== null) {
      this.log.warn({ member: cc.nodeId, type: cc.type, index: e.index, refusal }, 'membership change refused at apply');
      if (this.bugs.confChangeByContent === true) this.confChanges.settleSameChange(change, new ServiceError(refusal));
      else if (requestId !== null) this.confChanges.settle(requestId, new ServiceError(refusal));
      return;
    }
    const wasVoter = this.confState.voters.includes(this.id);
    this.confState = this.raft.applyConfChange(cc);
    this.confEpoch++;
    switch (kind) {
      case 'promote':
        this.log.info({ member: cc.nodeId, index: e.index, term: this.term }, 'learner promoted to voter');
        this.events.event({ kind: 'member', change: 'promoted', member: cc.nodeId, index: e.index });
        break;
      case 'addVoter':
      case 'addLearner':
        if (url.length > 0) {
          this.membership.add(cc.nodeId, url);
          this.transport.addPeer(cc.nodeId, url);
        }
        this.log.info({ member: cc.nodeId, url, role: kind === 'addLearner' ? 'learner' : 'voter', index: e.index, term: this.term }, 'member added');
        this.events.event({ kind: 'member', change: kind === 'addLearner' ? 'added-learner' : 'added-voter', member: cc.nodeId, index: e.index });
        this.snapshotForMembership = this.bugs.skipSnapshotAfterAddNode !== true;
        break;
      case 'remove':
        this.membership.remove(cc.nodeId);
        this.transport.removePeer(cc.nodeId);
        this.linkCounts.delete(cc.nodeId);
        this.log.info({ member: cc.nodeId, index: e.index, term: this.term }, 'member removed');
        this.events.event({ kind: 'member', change: 'removed', member: cc.nodeId, index: e.index });
        break;
    }
    // First: a DELETE of this very node, sent to it, still gets its 204.
    if (this.bugs.confChangeByContent === true) this.confChanges.settleSameChange(change, null);
    else if (requestId !== null) this.confChanges.settle(requestId, null);
    if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.id) this.leave(wasVoter);
  }

  /**
   * We applied our own removal. A learner, or a voter whose peers all still count without it,
   * may go at once; but the survivors may not know the removal committed yet (the one message
   * saying so can be lost), and a survivor of a two-voter cluster that does not know it can
   * never be elected without our vote. So a voter stays, serving votes and appends, and asks
   * the remaining voters each tick until one answers 410: it has applied the removal, after
   * its fsync, so it knows for good (see onPeerSaysRemoved).
   */
  private leave(wasVoter: boolean): void {
    if (!wasVoter || this.confState.voters.length === 0) {
      this.requestStop({ kind: 'removed' }, 'this member was removed from the cluster');
      return;
    }
    this.leaving = true;
    this.clientUrlPublisher?.stop();
    this.log.warn({ voters: this.confState.voters }, 'this member was removed from the cluster: staying until a remaining voter confirms');
  }

  /**
   * A member removed while it was cut off or behind may never hear of it: no leader sends to
   * it any more, and a learner never campaigns (simulator seed 9598: a learner removed while
   * down stayed up for good, answering nothing). So a member that has had no leader to hear
   * from for two election timeouts asks the voters it knows, once per two election timeouts;
   * one that applied its removal answers 410 (onPeerSaysRemoved). A member still in the
   * cluster gets the usual answer, and nothing changes.
   */
  private probeWhenLeaderless(): void {
    if (this.raftState === StateType.Leader || this.leaderHeardLately()) {
      this.leaderlessTicks = 0;
      return;
    }
    if (++this.leaderlessTicks % (2 * this.cfg.electionTicks) === 0) this.transport.probe(this.confState.voters);
  }

  /** A peer answered 410: it applied our removal. A voter's word lets us go; a learner's may come first. */
  private onPeerSaysRemoved(id: number): void {
    if (this.leaving && !this.confState.voters.includes(id)) return;
    if (!this.leaving && this.confState.learners.includes(id)) return;
    this.requestStop({ kind: 'removed' }, `member ${id} says this member was removed from the cluster`);
  }

  private async applySnapshot(snap: Snapshot): Promise<void> {
    const { membership, kv } = decodeSnapshotData(snap.data);
    for (const id of this.transport.peerIds()) {
      if (membership.urls.has(id)) continue;
      this.transport.removePeer(id);
      this.linkCounts.delete(id);
    }
    this.membership.replaceWith(membership);
    for (const [id, url] of this.membership.urls) this.transport.addPeer(id, url);
    this.confState = snap.metadata.confState;
    this.appliedIndex = this.snapshotIndex = snap.metadata.index;
    this.observer?.installed(snap);
    await this.o.commitC.send({ snapshot: kv, entries: [], index: snap.metadata.index, done: null });
    await this.releaseTo(snap.metadata.index);
    this.log.info({ index: snap.metadata.index, term: snap.metadata.term }, 'applied snapshot from leader');
    this.events.event({ kind: 'snapshot', how: 'installed', index: snap.metadata.index });
    if (this.membership.removed.has(this.id)) this.requestStop({ kind: 'removed' }, 'this member was removed from the cluster');
  }

  /**
   * In the loop's turn: take over a snapshot of ours whose file is durable, then start one
   * every --snapshot-count applied entries (or at once after a member was added, or right
   * after the one running), taken off the loop (LocalSnapshot).
   */
  private async maybeSnapshot(): Promise<void> {
    const running = this.localSnapshot;
    if (running !== null) {
      if (!running.isSettled) return;
      this.localSnapshot = null;
      if (running.error !== null) throw running.error;
      if (running.snapshot !== null) {
        await this.completeSnapshot(running.snapshot, running.afterMembershipChange);
        this.snapshotForRepair = false; // the newest file, the one a follower is sent, is new
      }
    }
    if (this.snapshotForRepair) {
      this.snapshotForRepair = false;
      this.log.warn({ index: this.appliedIndex, damaged: this.unreadableSnapshotIndex }, 'taking a snapshot to replace one whose file could not be read');
      await this.startSnapshot(this.appliedIndex, false);
      return;
    }
    const force = this.snapshotForMembership;
    if (this.appliedIndex <= this.snapshotIndex) {
      this.snapshotForMembership = false; // the snapshot we have already holds every member applied
      return;
    }
    if (!force && this.appliedIndex - this.snapshotIndex < this.cfg.snapshotCount) return;
    this.snapshotForMembership = false;
    await this.startSnapshot(this.appliedIndex, force);
  }

  /** Start a snapshot at `index`, everything up to which was handed to the kvstore. */
  private async startSnapshot(index: number, force: boolean): Promise<void> {
    const job = new LocalSnapshot({
      index,
      term: this.storage.term(index),
      confState: this.confState,
      members: encodeSnapshotDataMembers(this.membership),
      chunkBytes: this.o.snapshotChunkBytes ?? snapshotChunkBytesDefault,
      yieldToLoop: () => sleep(this.world.timers, 0),
      createFile: (metadata) => this.createSnapshotFile(metadata),
      settled: () => this.inbox.kick(),
      afterMembershipChange: force,
    });
    this.localSnapshot = job;
    this.log.info({ index, term: this.term }, 'snapshot started');
    // commitC is FIFO: when the kvstore gets here it has applied exactly up to index.
    await this.o.commitC.send({ snapshot: null, entries: [], index, done: () => job.begin(this.o.kvCapture) });
  }

  /**
   * Our snapshot's file is durable: the marker that vouches for it, then the snapshot for
   * followers, compaction, and release of old segments and files (in that order: a crash
   * between any two leaves a node that restarts from the newest vouched-for snapshot).
   */
  private async completeSnapshot(snap: DurableLocalSnapshot, afterMembershipChange: boolean): Promise<void> {
    const { index, term } = snap.metadata;
    const newest = this.storage.snapshot().metadata.index;
    // A leader's snapshot installed since is newer (abandonLocalSnapshot keeps this from happening).
    if (index < newest) return;
    if (index === newest) {
      // A repair (snapshotForRepair): the same state at the same index, its file rewritten;
      // the marker that vouches for it is in the WAL already.
      this.log.info({ index, bytes: snap.dataBytes, term: this.term }, 'snapshot file rewritten');
      return;
    }
    await this.wal.saveSnapshotMarker({ index, term });
    // The data stays in its file: read back only to send it to a follower (snapshotData).
    this.storage.createSnapshot(index, snap.metadata.confState, SNAPSHOT_DATA_ON_DISK);
    // Never compact what the core has not yet handed out as committed.
    const keepFrom = Math.min(index - this.cfg.snapshotCatchupEntries, this.raft.status().applied);
    const compactTo = Math.max(0, keepFrom);
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
    await this.releaseTo(index);
    this.snapshotIndex = index;
    this.log.info({ index, compactedTo: compactTo, bytes: snap.dataBytes, term: this.term, applied: this.appliedIndex }, afterMembershipChange ? 'snapshot after membership change' : 'snapshot taken');
    this.events.event({ kind: 'snapshot', how: 'taken', index });
  }

  /** Cancel our snapshot in progress and wait until it does nothing more (a write in flight finishes). */
  private async abandonLocalSnapshot(): Promise<void> {
    const job = this.localSnapshot;
    if (job === null) return;
    this.localSnapshot = null;
    await job.cancel();
    if (job.phase === 'failed') this.log.warn({ index: job.index, err: job.error?.message }, 'snapshot in progress failed, abandoned');
    else if (job.phase !== 'durable') this.log.info({ index: job.index }, 'snapshot in progress abandoned');
  }

  /** Write (and sync) a leader's snapshot's file, timed for the metrics. */
  private async saveSnapshotFile(snap: Snapshot): Promise<void> {
    const started = this.world.clock.now();
    await this.snapshotter.save(snap);
    await this.snapshotFileSaved(started);
  }

  /** Our own snapshot's file, written as the state is encoded; timed from its first byte to durable. */
  private async createSnapshotFile(metadata: SnapshotMetadata): Promise<SnapshotSink> {
    const started = this.world.clock.now();
    const file = await this.snapshotter.create(metadata);
    return {
      write: (chunk) => file.write(chunk),
      abort: () => file.abort(),
      commit: async () => {
        await file.commit();
        await this.snapshotFileSaved(started);
      },
    };
  }

  private async snapshotFileSaved(started: number): Promise<void> {
    if (this.bugs.retainBeforeMarker === true) await this.snapshotter.retain(null);
    this.metrics.snapshotSaved((this.world.clock.now() - started) / 1000);
  }

  /** A snapshot's data to send to a follower: from its file when the storage holds it there. */
  private async snapshotData(snap: Snapshot): Promise<Uint8Array> {
    if (snap.data !== SNAPSHOT_DATA_ON_DISK) return snap.data;
    try {
      return (await this.snapshotter.load(snap.metadata)).data;
    } catch (e) {
      const { index, term } = snap.metadata;
      if (index !== this.unreadableSnapshotIndex) {
        this.unreadableSnapshotIndex = index;
        this.log.error({ err: e, index, term }, 'could not read our snapshot to send it to a follower; taking a new one');
      }
      this.snapshotForRepair = true;
      this.inbox.kick();
      throw e;
    }
  }

  /** A snapshot at `index` is durable and marked: old WAL segments and snapshot files may go. */
  private async releaseTo(index: number): Promise<void> {
    await this.wal.releaseTo(index);
    await this.snapshotter.retain(this.wal.newestVouchedMarker());
  }

  // ---- feeding the core ----

  private feedInbox(): void {
    const inbox = this.inbox;
    if (inbox.snapshotStatus.length > 0) {
      for (const st of inbox.snapshotStatus) this.raft.reportSnapshot(st.id, st.ok);
      inbox.snapshotStatus = [];
    }
    if (inbox.unreachable.size > 0) {
      for (const id of inbox.unreachable) this.raft.reportUnreachable(id);
      inbox.unreachable.clear();
    }
    if (inbox.msgs.length > 0) {
      const msgs = inbox.msgs;
      inbox.msgs = [];
      this.transport.markFed();
      for (const m of msgs) this.stepPeerMessage(m);
    }
    if (inbox.ticks > 0) {
      const n = Math.min(inbox.ticks, MAX_TICKS_PER_TURN);
      inbox.ticks = 0;
      for (let i = 0; i < n; i++) this.raft.tick();
      this.sweepDeadlines();
    }
    if (inbox.transferTo !== 0) {
      this.startTransfer(inbox.transferTo);
      inbox.transferTo = 0;
    }
    if (inbox.confChanges.length > 0) {
      const deadline = this.world.clock.now() + this.cfg.requestTimeoutMs;
      for (const r of inbox.takeConfChanges()) this.proposeConfChange(r, deadline);
    }
    if (inbox.proposals.length > 0) this.propose(inbox.takeProposals());
    inbox.drainedForNow();
    if (inbox.reads.length > 0) {
      const reads = inbox.reads;
      inbox.reads = [];
      const now = this.world.clock.now();
      const wall = this.world.clock.wallNow?.() ?? now;
      const index = this.leaseReadIndex(now, wall);
      if (index >= 0) {
        for (const r of reads) r.resolve(index);
        this.metrics.readsIndexed('lease', reads.length);
      } else {
        for (const r of reads) this.requestRead(r, now, wall);
      }
    }
  }

  /**
   * Nothing a peer sends may stop the node: the core refuses what a peer cannot mean (a
   * local-only type, a malformed message) with a RaftError before acting on it, and we count
   * and drop it. Any other error is a bug of ours and stops the node.
   */
  private stepPeerMessage(m: Message): void {
    // Only members speak: a message from an id we do not know (a stranger with the cluster id,
    // or a member added by an entry we have not applied yet) is dropped, as a lost one would be,
    // so no outsider can move our term or leadership; except a leader's or a candidate's, when
    // we have no leader to hear from.
    if (!this.membership.urls.has(m.from) && !this.confState.voters.includes(m.from) && !this.confState.learners.includes(m.from)) {
      if (!this.mayFollowUnknown(m)) return this.dropPeerMessage(m, 'not a member');
    }
    if (m.type === MessageType.MsgTransferLeader) {
      const asked = this.transferAskedByPeer(m);
      if (asked === null) return;
      m = asked;
    }
    try {
      this.raft.step(m);
    } catch (e) {
      if (!isRaftError(e)) throw e;
      // A stale response from a member we no longer track is routine; anything else is worth a line.
      if (e.code === RaftErrorCode.StepPeerNotFound) this.log.debug({ type: m.type, from: m.from, code: e.code }, 'message ignored');
      else this.dropPeerMessage(m, `${e.code}: ${e.message}`);
    }
  }

  /**
   * A member that fell behind the membership may be led by a member added after what it has
   * applied: the only one left that can bring it up to date (one voter adding another and
   * then leaving, while a learner was down). As etcd does for a peer it cannot recognize, it
   * takes that leader's appends, heartbeats and snapshots, but only while it has no leader of
   * its own to hear from (no leader, or none heard for an election timeout) and is not one:
   * a node that is led never lets an outsider move its term. Never from a removed id.
   * Likewise its (pre-)vote requests: when the newer configuration needs this member's vote
   * (voters {2, 6}, 2 behind and not knowing 6, 6 restarted), no leader is ever elected
   * otherwise (simulator seed 2118). A vote depends on terms and logs only, so it is as safe
   * given to a member we do not know yet as to one we do; the answer goes back in the
   * response to the candidate's request.
   */
  private mayFollowUnknown(m: Message): boolean {
    const t = m.type;
    if (t !== MessageType.MsgApp && t !== MessageType.MsgHeartbeat && t !== MessageType.MsgSnap && t !== MessageType.MsgVote && t !== MessageType.MsgPreVote) return false;
    if (this.membership.removed.has(m.from) || this.raftState === StateType.Leader) return false;
    return this.leader === m.from || !this.leaderHeardLately();
  }

  /** We know a leader and heard from it within an election timeout. */
  private leaderHeardLately(): boolean {
    const heard = this.leader === 0 ? undefined : this.lastHeardMs.get(this.leader);
    return heard !== undefined && this.world.clock.now() - heard <= this.cfg.electionTicks * this.cfg.tickMs;
  }

  /**
   * A follower asks the leader for a transfer itself. The core's own forward names the
   * transferee in `from`, which the peer server refuses (a message's `from` must be its
   * sender); so the transferee travels in the context, and the leader puts it back in `from`.
   */
  private startTransfer(to: number): void {
    if (this.raftState === StateType.Leader || this.leader === 0) {
      this.raft.transferLeader(to);
      return;
    }
    const context = Buffer.from(String(to), 'utf8');
    this.send([{ ...TRANSFER_REQUEST, term: this.term, from: this.id, to: this.leader, context }]);
  }

  /** A peer's transfer request as the core takes it (transferee in `from`), or null to drop it. */
  private transferAskedByPeer(m: Message): Message | null {
    // Not the leader (any more): the asker asks again (see transferLeader); the core's forward
    // would name the transferee as sender, which peers refuse.
    if (this.raftState !== StateType.Leader) return null;
    const transferee = parseNodeId(utf8.decode(m.context));
    if (transferee === null) {
      this.dropPeerMessage(m, 'transfer request without a transferee');
      return null;
    }
    return { ...m, from: transferee, context: new Uint8Array(0) };
  }

  private dropPeerMessage(m: Message, why: string): void {
    this.droppedPeerMessages++;
    const now = this.world.clock.now();
    if (now - this.lastDroppedLog < DROPPED_LOG_INTERVAL_MS) return;
    this.lastDroppedLog = now;
    this.log.warn({ type: m.type, from: m.from, why, dropped: this.droppedPeerMessages }, 'dropped a bad peer message');
  }

  /**
   * The queued proposals as few MsgProps as fit a peer message each (a follower forwards them
   * to the leader as they are): one append and one broadcast per batch; a dropped batch fails.
   * A proposal whose client gave up while it waited here was answered "not applied": keep it so.
   */
  private propose(queued: Proposal[]): void {
    const props = queued.filter((p) => p.state === ProposalState.Queued);
    for (let from = 0; from < props.length; ) {
      let to = from;
      let bytes = 0;
      while (to < props.length && to - from < peerMessageEntriesMax) {
        const b = props[to]!.data.length + entryOverheadBytesMax;
        if (to > from && bytes + b > proposalBatchBytesMax) break;
        bytes += b;
        to++;
      }
      this.proposeBatch(props, from, to);
      from = to;
    }
  }

  private proposeBatch(props: Proposal[], from: number, to: number): void {
    const data = new Array<Uint8Array>(to - from);
    for (let i = from; i < to; i++) data[i - from] = props[i]!.data;
    try {
      this.raft.proposeBatch(data);
    } catch (e) {
      const err = this.dropped(e);
      for (let i = from; i < to; i++) props[i]!.fail(err);
      return;
    }
    for (let i = from; i < to; i++) props[i]!.state = ProposalState.Proposed;
    if (this.raftState !== StateType.Leader) for (let i = from; i < to; i++) this.proposalsByData.set(data[i - from]!, props[i]!);
  }

  /** The transport dropped messages for certain: a forwarded MsgProp's proposals can fail now, not at their timeout. */
  private failDroppedProposals(msgs: Message[]): void {
    let n = 0;
    for (const m of msgs) {
      if (m.type !== MessageType.MsgProp) continue;
      for (const e of m.entries) {
        const p = this.proposalsByData.get(e.data);
        if (p === undefined) continue;
        this.proposalsByData.delete(e.data);
        p.fail(new ServiceError('ERR_NO_LEADER', 'proposal dropped on its way to the leader, try again'));
        n++;
      }
    }
    if (n === 0) return;
    this.proposalsDroppedTotal += n;
    const now = this.world.clock.now();
    if (now - this.lastDropLog < DROPPED_LOG_INTERVAL_MS) return;
    this.lastDropLog = now;
    this.log.warn({ dropped: n, droppedTotal: this.proposalsDroppedTotal, leader: this.leader }, 'forwarded proposals dropped by the transport');
  }

  /** A proposal of the node's own (not a client's): it goes into the next Ready with theirs. */
  private proposeOwn(data: Uint8Array, failed: (e: Error) => void): void {
    const proposal: Proposal = { data, state: ProposalState.Queued, fail: failed };
    this.inbox.push((inbox) => inbox.proposals.push(proposal));
  }

  private proposeConfChange(r: ConfChangeRequest, deadline: number): void {
    const refusal = this.membership.refusal(r.change, this.confState);
    if (refusal !== null) {
      r.reject(new ServiceError(refusal));
      return;
    }
    if (r.change.kind === 'promote') {
      const notReady = this.promotionRefusal(r.change.nodeId);
      if (notReady !== null) {
        r.reject(notReady);
        return;
      }
    }
    const requestId = this.confChanges.nextRequestId();
    const { kind, type, nodeId, peerUrl } = r.change;
    try {
      this.raft.proposeConfChange({ type, nodeId, context: encodeConfChangeContext(requestId, kind, peerUrl) });
      this.confChanges.add(r, requestId, deadline);
    } catch (e) {
      r.reject(this.dropped(e));
    }
  }

  /**
   * Only the leader knows how far a learner is, so only the leader proposes a promotion: a
   * follower answers 503 naming the leader (a client moves on to the next endpoint).
   */
  private promotionRefusal(id: number): ServiceError | null {
    if (this.leader === 0) return new ServiceError('ERR_NO_LEADER');
    if (this.raftState !== StateType.Leader) return new ServiceError('ERR_NOT_LEADER', `the leader is member ${this.leader}`);
    const core = this.raft.status();
    const heard = this.lastHeardMs.get(id);
    const why = learnerNotReadyReason({
      progress: core.progress?.get(id) ?? null,
      leaderCommit: core.commit,
      msSinceHeard: heard === undefined ? null : this.world.clock.now() - heard,
      electionTimeoutMs: this.cfg.electionTicks * this.cfg.tickMs,
    });
    return why === null ? null : new ServiceError('ERR_LEARNER_NOT_READY', why);
  }

  /**
   * Under the lease (read-lease.ts), the index a read may use now: our commit index. Asks for a
   * round to renew the lease when half of it has run. -1 when the lease does not hold.
   */
  private leaseReadIndex(now: number, wall: number): number {
    if (this.lease === null) return -1;
    const term = this.lease.heldTerm(now, wall, this.confEpoch);
    const index = term === 0 ? -1 : this.raft.leaseReadIndex(term);
    if (index >= 0 && this.lease.shouldRenew(now)) {
      const done = () => this.lease!.renewed();
      this.requestRead({ resolve: done, reject: done, deadline: now + this.cfg.requestTimeoutMs, renewal: true }, now, wall);
    }
    return index;
  }

  private requestRead(r: ReadRequest, now: number, wall: number): void {
    r.asked = { at: now, wall, term: this.raft.term, conf: this.confEpoch };
    try {
      this.reads.start(r, (ctx) => this.raft.readIndex(ctx));
    } catch (e) {
      r.reject(this.dropped(e));
    }
  }

  private dropped(e: unknown): Error {
    if (isRaftError(e, RaftErrorCode.ProposalDropped)) {
      // A leader whose bounds are full is there, just busy: shed (503 overloaded), not "no leader".
      if (e.overloaded) return new ServiceError('ERR_OVERLOADED', e.message);
      return new ServiceError('ERR_NO_LEADER', this.leader === 0 ? undefined : 'proposal dropped, try again');
    }
    throw e;
  }

  private onSoftState(lead: number, state: StateType): void {
    const changed = lead !== this.leader;
    if (state !== this.raftState) {
      this.log.info({ term: this.term, leader: lead }, `became ${ROLE_NAMES[state]}`);
      this.events.event({ kind: 'role', role: ROLE_NAMES[state], term: this.term });
    }
    this.leader = lead;
    this.raftState = state;
    if (state !== StateType.Leader) this.lease?.drop();
    if (!changed) return;
    if (lead !== 0) this.metrics.leaderChanged();
    this.log.info({ leader: lead, state: STATE_NAMES[state], term: this.term }, lead === 0 ? 'lost leader' : 'leader elected');
    this.events.event({ kind: 'leader', leader: lead, term: this.term });
    // A read sent to the old leader may never be answered: ask the new one.
    if (this.reads.size > 0) for (const r of this.reads.takeAll()) this.inbox.reads.push(r);
  }

  private sweepReads(): void {
    const now = this.world.clock.now();
    const timedOut = () => new ServiceError('ERR_READ_TIMEOUT', 'no read index in time');
    this.reads.sweep(now, timedOut);
    const inbox = this.inbox;
    if (inbox.reads.some((r) => r.deadline <= now)) {
      for (const r of inbox.reads) if (r.deadline <= now) r.reject(timedOut());
      inbox.reads = inbox.reads.filter((r) => r.deadline > now);
    }
  }

  private sweepDeadlines(): void {
    const now = this.world.clock.now();
    this.sweepReads();
    this.confChanges.sweep(now, () => new ServiceError('ERR_TIMEOUT', 'membership change not applied in time'));
  }

  /** Fail everything waiting here: what was proposed has an unknown outcome, the rest was not applied. */
  private failPending(): void {
    const notApplied = new ServiceError('ERR_STOPPING');
    for (const r of this.reads.takeAll()) r.reject(notApplied);
    for (const r of this.inbox.reads.splice(0)) r.reject(notApplied);
    this.confChanges.failAll(new ServiceError('ERR_STOPPING_IN_FLIGHT'));
    for (const r of this.inbox.takeConfChanges()) r.reject(notApplied);
    for (const p of this.inbox.takeProposals()) p.fail(notApplied);
  }

  private requestStop(reason: StopReason, why?: string): void {
    if (this.stopRequested !== null) return;
    this.stopRequested = reason;
    this.clientUrlPublisher?.stop();
    if (why !== undefined) this.log.warn({ reason: reason.kind }, why);
    if (reason.kind === 'removed') {
      // Our removal is committed (we applied it, or a peer that applied it told us): a request
      // for it, waiting here, succeeded even if we stop before applying it ourselves.
      // (Matched by content, not identity: here the effect the request asked for is known to hold.)
      this.confChanges.resolveWhere((r) => r.change.type === ConfChangeType.RemoveNode && r.change.nodeId === this.id);
    }
    if (reason.kind !== 'stopped') this.failPending();
    this.inbox.kick();
    this.resolveFinished(reason);
  }

  private logRejected(id: number, status: number): void {
    const now = this.world.clock.now();
    if (now - this.lastRejectLog < 5000) return;
    this.lastRejectLog = now;
    this.log.error({ peer: id, status }, 'peer refused our messages: cluster id or member id mismatch');
  }
}

/** The fields of a follower's transfer request other than from, to and the transferee. */
const TRANSFER_REQUEST: Message = newMessage({ type: MessageType.MsgTransferLeader });
const utf8 = new TextDecoder();

/** For the lifecycle lines: "became leader", "became candidate", ... */
const ROLE_NAMES: Record<StateType, string> = {
  [StateType.Follower]: 'follower',
  [StateType.Candidate]: 'candidate',
  [StateType.Leader]: 'leader',
  [StateType.PreCandidate]: 'pre-candidate',
};

const STATE_NAMES: Record<StateType, string> = {
  [StateType.Follower]: 'StateFollower',
  [StateType.Candidate]: 'StateCandidate',
  [StateType.Leader]: 'StateLeader',
  [StateType.PreCandidate]: 'StatePreCandidate',
};

