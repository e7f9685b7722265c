// Runs one whole cluster from one seed: nodes, clients, network and disks all advance on one
// simulated clock through one event queue, so the same seed always gives the same run.
// Phases: [0, faultTicks) faults come and go; then everything heals, and a client write must
// commit and a client read be served within livenessTicks. Safety is checked on every Ready
// and message; linearizability of the clients' history at the end.

import { type ConfChange, ConfChangeType, type Message, MessageType, type NodeId, type PlantedBugs } from '../../src/raft/index.ts';
import { EventQueue } from './event_queue.ts';
import { formatOp, History, type HistoryOp } from './history.ts';
import { SafetyChecker, Violation } from './invariants.ts';
import { checkLinearizable } from './linearizability.ts';
import { type DiskProfile, FAST_DISK, type FaultHost, FaultInjector } from './faults.ts';
import { CALM_LINKS, SimNetwork } from './network.ts';
import { type NodeEnv, type NodeParams, SimNode } from './node.ts';
import { Prng } from './prng.ts';
import { type ClusterShape, describeScenario, type FaultKind, makeScenario, type Scenario } from './scenario.ts';

/** Simulated time units per tick: messages and fsyncs take a few units. */
export const UNITS_PER_TICK = 10;

export interface SimOptions {
  seed: number;
  nodes: ClusterShape;
  bug?: keyof PlantedBugs;
  /** Receives trace lines when set. */
  log?: (line: string) => void;
  /** Also trace every message. */
  traceMessages?: boolean;
  /** Plant a bug in the simulated application instead: it sends every message before its fsync. */
  appSendsBeforeFsync?: boolean;
  /** false: check only the safety properties and linearizability, not the rules behind them. */
  ruleChecks?: boolean;
  /** Only these fault kinds (plus heal). */
  onlyFaults?: readonly FaultKind[];
}

export interface SimStats {
  ticks: number;
  events: number;
  ops: number;
  opsOk: number;
  opsInfo: number;
  committed: number;
  leaders: number;
  crashes: number;
  messages: number;
  snapshotsSent: number;
  readsOk: number;
  /** Ticks from healing until a write and a read both succeeded. */
  recoveryTicks: number;
}

export interface SimResult {
  seed: number;
  nodes: ClusterShape;
  ok: boolean;
  invariant?: string;
  detail?: string;
  tick?: number;
  stats: SimStats;
}

type SimEvent =
  | { k: 'tick'; node: SimNode; inc: number }
  | { k: 'deliver'; m: Message; sender: SimNode }
  | { k: 'fsync'; node: SimNode; inc: number; upTo: number }
  | { k: 'restart'; node: SimNode }
  | { k: 'fault' }
  | { k: 'heal' }
  | { k: 'cutLeader'; node: SimNode; inc: number; crash: boolean }
  | { k: 'client'; client: number }
  | { k: 'timeout'; op: HistoryOp }
  | { k: 'call'; op: HistoryOp; node: SimNode }
  | { k: 'snapStatus'; node: SimNode; inc: number; to: NodeId; ok: boolean }
  | { k: 'unreachable'; node: SimNode; inc: number; to: NodeId };

export class Simulation implements NodeEnv, FaultHost {
  readonly checker: SafetyChecker;
  readonly history = new History();
  readonly scenario: Scenario;
  private readonly queue = new EventQueue<SimEvent>();
  /** Every node ever created; node id i is at index i - 1. Joiners get fresh ids. */
  private readonly nodes: SimNode[] = [];
  private readonly baseParams: NodeParams;
  private readonly root: Prng;
  readonly network: SimNetwork;
  private readonly faults: FaultInjector;
  private readonly rng: Prng;
  private readonly faultRng: Prng;
  private readonly clientRng: Prng;
  private time = 0;
  private healed = false;
  private healTick = Infinity;
  /** First tick after healing at which a write (and a read) invoked after healing succeeded. */
  private liveWriteAt = -1;
  private liveReadAt = -1;
  private liveAt = -1;
  disk: DiskProfile = FAST_DISK;
  private readonly clientBusy: (HistoryOp | null)[] = [];
  private readonly stats: SimStats = { ticks: 0, events: 0, ops: 0, opsOk: 0, opsInfo: 0, committed: 0, leaders: 0, crashes: 0, messages: 0, snapshotsSent: 0, readsOk: 0, recoveryTicks: 0 };

