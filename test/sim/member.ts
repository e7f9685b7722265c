// One member of the simulated cluster: a machine (SimNodeHost: its disk and clock) and the
// process lives it goes through, each started and stopped as src/main.ts does it, on the
// machine's simulated world: the real RaftNode, Wal, Snapshotter, transport and KvStore.

import pino, { type Logger } from 'pino';
import { parseConfig, type Config } from '../../src/config.ts';
import type { NodeObserver, NodePlantedBugs } from '../../src/node/observer.ts';
import type { Chan } from '../../src/chan.ts';
import type { KvStore } from '../../src/kvstore.ts';
import type { RaftNode, StopReason } from '../../src/node/raft-node.ts';
import type { ConfChangeRequest } from '../../src/queues.ts';
import { openNodeWithStore, type NodeWithStore } from '../../src/node-store.ts';
import type { SimNodeHost, SimProcessWorld } from './world/sim-world.ts';

/** The flags a seed picks for every member (the rest follow from the member's id). */
export interface NodeFlags {
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotCount: number;
  snapshotCatchupEntries: number;
  maxSnapshots: number;
  maxWals: number;
  requestTimeoutMs: number;
}

export const DATA_DIR = '/data';
/** A snapshot writes this much state per turn: the simulated states are small, and later writes must interleave with it. */
const SNAPSHOT_CHUNK_BYTES = 64;
/** One: the simulated states have a handful of keys, and a restore of a leader's snapshot must span several turns, interleaved with other work. */
const RESTORE_PAIRS_PER_TURN = 1;
export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;

export function peerUrlOf(id: number): string {
  return `http://n${id}:${PEER_PORT}`;
}

/** The client URL a member advertises (a fake host: the simulated clients call the KvApi directly). */
export function clientUrlOf(id: number): string {
  return `http://n${id}:${CLIENT_PORT}`;
}

/** The command line a member is started with, as an operator would type it (parsed by parseConfig). */
export function memberArgv(id: number, clusterSize: number, join: boolean, flags: NodeFlags, logLevel: string): string[] {
  const cluster = Array.from({ length: clusterSize }, (_, i) => peerUrlOf(i + 1)).join(',');
  return [
    '--id', String(id), '--cluster', cluster, '--port', String(CLIENT_PORT), '--advertise-client-url', clientUrlOf(id), '--data-dir', DATA_DIR,
    '--tick-ms', String(flags.tickMs), '--election-ticks', String(flags.electionTicks), '--heartbeat-ticks', String(flags.heartbeatTicks),
    '--snapshot-count', String(flags.snapshotCount), '--snapshot-catchup-entries', String(flags.snapshotCatchupEntries),
    '--max-snapshots', String(flags.maxSnapshots), '--max-wals', String(flags.maxWals),
    '--request-timeout-ms', String(flags.requestTimeoutMs), '--log-level', logLevel,
    ...(join ? ['--join'] : []),
  ];
}

export function configFrom(argv: string[]): Config {
  const parsed = parseConfig(argv, '/');
  if (parsed.help) throw new Error('sim: --help in a member command line');
  return parsed.config;
}

/** What ended a process life. */
export type LifeEnd =
  | { kind: 'stopped' }
  | { kind: 'removed' }
  | { kind: 'fatal'; error: Error }
  | { kind: 'startFailed'; error: Error }
  | { kind: 'killed' }
  | { kind: 'crashed' };

/** One process of a member, as main.ts runs it; `node` and `kv` are set once it is ready. */
export interface ProcessLife {
  readonly number: number;
  readonly world: SimProcessWorld;
  readonly config: Config;
  alive: boolean;
  ready: boolean;
  node: RaftNode | null;
  kv: KvStore | null;
  confChangeC: Chan<ConfChangeRequest> | null;
  /** Set when a SIGTERM-like stop was asked for. */
  terminate: (() => void) | null;
}

export interface LifeHooks {
  observer: NodeObserver;
  plantedBugs: NodePlantedBugs;
  walSegmentBytes: number;
  /** The node's pino logger writes here (one JSON line per call); null: silent. */
  logLine: ((line: string) => void) | null;
  ready(life: ProcessLife): void;
  ended(life: ProcessLife, end: LifeEnd): void;
}

export class SimMember {
  /** Process lives started so far. */
  lives = 0;
  current: ProcessLife | null = null;
  /** Removed from the cluster and stopped for good. */
  gone = false;
  /** Unsynced writes may sit in the page cache (the last process was killed, the power stayed on). */
  pageCacheDirty = false;
  /** A disk fault (full, EIO) was injected and not yet repaired: a fatal stop is expected. */
  diskFault = false;
  private hooks: LifeHooks | null = null;
  /** The disk's own fsync latency (a slowDisk fault changes it until the heal). */
  readonly syncLatencyMs: { minMs: number; maxMs: number };

