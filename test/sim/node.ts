// One simulated server: a RawNode driven exactly as the real service drives it (persist →
// send → apply → advance, one Ready in flight, late messages and applies held back until the
// fsync completes), its fake disk, its key-value state machine and its pending client calls.

import { planReady } from '../../src/node/ready-plan.ts';
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  isRaftError,
  MemoryStorage,
  type Message,
  type NodeId,
  type PlantedBugs,
  RaftErrorCode,
  RawNode,
  type Ready,
  type Snapshot,
} from '../../src/raft/index.ts';
import { SimDisk } from './disk.ts';
import type { History, HistoryOp } from './history.ts';
import { type SafetyChecker, Violation } from './invariants.ts';
import { decodeWrite, encodeWrite, KvStateMachine } from './kv.ts';
import type { Prng } from './prng.ts';

export interface NodeParams {
  /** The initial voters, bootstrapped on a blank disk; empty for a node that joins later. */
  peers: NodeId[];
  /** The initial learners, bootstrapped with the voters. */
  learners: NodeId[];
  electionTicks: number;
  heartbeatTicks: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  maxUncommittedEntriesSize: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Take a state machine snapshot every this many applied entries... */
  snapshotEvery: number;
  /** ...and keep this many entries before it in the log for slow followers. */
  snapshotKeep: number;
  plantedBugs: PlantedBugs;
  /** A planted application bug: send every message before the fsync (acks what may be lost). */
  sendBeforeFsync?: boolean;
}

