// Runs one whole cluster from one seed: real nodes (RaftNode, Wal, Snapshotter, transport,
// KvStore) on simulated machines, clients and faults, all on one virtual clock and one
// seeded world (world/), so the same seed always gives the same run.
// Phases: [0, faultMs) faults come and go; then everything heals, and a client write and a
// client read must succeed within livenessMs. Safety is checked on every Ready, persist,
// send, apply and snapshot (node-checks.ts); linearizability of the history at the end.

import { isStorageError } from '../../src/storage/index.ts';
import { Clients } from './clients.ts';
import { FaultInjector, type FaultHost } from './faults.ts';
import { formatOp, type HistoryOp } from './history.ts';
import { SafetyChecker, Violation } from './invariants.ts';
import { checkLinearizable } from './linearizability.ts';
import { clientUrlOf, type LifeEnd, type LifeHooks, memberArgv, peerUrlOf, type ProcessLife, SimMember } from './member.ts';
import { NodeView, nodeObserver, type ObserverContext } from './node-checks.ts';
import { Prng } from './prng.ts';
import { type BugName, type ClusterShape, describeScenario, type FaultKind, makeScenario, type Scenario } from './scenario.ts';
import type { ScheduledEvent } from './world/scheduler.ts';
import { SimWorld } from './world/sim-world.ts';

const HELD_BYTES_MAX = Number(process.env.SIM_HELD_BYTES_MAX ?? 6 * 2 ** 30);

export interface SimOptions {
  seed: number;
  nodes: ClusterShape;
  bug?: BugName;
  /** Receives the trace when set: what each node did, the faults, the clients. */
  log?: (line: string) => void;
  /** Also trace every message sent and every network event. */
  traceMessages?: boolean;
  /** The nodes' own log lines (pino) in the trace, at this level. Default 'info' when tracing. */
  logLevel?: string;
  /** false: check only the safety properties and linearizability, not the rules behind them. */
  ruleChecks?: boolean;
  onlyFaults?: readonly FaultKind[];
}

export interface SimStats {
  virtualMs: number;
  events: number;
  ops: number;
  opsOk: number;
  opsUnknown: number;
  committed: number;
  leaders: number;
  lives: number;
  crashes: number;
  snapshotsInstalled: number;
  /** Of those, snapshots that superseded entries the node had (a deposed leader's, say). */
  snapshotsOverLog: number;
  membershipChanges: number;
  /** Virtual ms from healing until a write and a read both succeeded. */
  recoveryMs: number;
  /** Of the members up at the end, the share that list their own client URL (published through Raft). */
  clientUrlsPublished: number;
}

export interface SimResult {
  seed: number;
  nodes: ClusterShape;
  ok: boolean;
  invariant?: string;
  detail?: string;
  /** Virtual ms at the failure. */
  atMs?: number;
  stats: SimStats;
}

export class Simulation implements FaultHost, ObserverContext {
  readonly scenario: Scenario;
  readonly world: SimWorld;
  readonly checker: SafetyChecker;
  readonly trace: ((line: string) => void) | null;
  readonly traceMessages: boolean;
  private readonly all: SimMember[] = [];
  private readonly views = new Map<number, NodeView>();
  private readonly clients: Clients;
  private readonly faults: FaultInjector;
  private readonly faultRng: Prng;
  private readonly pickRng: Prng;
  private readonly clockRng: Prng;
  private failure: { invariant: string; detail: string; atMs: number } | null = null;
  private healed = false;
  private healMs = Infinity;
  private liveWriteAt = -1;
  private liveReadAt = -1;
  private liveAt = -1;
  private lastLeader: SimMember | null = null;
  /** Nodes to crash once the snapshot they are installing is on disk. */
  private readonly crashInstalling = new Set<number>();
  private readonly restartPending = new Map<SimMember, ScheduledEvent>();
  private readonly stats: SimStats = {
    virtualMs: 0, events: 0, ops: 0, opsOk: 0, opsUnknown: 0, committed: 0, leaders: 0, lives: 0, crashes: 0,
    snapshotsInstalled: 0, snapshotsOverLog: 0, membershipChanges: 0, recoveryMs: 0, clientUrlsPublished: 0,
  };