  constructor(private readonly opts: SimOptions) {
    const root = new Prng(opts.seed);
    this.scenario = makeScenario(root.fork(), opts.nodes, opts.bug, opts.onlyFaults);
    this.rng = root.fork();
    this.faultRng = root.fork();
    this.clientRng = root.fork();
    const ids = Array.from({ length: this.scenario.nodeCount }, (_, i) => i + 1);
    this.checker = new SafetyChecker(ids, opts.ruleChecks ?? true, {
      holds: (id, index, term) => this.nodes[id - 1]?.disk.holds(index, term) === true,
      configs: (id) => this.nodes[id - 1]?.configsSinceLastReady() ?? [],
    });
    this.network = new SimNetwork(root.fork(), [...ids]);
    const s = this.scenario;
    this.baseParams = {
      peers: ids.slice(0, this.scenario.voterCount),
      learners: ids.slice(this.scenario.voterCount),
      electionTicks: s.electionTicks,
      heartbeatTicks: s.heartbeatTicks,
      maxSizePerMsg: s.maxSizePerMsg,
      maxInflightMsgs: s.maxInflightMsgs,
      maxUncommittedEntriesSize: s.maxUncommittedEntriesSize,
      preVote: s.preVote,
      checkQuorum: s.checkQuorum,
      snapshotEvery: s.snapshotEvery,
      snapshotKeep: s.snapshotKeep,
      plantedBugs: s.plantedBugs,
      sendBeforeFsync: opts.appSendsBeforeFsync === true,
    };
    for (const id of ids) this.nodes.push(new SimNode(id, this.baseParams, this, root.fork()));
    this.root = root;
    this.faults = new FaultInjector(this, this.faultRng, UNITS_PER_TICK);
  }

  /** Nodes that are part of the cluster (not removed), up or down. */
  members(): SimNode[] {
    return this.nodes.filter((n) => !n.removed);
  }

  tick(): number {
    return Math.floor(this.time / UNITS_PER_TICK);
  }

  now(): number {
    return this.time;
  }

  trace(line: string): void {
    this.opts.log?.(`[${String(this.tick()).padStart(5)}] ${line}`);
  }

  run(): SimResult {
    const s = this.scenario;
    this.trace(`seed ${this.opts.seed}\n${describeScenario(s)}`);
    let failure: { invariant: string; detail: string } | null = null;
    try {
      this.boot();
      const end = (s.faultTicks + s.livenessTicks) * UNITS_PER_TICK;
      while (this.queue.size > 0) {
        const ev = this.queue.pop()!;
        this.time = ev.time;
        if (this.time > end) break;
        this.stats.events++;
        this.dispatch(ev.value);
        if (this.liveAt >= 0 && this.tick() > this.liveAt + 3 * s.electionTicks) break;
        if (this.healed && this.liveAt < 0 && this.tick() > this.healTick + s.livenessTicks) break;
      }
      if (this.liveAt < 0) {
        const missing = this.liveWriteAt < 0 ? (this.liveReadAt < 0 ? 'no write committed and no read served' : 'no write committed') : 'no read served';
        throw new Violation('Liveness', `${missing} within ${s.livenessTicks} ticks after healing at tick ${this.healTick}`);
      }
      failure = this.finish();
    } catch (e) {
      if (e instanceof Violation) failure = { invariant: e.invariant, detail: e.detail };
      else {
        const err = e as Error;
        failure = { invariant: 'Exception', detail: `${err.stack ?? String(err)}` };
      }
    }
    this.stats.ticks = this.tick();
    this.stats.committed = this.checker.maxCommitted;
    this.stats.leaders = this.checker.leadersElected;
    for (const op of this.history.ops) {
      if (op.status === 'ok') this.stats.opsOk++;
      if (op.status === 'ok' && op.kind === 'read') this.stats.readsOk++;
      if (op.status === 'info') this.stats.opsInfo++;
    }
    this.stats.ops = this.history.ops.length;
    const result: SimResult = { seed: this.opts.seed, nodes: this.opts.nodes, ok: failure === null, stats: this.stats };
    if (failure !== null) {
      result.invariant = failure.invariant;
      result.detail = failure.detail;
      result.tick = this.tick();
      this.trace(`VIOLATION ${failure.invariant}: ${failure.detail}`);
      for (const n of this.nodes) this.trace(`  ${safeDescribe(n)}`);
    }
    return result;
  }