/** What a node needs from the simulator around it. */
export interface NodeEnv {
  readonly checker: SafetyChecker;
  readonly history: History;
  tick(): number;
  send(from: SimNode, msgs: Message[]): void;
  /** Completes later with node.fsyncDone(upTo) unless the node crashes first. */
  scheduleFsync(node: SimNode, upTo: number): void;
  opDone(op: HistoryOp): void;
  /** The node reported itself leader (in a Ready's soft state). */
  onLeader(node: SimNode): void;
  /** The node applied a committed membership change. */
  onConfChange(node: SimNode, cc: ConfChange, index: number): void;
  trace(line: string): void;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class SimNode {
  raw: RawNode | null = null;
  incarnation = 0;
  readonly disk = new SimDisk();
  private storage = new MemoryStorage();
  private sm = new KvStateMachine();
  private applied = 0;
  private confState: ConfState = { voters: [], learners: [] };
  /** The voters when the previous Ready was taken (the checker's view of what a commit used). */
  private votersAtLastReady: NodeId[] = [];
  private inflight: { rd: Ready; late: Message[] } | null = null;
  private readonly pendingWrites = new Map<number, HistoryOp>();
  private readonly pendingReads = new Map<string, HistoryOp>();
  private readWaits: { index: number; op: HistoryOp }[] = [];
  /** Leader as last reported in a Ready's soft state (for traces and fault targeting). */
  isLeader = false;
  term = 0;
  /** A paused process (GC, VM stall, SIGSTOP) does nothing until this time; its clock jumps. */
  pausedUntil = 0;
  /** Taken out of the cluster by a committed RemoveNode: stays down for good. */
  removed = false;
  /** Index of its removal, once some member applied it, and the voters left then: it leaves
   *  once their disks vouch for that commit. */
  leavingAt = 0;
  leavingVoters: NodeId[] = [];
  /** A member was added: snapshot now, so that the snapshot a leader sends it lists it
   *  (a node drops a snapshot whose ConfState lacks it, and with the log compacted past the
   *  AddNode entry it could never catch up: seed 141 deadlocked a {1} -> {1,6} cluster). */
  private snapshotSoon = false;

  constructor(
    readonly id: NodeId,
    private readonly params: NodeParams,
    private readonly env: NodeEnv,
    private readonly rng: Prng,
  ) {}

  get up(): boolean {
    return this.raw !== null;
  }

  /** Boots from whatever is durable; a blank disk means a brand-new member of the initial cluster. */
  start(): void {
    if (this.raw !== null) throw new Error(`node ${this.id} already running`);
    this.incarnation++;
    const d = this.disk.read();
    this.storage = new MemoryStorage();
    this.sm = new KvStateMachine();
    this.applied = 0;
    this.snapshotSoon = false;
    this.confState = { voters: [], learners: [] };
    if (d.snapshot !== null) {
      this.storage.applySnapshot(d.snapshot);
      this.sm = KvStateMachine.restore(d.snapshot.data);
      this.applied = d.snapshot.metadata.index;
      this.confState = d.snapshot.metadata.confState;
    }
    if (d.snapshot !== null && d.hardState.commit < d.snapshot.metadata.index) {
      // A torn crash kept a received snapshot but not the HardState written after it in the
      // same Ready. A snapshot holds only committed entries, so its index is committed: the
      // service's WAL replay must do the same, or the core refuses to start (seed 6683).
      this.env.trace(`n${this.id} repair: commit ${d.hardState.commit} raised to snapshot index ${d.snapshot.metadata.index}`);
      d.hardState.commit = d.snapshot.metadata.index;
    }
    this.storage.setHardState(d.hardState);
    this.storage.append(d.entries);
    this.votersAtLastReady = this.voters();
    const p = this.params;
    this.raw = new RawNode({
      id: this.id,
      electionTicks: p.electionTicks,
      heartbeatTicks: p.heartbeatTicks,
      storage: this.storage,
      applied: this.applied,
      maxSizePerMsg: p.maxSizePerMsg,
      maxInflightMsgs: p.maxInflightMsgs,
      maxUncommittedEntriesSize: p.maxUncommittedEntriesSize,
      preVote: p.preVote,
      checkQuorum: p.checkQuorum,
      random: (n) => this.rng.int(n),
      plantedBugs: p.plantedBugs,
    });
    const blank = d.snapshot === null && d.entries.length === 0 && d.hardState.term === 0;
    if (blank && p.peers.length > 0) {
      const learners = p.learners.map((id) => ({ id, context: EMPTY, learner: true }));
      this.raw.bootstrap([...p.peers.map((id) => ({ id, context: EMPTY })), ...learners]);
    }
    this.isLeader = false;
    this.term = d.hardState.term;
    this.env.checker.onRestart(this.id, d.snapshot, d.entries, d.hardState.term);
    if (d.snapshot !== null) this.env.checker.onSnapshotInstalled(this.id, d.snapshot, this.sm.digest());
    this.env.trace(`n${this.id} start #${this.incarnation} term=${d.hardState.term} commit=${d.hardState.commit} snap=${this.applied} last=${this.storage.lastIndex()}${blank ? (p.peers.length > 0 ? ' (bootstrap)' : ' (joining)') : ''}`);
    this.pump();
  }

  /** Power loss: memory is gone, unsynced writes are lost, open client calls become unknown. */
  crash(tornPrefix: boolean): void {
    if (this.raw === null) return;
    this.raw = null;
    this.inflight = null;
    this.pausedUntil = 0;
    this.isLeader = false;
    const open = [...this.pendingWrites.values(), ...this.pendingReads.values(), ...this.readWaits.map((w) => w.op)];
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.readWaits = [];
    for (const op of open) {
      this.env.history.info(op, this.env.tick());
      this.env.opDone(op);
    }
    this.disk.crash(this.rng, tornPrefix);
    this.env.trace(`n${this.id} CRASH (torn=${tornPrefix})`);
  }

  tick(): void {
    if (this.raw === null) return;
    this.raw.tick();
    this.pump();
  }

  step(m: Message): void {
    if (this.raw === null) return;
    try {
      this.raw.step(m);
    } catch (e) {
      // Every simulated peer is correct: the core must never refuse what one sends.
      if (isRaftError(e, RaftErrorCode.InvalidMessage)) throw new Violation('Valid message refused', `node ${this.id}: ${e.message}`);
      if (!isRaftError(e, RaftErrorCode.StepPeerNotFound) && !isRaftError(e, RaftErrorCode.StepLocalMsg)) throw e;
    }
    this.pump();
  }

  /** Runs `f` on the live RawNode (for faults such as campaign or transferLeader). */
  poke(f: (raw: RawNode) => void): void {
    if (this.raw === null) return;
    f(this.raw);
    this.pump();
  }

  /** A client write arrives. Completes now with fail (not applied, for sure) or later. */
  propose(op: HistoryOp): void {
    if (this.raw === null) return this.failOp(op);
    try {
      this.raw.propose(encodeWrite({ reqId: op.id, key: op.key, value: op.value! }));
    } catch (e) {
      if (isRaftError(e, RaftErrorCode.ProposalDropped)) return this.failOp(op);
      throw e;
    }
    this.pendingWrites.set(op.id, op);
    this.pump();
  }

  /** A client read arrives: ask for a read index, then read once applied reaches it. */
  read(op: HistoryOp): void {
    if (this.raw === null) return this.failOp(op);
    const ctx = `r${op.id}`;
    try {
      this.raw.readIndex(encoder.encode(ctx));
    } catch (e) {
      if (isRaftError(e, RaftErrorCode.ProposalDropped)) return this.failOp(op);
      throw e;
    }
    this.pendingReads.set(ctx, op);
    this.pump();
  }

  /** The client gave up waiting: forget the call (the caller records it as unknown). */
  abandon(op: HistoryOp): void {
    this.pendingWrites.delete(op.id);
    this.pendingReads.delete(`r${op.id}`);
    this.readWaits = this.readWaits.filter((w) => w.op !== op);
  }

  private failOp(op: HistoryOp): void {
    this.env.history.fail(op, this.env.tick());
    this.env.opDone(op);
  }

  /** Handles Readies until one must wait for its fsync (or there is nothing to do). */
  pump(): void {
    while (this.raw !== null && this.inflight === null && this.raw.hasReady()) {
      const rd = this.raw.ready();
      this.env.checker.onReady(this.id, rd);
      this.votersAtLastReady = this.voters();
      this.noteSoftState(rd);
      if (rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null) {
        this.disk.write({
          snapshot: rd.snapshot === null ? null : { snap: rd.snapshot, kind: 'raft' },
          entries: rd.entries,
          hardState: rd.hardState,
        });
      }
      // The node's own rules for what may leave before the fsync (the planted bug sends all).
      const plan = planReady(rd, rd.messages, this.isLeader, this.storage.lastIndex());
      const early = this.params.sendBeforeFsync === true ? rd.messages : plan.sendEarly;
      const late = this.params.sendBeforeFsync === true ? [] : plan.sendAfterPersist;
      this.env.send(this, early);
      if (rd.mustSync) {
        this.inflight = { rd, late };
        this.env.scheduleFsync(this, this.disk.lastSeq());
        return;
      }
      this.finishReady(rd, late);
    }
  }

  /** The fsync issued for the Ready in flight has completed. */
  fsyncDone(upTo: number): void {
    if (this.raw === null || this.inflight === null) throw new Error(`node ${this.id}: fsync completion without a Ready in flight`);
    this.disk.synced(upTo);
    const { rd, late } = this.inflight;
    this.inflight = null;
    this.finishReady(rd, late);
    this.pump();
  }

  private noteSoftState(rd: Ready): void {
    if (rd.hardState !== null) this.term = rd.hardState.term;
    if (rd.softState === null) return;
    const leader = rd.softState.raftState === 2;
    if (leader !== this.isLeader) this.env.trace(`n${this.id} ${leader ? 'LEADER' : 'no longer leader'} term=${this.term}`);
    const elected = leader && !this.isLeader;
    this.isLeader = leader;
    if (elected) this.env.onLeader(this);
  }

  private finishReady(rd: Ready, late: Message[]): void {
    const raw = this.raw!;
    this.env.checker.onReadyPersisted(this.id, rd);
    if (rd.snapshot !== null) this.storage.applySnapshot(rd.snapshot);
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
    this.storage.append(rd.entries);
    this.env.send(this, late);
    if (rd.snapshot !== null) this.installSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) {
      const ctx = decoder.decode(rs.requestCtx);
      const op = this.pendingReads.get(ctx);
      if (op === undefined) continue;
      this.pendingReads.delete(ctx);
      this.readWaits.push({ index: rs.index, op });
    }
    this.serveReads();
    raw.advance(rd);
    this.maybeSnapshot();
  }