  constructor(private readonly opts: SimOptions) {
    const s = (this.scenario = makeScenario(new Prng(opts.seed).fork(), opts.nodes, opts.bug, opts.onlyFaults));
    this.trace = opts.log === undefined ? null : (line) => opts.log!(`${this.world.scheduler.now.toFixed(3).padStart(10)} ${line}`);
    this.traceMessages = opts.traceMessages === true;
    this.world = new SimWorld(opts.seed, {
      network: { latencyMs: s.networkLatencyMs, trace: this.traceMessages && this.trace !== null ? (line) => opts.log!(line) : undefined },
    });
    this.faultRng = this.world.prng.fork();
    this.pickRng = this.world.prng.fork();
    this.clockRng = this.world.prng.fork();
    this.checker = new SafetyChecker([], opts.ruleChecks ?? true, {
      holds: (id, index, term) => this.views.get(id)?.durable.holds(index, term) === true,
      configs: (id) => this.views.get(id)?.configs() ?? [],
    });
    this.clients = new Clients(this, s, this.world.prng.fork());
    this.faults = new FaultInjector(this, this.faultRng);
  }

  get network() {
    return this.world.network;
  }

  get scheduler() {
    return this.world.scheduler;
  }

  now(): number {
    return this.world.scheduler.now;
  }

  async run(): Promise<SimResult> {
    const s = this.scenario;
    this.trace?.(`seed ${this.opts.seed}\n${describeScenario(s)}`);
    for (let id = 1; id <= s.voters; id++) this.startLater(this.createMember(false), this.pickRng.int(20));
    for (let k = 0; k < s.learners; k++) this.scheduler.after((k + 1) * 3 * this.electionMs(), () => this.addInitialLearner());
    this.clients.start();
    this.scheduler.after(this.faultRng.int(s.faultGapMs[1]) + 1, () => this.faultTick());
    this.scheduler.after(s.faultMs, () => this.heal());
    try {
      const outcome = await this.scheduler.runUntil(() => this.failure !== null || this.finished() || this.overMemory(), { eventsMax: 5_000_000 });
      if (outcome === 'eventsMax') this.fail(new Violation('Runaway', 'more than 5 million events'));
      if (this.failure === null && this.liveAt < 0) {
        const missing = this.liveWriteAt < 0 ? (this.liveReadAt < 0 ? 'no write and no read succeeded' : 'no write succeeded') : 'no read succeeded';
        this.fail(new Violation('Liveness', `${missing} within ${s.livenessMs} ms after healing at ${this.healMs.toFixed(0)} ms`));
      }
      if (this.failure === null) this.finish();
    } catch (e) {
      this.fail(e);
    }
    return this.result();
  }

  /** A run that holds more than this is a runaway (a copy of a large value kept per message, say). */
  private overMemory(): boolean {
    if (this.scheduler.events % 2000 !== 0) return false;
    // The JS heap and the buffers, not the RSS: the allocator keeps pages after a runaway seed is
    // over, and a worker measuring its RSS then failed every seed after it.
    const m = process.memoryUsage();
    const held = m.heapUsed + m.external;
    if (held < HELD_BYTES_MAX) return false;
    this.fail(new Violation('Runaway', `the process holds ${(held / 2 ** 30).toFixed(1)} GiB after ${this.scheduler.events} events`));
    return true;
  }

  private finished(): boolean {
    if (this.liveAt >= 0) return this.now() > this.liveAt + 3 * this.electionMs();
    return this.healed && this.now() > this.healMs + this.scenario.livenessMs;
  }

  private electionMs(): number {
    return this.scenario.flags.tickMs * this.scenario.flags.electionTicks;
  }

  /** End of run: open operations stay unknown; the history must be linearizable. */
  private finish(): void {
    this.clients.stop();
    this.clients.finish();
    try {
      this.clients.checkSerializableReads();
      this.checkClientUrls();
    } catch (e) {
      return this.fail(e);
    }
    const ops = this.clients.linearizableOps();
    const res = checkLinearizable(ops);
    if (res.ok) return;
    const sorted = res.ops.filter((op) => ops.includes(op)).sort((a, b) => a.invokeSeq - b.invokeSeq);
    const culprit = shortestFailingPrefix(sorted);
    const shown = sorted.slice(Math.max(0, culprit - 25), culprit + 1).map(formatOp);
    this.trace?.(`history of key ${res.key}, up to the first op that cannot be linearized:\n  ${shown.join('\n  ')}`);
    this.fail(new Violation('Linearizability', `key ${res.key.length > 8 ? `<${res.key.length} bytes>` : res.key}: ${res.reason} (${res.ops.length} ops); the first failing prefix ends with ${formatOp(sorted[culprit]!)}`));
  }