  private boot(): void {
    const s = this.scenario;
    for (const n of this.nodes) {
      n.start();
      this.scheduleTick(n, this.rng.int(UNITS_PER_TICK));
    }
    for (let c = 0; c < s.clients; c++) {
      this.clientBusy.push(null);
      this.push(this.clientRng.int(5 * UNITS_PER_TICK), { k: 'client', client: c });
    }
    this.push(this.faultRng.int(20 * UNITS_PER_TICK), { k: 'fault' });
    this.push(s.faultTicks * UNITS_PER_TICK, { k: 'heal' });
  }

  /** End of run: open operations become unknown; the history must be linearizable. */
  private finish(): { invariant: string; detail: string } | null {
    for (const op of this.history.ops) if (op.status === 'pending') this.history.info(op, this.tick());
    const res = checkLinearizable(this.history.ops);
    if (res.ok) return null;
    const ops = res.ops.slice().sort((a, b) => a.invokeSeq - b.invokeSeq);
    const culprit = shortestFailingPrefix(ops);
    const shown = ops.slice(Math.max(0, culprit - 25), culprit + 1).map(formatOp);
    this.trace(`history of key ${res.key}, up to the first op that cannot be linearized:\n  ${shown.join('\n  ')}`);
    const last = ops[culprit]!;
    return {
      invariant: 'Linearizability',
      detail: `key ${res.key}: ${res.reason} (${res.ops.length} ops); first failing prefix ends with ${formatOp(last)}`,
    };
  }

  private push(time: number, ev: SimEvent): void {
    this.queue.push(time, ev);
  }

  private scheduleTick(n: SimNode, offset: number): void {
    this.push(this.time + offset, { k: 'tick', node: n, inc: n.incarnation });
  }

  /** The node an event happens on, if it is one that a paused node must not see yet. */
  private pausable(ev: SimEvent): SimNode | undefined {
    switch (ev.k) {
      case 'tick':
      case 'fsync':
      case 'snapStatus':
      case 'unreachable':
      case 'call':
        return ev.node;
      case 'deliver':
        return this.nodes[ev.m.to - 1];
      default:
        return undefined;
    }
  }

  private dispatch(ev: SimEvent): void {
    const target = this.pausable(ev);
    if (target !== undefined && target.pausedUntil > this.time) {
      this.push(target.pausedUntil, ev);
      return;
    }
    switch (ev.k) {
      case 'tick':
        if (!ev.node.up || ev.node.incarnation !== ev.inc) return;
        if (this.leaveIfConfirmed(ev.node)) return;
        ev.node.tick();
        // Clocks run at slightly different rates (fixed per incarnation) and jitter per tick.
        this.push(this.time + UNITS_PER_TICK - 1 + ((ev.node.id * 7 + ev.inc) % 3) + this.rng.range(-1, 1), ev);
        return;
      case 'deliver':
        return this.deliver(ev.m, ev.sender);
      case 'fsync':
        if (ev.node.up && ev.node.incarnation === ev.inc) {
          ev.node.fsyncDone(ev.upTo);
          this.checkDiskDrops(ev.node);
        }
        return;
      case 'restart':
        if (!ev.node.up && !ev.node.removed) this.restart(ev.node);
        return;
      case 'fault':
        if (this.healed) return;
        this.faults.inject();
        this.push(this.time + this.faultRng.range(...this.scenario.faultGapTicks) * UNITS_PER_TICK, { k: 'fault' });
        return;
      case 'heal':
        return this.heal();
      case 'cutLeader':
        if (this.healed || !ev.node.up || ev.node.incarnation !== ev.inc) return;
        if (ev.crash) this.crash(ev.node);
        else {
          this.network.isolate(ev.node.id);
          this.trace(`network: ${this.network.describe()} (churn)`);
        }
        return;
      case 'client':
        return this.issue(ev.client);
      case 'call':
        if (ev.op.status !== 'pending') return;
        if (ev.op.kind === 'read') ev.node.read(ev.op);
        else ev.node.propose(ev.op);
        return;
      case 'timeout':
        return this.timeout(ev.op);
      case 'snapStatus':
        if (ev.node.up && ev.node.incarnation === ev.inc) ev.node.poke((raw) => raw.reportSnapshot(ev.to, ev.ok));
        return;
      case 'unreachable':
        if (ev.node.up && ev.node.incarnation === ev.inc) ev.node.poke((raw) => raw.reportUnreachable(ev.to));
        return;
    }
  }

  // ---- network ----