  constructor(
    readonly id: number,
    readonly host: SimNodeHost,
    /** The command line of every life (the first one may --join; later ones restart from the WAL). */
    private readonly argv: string[],
  ) {
    this.syncLatencyMs = host.disk.opts.syncLatencyMs;
  }

  get up(): boolean {
    return this.current !== null;
  }

  get readyLife(): ProcessLife | null {
    return this.current?.ready === true ? this.current : null;
  }

  /** Start a process: flags parsed, then main.ts's start-up order, on a fresh view of this machine. */
  start(hooks: LifeHooks): ProcessLife {
    if (this.current !== null) throw new Error(`n${this.id}: a process is running`);
    const world = this.host.start();
    this.hooks = hooks;
    const life: ProcessLife = {
      number: ++this.lives,
      world,
      config: configFrom(this.argv),
      alive: true,
      ready: false,
      node: null,
      kv: null,
      confChangeC: null,
      terminate: null,
    };
    this.current = life;
    void this.run(life, hooks).then(
      (end) => this.exit(life, hooks, end),
      (e: unknown) => this.exit(life, hooks, { kind: 'fatal', error: e as Error }),
    );
    return life;
  }

  /** kill -9: the process dies; what it wrote stays in the page cache. */
  kill(): void {
    const life = this.current;
    if (life === null) return;
    this.host.kill();
    this.pageCacheDirty = true;
    this.exit(life, this.hooks!, { kind: 'killed' });
  }

  /** Power cut: the process dies and the disk keeps only what was durable (or torn bits of the rest). */
  crash(): void {
    const life = this.current;
    this.host.crash();
    this.pageCacheDirty = false;
    if (life !== null) this.exit(life, this.hooks!, { kind: 'crashed' });
  }

  private exit(life: ProcessLife, hooks: LifeHooks, end: LifeEnd): void {
    if (!life.alive) return;
    life.alive = false;
    life.ready = false;
    if (this.current === life) {
      this.current = null;
      // Whatever the process left running dies with it (a graceful stop left nothing).
      if (end.kind !== 'killed' && end.kind !== 'crashed') this.host.kill();
    }
    if (end.kind === 'removed') this.gone = true;
    hooks.ended(life, end);
  }

  /** main.ts's run(): start up, serve until finished or terminated, then wind down backwards. */
  private async run(life: ProcessLife, hooks: LifeHooks): Promise<LifeEnd> {
    const cfg = life.config;
    const { world } = life;
    const log = createSimLogger(cfg, world, hooks.logLine);
    let started: NodeWithStore;
    try {
      started = await openNodeWithStore(
        { config: cfg, log, world, observer: hooks.observer, plantedBugs: hooks.plantedBugs, walSegmentBytes: hooks.walSegmentBytes, snapshotChunkBytes: SNAPSHOT_CHUNK_BYTES },
        { world, restorePairsPerTurn: RESTORE_PAIRS_PER_TURN },
      );
    } catch (e) {
      return { kind: 'startFailed', error: e as Error };
    }
    const { node, kv, proposeC, confChangeC, commitC } = started;
    const applying = kv.run();
    try {
      await node.listenPeers();
    } catch (e) {
      return { kind: 'startFailed', error: e as Error };
    }
    node.start();
    // (main.ts opens the client listener here; the simulated clients call the KvApi directly.)
    node.publishClientUrl();
    const signalled = new Promise<StopReason>((resolve) => (life.terminate = () => resolve({ kind: 'stopped' })));
    life.node = node;
    life.kv = kv;
    life.confChangeC = confChangeC;
    life.ready = true;
    hooks.ready(life);
    const reason = await Promise.race([signalled, node.finished]);
    life.ready = false;
    if (reason.kind === 'fatal') return reason;
    // Backwards, as main.ts: clients first; a removed member fails its waiters at once.
    if (reason.kind === 'removed') kv.stop();
    if (reason.kind === 'stopped') await node.transferLeadership();
    proposeC.close();
    confChangeC.close();
    await node.stop();
    kv.stop();
    commitC.close();
    await applying;
    // A fatal error while winding down still ends the process with a non-zero status.
    const finished = await node.finished;
    if (finished.kind === 'fatal') return finished;
    return reason.kind === 'removed' ? { kind: 'removed' } : { kind: 'stopped' };
  }
}

/**
 * A pino logger as the service builds it (level, `self`), timestamped by the node's simulated
 * clock and writing into the trace; silent when there is no trace.
 */
function createSimLogger(cfg: Config, world: SimProcessWorld, logLine: ((line: string) => void) | null): Logger {
  if (logLine === null) return pino({ level: 'silent' });
  return pino(
    { level: cfg.logLevel, base: { self: cfg.id }, timestamp: () => `,"time":${world.clock.now().toFixed(1)}` },
    { write: (line: string) => logLine(line) },
  );
}