  /**
   * Every client URL a member table lists is the one that member advertises (each member's
   * flag is fixed: clientUrlOf); and count how many members up now see their own published.
   */
  private checkClientUrls(): void {
    let up = 0;
    let published = 0;
    for (const m of this.all) {
      const node = m.readyLife?.node;
      if (node === null || node === undefined) continue;
      up++;
      for (const listed of node.members()) {
        if (listed.clientURL === undefined) continue;
        if (listed.clientURL !== clientUrlOf(listed.id)) {
          throw new Violation('ClientUrls', `n${m.id} lists ${listed.clientURL} for member ${listed.id}, which advertises ${clientUrlOf(listed.id)}`);
        }
        if (listed.id === m.id) published++;
      }
    }
    this.stats.clientUrlsPublished = up === 0 ? 0 : published / up;
  }

  private result(): SimResult {
    const st = this.stats;
    st.virtualMs = Math.round(this.now());
    st.events = this.scheduler.events;
    st.committed = this.checker.maxCommitted;
    st.leaders = this.checker.leadersElected;
    st.membershipChanges = this.faults.changes.filter((c) => c.outcome === 'ok').length;
    for (const op of this.clients.history.ops) {
      st.ops++;
      if (op.status === 'ok') st.opsOk++;
      if (op.status === 'info') st.opsUnknown++;
    }
    for (const m of this.all) st.lives += m.lives;
    const r: SimResult = { seed: this.opts.seed, nodes: this.opts.nodes, ok: this.failure === null, stats: st };
    if (this.failure !== null) {
      r.invariant = this.failure.invariant;
      r.detail = this.failure.detail;
      r.atMs = Math.round(this.failure.atMs);
      this.trace?.(`VIOLATION ${this.failure.invariant}: ${this.failure.detail}`);
      for (const m of this.all) this.trace?.(`  ${this.describeMember(m)}`);
    }
    return r;
  }

  fail(e: unknown): void {
    if (this.failure !== null) return;
    if (e instanceof Violation) this.failure = { invariant: e.invariant, detail: e.detail, atMs: this.now() };
    else this.failure = { invariant: 'Exception', detail: (e as Error)?.stack ?? String(e), atMs: this.now() };
  }

  // ---- members and their process lives ----

  private createMember(join: boolean): SimMember {
    const id = this.all.length + 1;
    const drift = this.scenario.clockDriftMax;
    const host = this.world.node(`n${id}`, peerUrlOf(id), {
      clockRate: 1 + (this.clockRng.float() * 2 - 1) * drift,
      clockOffsetMs: this.clockRng.int(100_000),
      disk: { ...this.scenario.disk, syncLatencyMs: this.clockRng.pick(this.scenario.disk.syncLatencyMs) },
    });
    const level = this.trace === null ? 'silent' : (this.opts.logLevel ?? 'info');
    const clusterSize = join ? id : this.scenario.voters;
    const m = new SimMember(id, host, memberArgv(id, clusterSize, join, this.scenario.flags, level));
    host.disk.onOperation = (op, path) => this.faults.onDiskOperation(m, op, path);
    this.all.push(m);
    this.views.set(id, new NodeView());
    this.checker.addNode(id);
    return m;
  }

  newMember(): SimMember {
    return this.createMember(true);
  }

  startJoiner(m: SimMember): void {
    this.startLater(m, this.pickRng.int(this.electionMs()) + 1);
  }

  members(): SimMember[] {
    return this.all.filter((m) => !m.gone && m.lives > 0 || this.restartPending.has(m));
  }

  leader(): SimMember | null {
    const l = this.lastLeader;
    return l !== null && l.readyLife !== null && this.views.get(l.id)?.leader === true ? l : null;
  }

  conf(): { voters: number[]; learners: number[] } {
    const l = this.leader() ?? this.all.find((m) => m.readyLife !== null);
    const view = l === undefined || l === null ? undefined : this.views.get(l.id);
    return view === undefined ? { voters: [], learners: [] } : { voters: [...view.conf.voters], learners: [...view.conf.learners] };
  }

  pickLife(rng: Prng): ProcessLife | null {
    const ready = this.all.filter((m) => m.readyLife !== null);
    return ready.length === 0 ? null : rng.pick(ready).readyLife;
  }

  /** Start (or restart) `m` after `delayMs`, or sooner if a start is already due sooner. */
  private startLater(m: SimMember, delayMs: number): void {
    const due = this.restartPending.get(m);
    if (due !== undefined && due.timeMs <= this.now() + delayMs) return;
    if (due !== undefined) due.cancelled = true;
    this.restartPending.set(m, this.scheduler.after(delayMs, () => {
      this.restartPending.delete(m);
      if (m.gone || m.up) return;
      this.startNow(m);
    }));
  }