  send(from: SimNode, msgs: Message[]): void {
    for (const m of msgs) {
      this.stats.messages++;
      this.checker.onSend(from.id, m);
      if (m.type === MessageType.MsgSnap) this.stats.snapshotsSent++;
      if (this.opts.traceMessages) this.trace(`  send ${describeMessage(m)}`);
      // Route by the node that sends: a forwarded message keeps its original `from`.
      const delays = this.network.route(from.id, m.to);
      if (delays.length === 0) {
        if (m.type === MessageType.MsgSnap) {
          this.push(this.time + 5 * UNITS_PER_TICK, { k: 'snapStatus', node: from, inc: from.incarnation, to: m.to, ok: false });
        } else if (!this.network.canReach(from.id, m.to) && this.rng.chance(0.3)) {
          this.push(this.time + UNITS_PER_TICK, { k: 'unreachable', node: from, inc: from.incarnation, to: m.to });
        }
        continue;
      }
      for (const d of delays) this.push(this.time + d, { k: 'deliver', m: cloneMessage(m), sender: from });
    }
  }

  private deliver(m: Message, from: SimNode): void {
    const to = this.nodes[m.to - 1];
    if (to === undefined) throw new Error(`message to unknown node ${m.to}`);
    if (!to.up) {
      if (m.type === MessageType.MsgSnap) this.push(this.time + UNITS_PER_TICK, { k: 'snapStatus', node: from, inc: from.incarnation, to: m.to, ok: false });
      return;
    }
    if (this.opts.traceMessages) this.trace(`  recv ${describeMessage(m)}`);
    to.step(m);
    if (m.type === MessageType.MsgSnap) this.push(this.time + 1, { k: 'snapStatus', node: from, inc: from.incarnation, to: m.to, ok: true });
  }

  // ---- disk ----

  scheduleFsync(node: SimNode, upTo: number): void {
    const d = this.rng.range(this.disk.fsyncMin, this.disk.fsyncMax);
    this.push(this.time + d, { k: 'fsync', node, inc: node.incarnation, upTo });
  }

  // ---- faults (what they do is in faults.ts) ----

  cutLater(node: SimNode, delay: number, crash: boolean): void {
    this.push(this.time + delay, { k: 'cutLeader', node, inc: node.incarnation, crash });
  }

  restart(n: SimNode): void {
    n.start();
    this.scheduleTick(n, this.rng.int(UNITS_PER_TICK));
  }