  private installSnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.applied) {
      throw new Violation('Apply order', `node ${this.id} got a snapshot at ${s.metadata.index} but has applied ${this.applied}`);
    }
    this.sm = KvStateMachine.restore(s.data);
    this.applied = s.metadata.index;
    this.confState = s.metadata.confState;
    this.env.checker.onSnapshotInstalled(this.id, s, this.sm.digest());
    this.env.trace(`n${this.id} installed snapshot @${s.metadata.index}`);
    for (const op of [...this.pendingWrites.values()]) {
      if (this.sm.hasApplied(op.id)) this.completeWrite(op);
    }
  }

  private applyEntry(e: Entry): void {
    if (e.index !== this.applied + 1) {
      throw new Violation('Apply order', `node ${this.id} applied ${this.applied} and is handed entry ${e.index}`);
    }
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      this.confState = this.raw!.applyConfChange(cc);
      if (cc.type !== ConfChangeType.RemoveNode) this.snapshotSoon = true;
      this.env.onConfChange(this, cc, e.index);
    } else if (e.data.length > 0) {
      const w = decodeWrite(e.data);
      this.sm.apply(w);
      const op = this.pendingWrites.get(w.reqId);
      if (op !== undefined) this.completeWrite(op);
    }
    this.applied = e.index;
    this.env.checker.onApply(this.id, e, this.sm.digest());
  }

  private completeWrite(op: HistoryOp): void {
    this.pendingWrites.delete(op.id);
    this.env.history.ok(op, this.env.tick());
    this.env.opDone(op);
  }

  private serveReads(): void {
    if (this.readWaits.length === 0) return;
    const still: { index: number; op: HistoryOp }[] = [];
    for (const w of this.readWaits) {
      if (w.index > this.applied) {
        still.push(w);
        continue;
      }
      this.env.history.ok(w.op, this.env.tick(), this.sm.get(w.op.key));
      this.env.opDone(w.op);
    }
    this.readWaits = still;
  }

  private maybeSnapshot(): void {
    const p = this.params;
    const snapIndex = this.storage.snapshot().metadata.index;
    if (this.applied - snapIndex < p.snapshotEvery && !(this.snapshotSoon && this.applied > snapIndex)) return;
    this.snapshotSoon = false;
    const snap = this.storage.createSnapshot(this.applied, this.confState, this.sm.serialize());
    const compactTo = this.applied - p.snapshotKeep;
    if (compactTo >= this.storage.firstIndex()) this.storage.compact(compactTo);
    this.disk.write({ snapshot: { snap, kind: 'app' }, entries: [], hardState: null });
  }

  get appliedIndex(): number {
    return this.applied;
  }

  configsSinceLastReady(): NodeId[][] {
    return [this.voters(), this.votersAtLastReady];
  }

  voters(): NodeId[] {
    return [...this.confState.voters];
  }

  learners(): NodeId[] {
    return [...this.confState.learners];
  }

  describe(): string {
    if (this.raw === null) return `n${this.id} down`;
    const st = this.raw.status();
    return `n${this.id} ${['follower', 'candidate', 'leader', 'precandidate'][st.softState.raftState]} term=${st.hardState.term} lead=${st.softState.lead} commit=${st.commit} applied=${this.applied} last=${st.lastIndex}`;
  }
}