  private startNow(m: SimMember): void {
    if (m.diskFault) this.repairDisk(m);
    let life: ProcessLife | null = null;
    const view = this.views.get(m.id)!;
    const observer = nodeObserver(m.id, m.lives + 1, view, this, () => life?.alive ?? true, m.pageCacheDirty);
    const hooks: LifeHooks = {
      observer,
      plantedBugs: this.scenario.plantedBugs,
      walSegmentBytes: this.scenario.walSegmentBytes,
      logLine: this.trace === null ? null : (line) => this.trace!(formatLogLine(m.id, line)),
      ready: (l) => this.trace?.(`n${m.id}#${l.number} ready (serving clients)`),
      ended: (l, end) => this.lifeEnded(m, l, end),
    };
    this.trace?.(`n${m.id}#${m.lives + 1} starting${m.lives === 0 && m.host.disk.list('/data') === null ? '' : ' (restart)'}`);
    life = m.start(hooks);
  }

  private lifeEnded(m: SimMember, life: ProcessLife, end: LifeEnd): void {
    this.clients.lifeEnded(life);
    if (this.lastLeader === m) this.lastLeader = null;
    this.views.get(m.id)!.leader = false;
    const detail = 'error' in end ? `: ${end.error.message}` : '';
    this.trace?.(`n${m.id}#${life.number} ${end.kind}${detail}`);
    if (end.kind === 'removed') return;
    if (end.kind === 'fatal' || end.kind === 'startFailed') {
      if (!this.expectedFailure(m, life, end.error)) {
        const what = end.kind === 'fatal' ? 'Node stopped' : 'Restart failed';
        this.fail(new Violation(what, `n${m.id} (life ${life.number}): ${end.error.stack ?? end.error.message}`));
        return;
      }
      // After a failed write or fsync the page cache cannot be trusted (Linux marks the pages
      // clean: they read back, but were never written): the machine is power-cycled first.
      if (m.diskFault) m.crash();
    }
    if (end.kind === 'crashed' || end.kind === 'killed') this.stats.crashes++;
    this.startLater(m, this.restartDelay());
  }

  /** A fatal stop after an injected disk fault, or a joiner that found no member to ask, is what the service should do. */
  private expectedFailure(m: SimMember, life: ProcessLife, e: Error): boolean {
    if (m.diskFault) return true;
    // A joiner with no WAL yet (none, or one whose first segment never got its name) asks a
    // member for the cluster id, and may find none reachable: it is started again later.
    const walFiles = m.host.disk.list(life.config.walDir) ?? [];
    if (life.config.join && !walFiles.some((name) => name.endsWith('.wal'))) return true;
    if (isStorageError(e) && /EIO|ENOSPC/.test(e.message)) return m.diskFault;
    return false;
  }

  private repairDisk(m: SimMember): void {
    const disk = m.host.disk;
    disk.setCapacity(Infinity);
    disk.clearFailures();
    m.diskFault = false;
    this.trace?.(`n${m.id} disk repaired (room again, no more errors)`);
  }

  private restartDelay(): number {
    const [lo, hi] = this.scenario.restartDelayMs;
    return this.healed ? 1 : lo + this.faultRng.int(hi - lo + 1);
  }

  crash(m: SimMember): void {
    this.trace?.(`fault: n${m.id} power cut`);
    m.crash();
    if (!m.up && !m.gone) this.startLater(m, this.restartDelay());
  }

  burst(m: SimMember, count: number): void {
    const life = m.readyLife;
    if (life === null) return;
    this.trace?.(`fault: ${count} writes at once to n${m.id}`);
    this.clients.burst(life, count);
  }

  kill(m: SimMember): void {
    if (!m.up) return;
    this.trace?.(`fault: n${m.id} kill -9`);
    m.kill();
  }

  killAndRestart(m: SimMember, delayMs: number): void {
    this.kill(m);
    if (!m.gone) this.startLater(m, delayMs);
  }

  favourReads(m: SimMember, untilMs: number): void {
    this.clients.favourReads(() => m.readyLife, untilMs);
  }

  terminate(m: SimMember): void {
    const life = m.readyLife;
    if (life === null || life.terminate === null) return;
    this.trace?.(`fault: n${m.id} SIGTERM`);
    life.terminate();
  }

  // ---- the observer context ----

  onLeader(id: number): void {
    const m = this.all[id - 1]!;
    this.lastLeader = m;
    if (!this.healed) this.faults.onLeader(m);
  }