  crash(n: SimNode): void {
    if (!n.up) return;
    this.stats.crashes++;
    n.crash(this.scenario.tornWrites && this.faultRng.chance(0.5));
    this.checkDiskDrops(n);
    this.push(this.time + this.faultRng.range(...this.scenario.restartTicks) * UNITS_PER_TICK, { k: 'restart', node: n });
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes) if (n.up && n.isLeader && (best === undefined || n.term > best.term)) best = n;
    return best;
  }

  private heal(): void {
    this.healed = true;
    this.healTick = this.tick();
    this.network.heal();
    this.network.profile = CALM_LINKS;
    this.disk = FAST_DISK;
    for (const n of this.nodes) n.pausedUntil = Math.min(n.pausedUntil, this.time);
    this.trace('HEAL: network healed, all nodes restart');
    for (const n of this.members()) if (!n.up) this.restart(n);
  }

  onLeader(node: SimNode): void {
    if (!this.healed) this.faults.onLeader(node);
  }

  // ---- membership ----

  /** A brand-new node (fresh id, empty disk, no bootstrap) that will catch up from the leader. */
  addNode(): SimNode {
    const id = this.nodes.length + 1;
    const n = new SimNode(id, { ...this.baseParams, peers: [], learners: [] }, this, this.root.fork());
    this.nodes.push(n);
    this.checker.addNode(id);
    this.network.addNode(id);
    return n;
  }

  nodeCount(): number {
    return this.nodes.length;
  }

  onConfChange(node: SimNode, cc: ConfChange, index: number): void {
    if (cc.type !== ConfChangeType.RemoveNode) return;
    const gone = this.nodes[cc.nodeId - 1];
    if (gone === undefined || gone.removed || gone.leavingAt > 0) return;
    // Committed: the removed node stays up (answering votes and appends) until the voters left
    // durably know it. Stopping at once can wedge a two-voter cluster: if the one message
    // carrying the commit is lost, the survivor, still in the old configuration, needs the vote
    // of a node that is gone (issue 7, item 7; seed 9527: a learner applied the removal first).
    this.trace(`n${cc.nodeId} removed at ${index} (applied by n${node.id}); it leaves once the voters left know it`);
    gone.leavingAt = index;
    gone.leavingVoters = node.voters();
  }

  /**
   * A removed node shuts down once every remaining voter's disk vouches
   * for the commit of that removal. Applied is not enough: a commit index learned from a
   * heartbeat is not fsynced, and a survivor that restarts with the older commit is back in
   * the old configuration, needing this node's vote (seed 727, 1+2). Until then the leaving
   * node answers votes and appends, so such a survivor can still win and commit. (An oracle:
   * the service must confirm this by other means.)
   */
  private leaveIfConfirmed(n: SimNode): boolean {
    if (n.leavingAt === 0) return false;
    for (const id of n.leavingVoters) {
      const v = this.nodes[id - 1];
      if (v !== undefined && v !== n && v.disk.durableCommit() < n.leavingAt) return false;
    }
    this.trace(`n${n.id} leaves: the disks of the voters [${n.leavingVoters.join(',')}] vouch for its removal`);
    n.removed = true;
    n.crash(false);
    return true;
  }

  /** Quorum Durability must also survive entries leaving a disk (overwritten or replaced by a snapshot). */
  private checkDiskDrops(n: SimNode): void {
    const from = n.disk.takeDroppedFrom();
    if (from !== Infinity) this.checker.onDiskDropped(n.id, from);
  }

  // ---- clients ----

  private issue(client: number): void {
    const s = this.scenario;
    const r = this.clientRng;
    const node = r.pick(this.members());
    const key = r.pick(s.keys);
    const isRead = r.chance(s.readRatio);
    const tick = this.tick();
    const op = isRead
      ? this.history.invoke(client, node.id, 'read', key, null, tick)
      : this.history.invoke(client, node.id, 'write', key, '', tick);
    if (!isRead) op.value = `v${op.id}`;
    this.clientBusy[client] = op;
    this.push(this.time + s.clientTimeoutTicks * UNITS_PER_TICK, { k: 'timeout', op });
    if (node.pausedUntil > this.time) this.push(node.pausedUntil, { k: 'call', op, node });
    else if (isRead) node.read(op);
    else node.propose(op);
  }

  opDone(op: HistoryOp): void {
    if (op.status === 'ok' && this.healed && op.invokeTick >= this.healTick && this.liveAt < 0) {
      if (op.kind === 'write' && this.liveWriteAt < 0) this.liveWriteAt = this.tick();
      if (op.kind === 'read' && this.liveReadAt < 0) this.liveReadAt = this.tick();
      if (this.liveWriteAt >= 0 && this.liveReadAt >= 0) {
        this.liveAt = this.tick();
        this.stats.recoveryTicks = this.liveAt - this.healTick;
        this.trace(`liveness: a write and a read succeeded ${this.stats.recoveryTicks} ticks after healing`);
      }
    }
    if (this.opts.log !== undefined) this.trace(`client ${formatOp(op)}`);
    if (this.clientBusy[op.client] !== op) return;
    this.clientBusy[op.client] = null;
    this.push(this.time + this.clientRng.int(3 * UNITS_PER_TICK) + 1, { k: 'client', client: op.client });
  }

  private timeout(op: HistoryOp): void {
    if (op.status !== 'pending') return;
    this.nodes[op.node - 1]!.abandon(op);
    this.history.info(op, this.tick());
    this.opDone(op);
  }
}

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}

/** The index of the op (in invocation order) that ends the shortest non-linearizable prefix:
 *  usually the stale read. Only for display. */
function shortestFailingPrefix(ops: HistoryOp[]): number {
  let lo = 0;
  let hi = ops.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (checkLinearizable(ops.slice(0, mid + 1)).ok) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function cloneMessage(m: Message): Message {
  return { ...m, entries: m.entries.map((e) => ({ ...e })) };
}

const MSG_NAMES = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k.slice(3)]));

function describeMessage(m: Message): string {
  const ents = m.entries.length > 0 ? ` ents=${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}` : '';
  return `${m.from}->${m.to} ${MSG_NAMES[m.type]} t${m.term} li${m.index}/lt${m.logTerm} c${m.commit}${ents}${m.reject ? ' REJECT' : ''}${m.snapshot ? ` snap@${m.snapshot.metadata.index}` : ''}`;
}

function safeDescribe(n: SimNode): string {
  try {
    return n.describe();
  } catch (e) {
    return `n${n.id} (status failed: ${(e as Error).message})`;
  }
}