  onSnapshotReceived(id: number, overLog: boolean): void {
    this.stats.snapshotsInstalled++;
    if (overLog) this.stats.snapshotsOverLog++;
    // A snapshot that supersedes entries of this node's log (a deposed leader's) is where
    // recovery has gone wrong before (issue 7, item 1): crash there every time, and mostly
    // just after its marker is on disk, before an append truncates what it superseded (the
    // one moment a replay that kept the superseded entries shows it).
    const p = overLog ? 1 : this.scenario.snapshotCrashProbability;
    if (this.healed || !this.faultRng.chance(p)) return;
    // While the snapshot is written, or just after it is (and before the entries after it come).
    if (this.faultRng.chance(overLog ? 0.75 : 0.5)) this.crashInstalling.add(id);
    else this.crashSoon(this.all[id - 1]!, this.faultRng.float() * 20, 'while installing a snapshot');
  }

  onConfChangeCommitted(id: number): void {
    if (!this.healed) this.faults.onConfChangeCommitted(this.all[id - 1]!);
  }

  onSnapshotPersisted(id: number): void {
    if (!this.crashInstalling.delete(id)) return;
    this.crashSoon(this.all[id - 1]!, this.faultRng.float(), 'right after installing a snapshot');
  }

  private crashSoon(m: SimMember, delayMs: number, why: string): void {
    const life = m.current;
    const crash = this.faultRng.chance(0.5);
    this.scheduler.after(delayMs, () => {
      if (m.current !== life || this.healed) return;
      this.trace?.(`fault: n${m.id} ${crash ? 'power cut' : 'kill -9'} ${why}`);
      if (crash) this.crash(m);
      else this.kill(m);
    });
  }

  onLiveOp(op: HistoryOp): void {
    if (!this.healed || op.invokeTick < this.healMs || this.liveAt >= 0) return;
    if (op.kind === 'write' && this.liveWriteAt < 0) this.liveWriteAt = this.now();
    if (op.kind === 'read' && this.liveReadAt < 0) this.liveReadAt = this.now();
    if (this.liveWriteAt >= 0 && this.liveReadAt >= 0) {
      this.liveAt = this.now();
      this.stats.recoveryMs = Math.round(this.liveAt - this.healMs);
      this.trace?.(`liveness: a write and a read succeeded ${this.stats.recoveryMs} ms after healing`);
    }
  }

  // ---- faults ----

  private faultTick(): void {
    if (this.healed) return;
    this.faults.inject();
    const [lo, hi] = this.scenario.faultGapMs;
    this.scheduler.after(lo + this.faultRng.int(hi - lo + 1), () => this.faultTick());
  }

  /** An initial learner joins: asked for like any membership change, again until it is in. */
  private addInitialLearner(): void {
    this.faults.addLearner(() => this.scheduler.after(this.electionMs(), () => this.addInitialLearner()));
  }

  private heal(): void {
    this.healed = true;
    this.healMs = this.now();
    this.faults.stopped = true;
    this.network.heal();
    Object.assign(this.network.requestFaults, { dropProbability: 0, duplicateProbability: 0, delayProbability: 0 });
    Object.assign(this.network.responseFaults, { dropProbability: 0, duplicateProbability: 0, delayProbability: 0 });
    this.trace?.('HEAL: network healed, disks repaired, clocks steady, every member restarted');
    for (const m of this.all) {
      m.host.disk.opts.syncLatencyMs = m.syncLatencyMs;
      m.host.clock.setRate(1);
      if (m.diskFault && !m.up) this.repairDisk(m);
      if (!m.up && !m.gone && m.lives > 0) this.startLater(m, 1);
    }
  }

  private describeMember(m: SimMember): string {
    const v = this.views.get(m.id)!;
    const life = m.current;
    const node = life?.node;
    const status = node === null || node === undefined ? (m.gone ? 'removed' : m.up ? 'starting' : 'down') : JSON.stringify(node.status());
    return `n${m.id} lives ${m.lives} ${status} voters ${v.conf.voters.join(',')} learners ${v.conf.learners.join(',') || '-'} applied ${v.applied} durable to ${v.durable.lastIndex()}`;
  }
}

export function runSimulation(opts: SimOptions): Promise<SimResult> {
  return new Simulation(opts).run();
}

/** A pino JSON line as one trace line: the node's clock, its message, the other fields. */
function formatLogLine(id: number, line: string): string {
  try {
    const { time, msg, level, self, ...rest } = JSON.parse(line) as Record<string, unknown>;
    void self;
    const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    return `n${id} log[${LEVELS[level as number] ?? level} @${time}] ${msg}${fields}`;
  } catch {
    return `n${id} log ${line.trimEnd()}`;
  }
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** The index of the op (in invocation order) that ends the shortest non-linearizable prefix. */
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
