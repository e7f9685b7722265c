// An in-memory cluster for rule tests: each node is a RawNode over a MemoryStorage, driven by a
// Ready loop that persists, applies and sends exactly as the application must. Messages can be
// dropped per link (cut), per node (isolate) or by a predicate; nothing is delivered unless asked.
// An observer sees every Ready and every delivery: the scenario interpreter prints them.

import {
  type ConfChange,
  type ConfState,
  ConfChangeType,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  type NodeId,
  RawNode,
  type RaftConfig,
  type ReadState,
  type Ready,
  StateType,
  decodeConfChange,
} from '../../src/raft/index.ts';
import { planReady } from '../../src/node/ready-plan.ts';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A small seeded PRNG (mulberry32), so election timeouts are reproducible. */
export function seededRandom(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(r * n);
  };
}

export interface TestNode {
  id: NodeId;
  rn: RawNode;
  storage: MemoryStorage;
  /** Data of the normal, non-empty entries this node applied, in order. */
  applied: string[];
  appliedIndex: number;
  reads: ReadState[];
  confState: ConfState;
  /** Set when the node is crashed: it receives nothing. */
  down: boolean;
}

export type ConfigOverrides = Partial<Omit<RaftConfig, 'id' | 'storage'>>;

/** Sees the cluster's work as it happens, for tests that print it. */
export interface NetworkObserver {
  /** Node `id` took `rd` and is about to persist, apply and advance it. */
  ready?(id: NodeId, rd: Ready): void;
  /** A message is about to be stepped into its target (`arrived`), or was lost on the way. */
  delivering?(m: Message, arrived: boolean): void;
  /** The sender was told how a snapshot send went. */
  snapshotReported?(m: Message, ok: boolean): void;
}

export interface NetworkOptions {
  electionTicks?: number;
  heartbeatTicks?: number;
  seed?: number;
  /** Per-node config overrides. */
  config?: (id: NodeId) => ConfigOverrides;
}

export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly cuts = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  /** Messages matching this are dropped. */
  dropIf: (m: Message) => boolean = () => false;
  /** Every message that left a node (before any drop), for assertions. */
  readonly sent: Message[] = [];
  observer: NetworkObserver = {};
  /** Each node's own config overrides, kept for its restarts. */
  private readonly overrides = new Map<NodeId, ConfigOverrides>();
  private readonly opts: Required<Omit<NetworkOptions, 'config'>> & Pick<NetworkOptions, 'config'>;

  constructor(opts: NetworkOptions = {}) {
    this.opts = { electionTicks: 10, heartbeatTicks: 1, seed: 1, ...opts };
  }

  /** A brand-new cluster of `voters` (all bootstrapped with the same peer list). */
  static bootstrap(voters: NodeId[], opts: NetworkOptions = {}): Network {
    const net = new Network(opts);
    for (const id of voters) {
      const n = net.addNode(id);
      n.rn.bootstrap(voters.map((v) => ({ id: v, context: enc(`peer-${v}`) })));
    }
    net.deliverAll();
    return net;
  }

  config(id: NodeId, storage: MemoryStorage, extra: ConfigOverrides = {}): RaftConfig {
    return {
      id,
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: this.opts.heartbeatTicks,
      storage,
      random: seededRandom(this.opts.seed * 1000 + id),
      ...(this.opts.config?.(id) ?? {}),
      ...extra,
    };
  }

  /** Adds a node on `storage` (empty by default) without bootstrapping it. */
  addNode(id: NodeId, storage = new MemoryStorage(), extra: ConfigOverrides = {}): TestNode {
    this.overrides.set(id, extra);
    const node: TestNode = {
      id,
      rn: new RawNode(this.config(id, storage, extra)),
      storage,
      applied: stateFromSnapshot(storage.snapshot().data),
      appliedIndex: storage.snapshot().metadata.index,
      reads: [],
      confState: storage.initialState().confState,
      down: false,
    };
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  rn(id: NodeId): RawNode {
    return this.node(id).rn;
  }

  /** Crash: the node stops; unsent messages and volatile state are lost; storage survives. */
  crash(id: NodeId): void {
    this.node(id).down = true;
  }

  /** Restart from storage with a fresh RawNode (with the overrides it was added with, then
   *  `extra`); the state machine replays from scratch. */
  restart(id: NodeId, extra: ConfigOverrides = {}): TestNode {
    const old = this.node(id);
    const node: TestNode = {
      id,
      rn: new RawNode(this.config(id, old.storage, { ...this.overrides.get(id), ...extra })),
      storage: old.storage,
      applied: stateFromSnapshot(old.storage.snapshot().data),
      appliedIndex: old.storage.snapshot().metadata.index,
      reads: [],
      confState: old.storage.initialState().confState,
      down: false,
    };
    this.nodes.set(id, node);
    return node;
  }

  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}-${b}`);
    this.cuts.add(`${b}-${a}`);
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  heal(): void {
    this.cuts.clear();
    this.isolated.clear();
    this.dropIf = () => false;
  }

  /** Whether the links and the target let `m` through now. */
  delivers(m: Message): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return false;
    if (this.cuts.has(`${m.from}-${m.to}`)) return false;
    const target = this.nodes.get(m.to);
    if (target === undefined || target.down) return false;
    return !this.dropIf(m);
  }

  /** Runs one Ready of a node the way the application must (persist, apply, advance; the
   *  messages all go after the persist, so canSendBeforePersist is not needed); returns its
   *  outgoing messages. */
  flush(id: NodeId): Message[] {
    const node = this.node(id);
    if (node.down || !node.rn.hasReady()) return [];
    const rd = node.rn.ready();
    this.observer.ready?.(id, rd);
    // The node's own plan for the Ready (src/node/ready-plan.ts); here persisting is
    // synchronous, so what may go early simply goes first.
    const plan = planReady(rd, rd.messages, node.rn.status().softState.raftState === StateType.Leader, node.storage.lastIndex());
    for (const e of plan.applyEarly) this.apply(node, e);
    // 1. persist
    if (rd.snapshot !== null) node.storage.applySnapshot(rd.snapshot);
    node.storage.append(rd.entries);
    if (rd.hardState !== null) node.storage.setHardState(rd.hardState);
    // 3. apply
    if (rd.snapshot !== null) {
      node.appliedIndex = rd.snapshot.metadata.index;
      node.confState = rd.snapshot.metadata.confState;
      node.applied = stateFromSnapshot(rd.snapshot.data);
    }
    for (const e of plan.applyAfterPersist) this.apply(node, e);
    node.reads.push(...rd.readStates);
    // 4. advance
    node.rn.advance(rd);
    const messages = [...plan.sendEarly, ...plan.sendAfterPersist];
    this.sent.push(...messages);
    return messages;
  }

  private apply(node: TestNode, e: Entry): void {
    if (e.index !== node.appliedIndex + 1) {
      throw new Error(`node ${node.id} applied ${e.index} after ${node.appliedIndex}`);
    }
    node.appliedIndex = e.index;
    if (e.type === EntryType.ConfChange) {
      node.confState = node.rn.applyConfChange(decodeConfChange(e.data));
    } else if (e.data.length > 0) {
      node.applied.push(dec(e.data));
    }
  }

  /** Steps each message into its target (if the link delivers it); returns how many arrived. */
  deliver(msgs: Message[]): number {
    let n = 0;
    for (const m of msgs) {
      const ok = this.delivers(m);
      this.observer.delivering?.(m, ok);
      if (ok) {
        this.node(m.to).rn.step(m);
        n++;
      }
      // The application tells the leader how a snapshot send went.
      const sender = this.nodes.get(m.from);
      if (m.type === MessageType.MsgSnap && sender !== undefined && !sender.down) {
        sender.rn.reportSnapshot(m.to, ok);
        this.observer.snapshotReported?.(m, ok);
      }
    }
    return n;
  }

  /**
   * Snapshots the node's state machine at `index` (default: its applied index) and compacts its
   * log there. An earlier index gets the state rebuilt from the log, so no conf change may lie
   * between it and the applied index.
   */
  compact(id: NodeId, index = this.node(id).appliedIndex): void {
    const node = this.node(id);
    if (index > node.appliedIndex) throw new Error(`node ${id} cannot snapshot at ${index}: applied only ${node.appliedIndex}`);
    const later = index === node.appliedIndex ? [] : node.storage.entries(index + 1, node.appliedIndex + 1, Infinity);
    if (later.some((e) => e.type === EntryType.ConfChange)) throw new Error(`node ${id}: a conf change lies after ${index}`);
    const laterValues = later.filter((e) => e.data.length > 0).length;
    const values = node.applied.slice(0, node.applied.length - laterValues);
    node.storage.createSnapshot(index, node.confState, enc(JSON.stringify(values)));
    node.storage.compact(index);
  }

  /**
   * Flushes every node and delivers until nothing moves. With `afterEach`, messages go one at a
   * time, each followed by the receiver's Ready, and `afterEach` runs after every delivery.
   */
  deliverAll(maxRounds = 1000, afterEach?: (m: Message) => void): void {
    const queue: Message[] = [];
    for (let round = 0; round < maxRounds * 100; round++) {
      if (queue.length === 0) for (const id of this.ids()) queue.push(...this.flush(id));
      const m = queue.shift();
      if (m === undefined) {
        // A Ready without messages (a leader's commit after advance reported its entries
        // persisted) may still be followed by another.
        if (!this.anyReady()) return;
        continue;
      }
      if (afterEach === undefined) {
        this.deliver([m, ...queue.splice(0)]);
        continue;
      }
      if (this.deliver([m]) === 0) continue;
      queue.push(...this.flush(m.to));
      afterEach(m);
    }
    throw new Error('network did not settle');
  }

  private anyReady(): boolean {
    for (const n of this.nodes.values()) if (!n.down && n.rn.hasReady()) return true;
    return false;
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  /** Ticks the given nodes (default: all up) `n` times, delivering everything after each tick. */
  tick(n: number, ids: NodeId[] = this.ids()): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids) if (!this.node(id).down) this.rn(id).tick();
      this.deliverAll();
    }
  }

  /** Makes `id` campaign and delivers everything. */
  elect(id: NodeId): void {
    this.rn(id).campaign();
    this.deliverAll();
  }

  state(id: NodeId): StateType {
    return this.rn(id).status().softState.raftState;
  }

  term(id: NodeId): number {
    return this.rn(id).status().hardState.term;
  }

  /** The live leader with the highest term, or 0. */
  leader(): NodeId {
    let best = 0;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      if (n.down) continue;
      const st = n.rn.status();
      if (st.softState.raftState === StateType.Leader && st.hardState.term > bestTerm) {
        best = n.id;
        bestTerm = st.hardState.term;
      }
    }
    return best;
  }

  /** Proposes on `id` and delivers everything. */
  propose(id: NodeId, data: string): void {
    this.rn(id).propose(enc(data));
    this.deliverAll();
  }

  confChange(id: NodeId, type: ConfChangeType, nodeId: NodeId, context = ''): void {
    const cc: ConfChange = { type, nodeId, context: enc(context) };
    this.rn(id).proposeConfChange(cc);
    this.deliverAll();
  }

  /** All persisted entries of a node (after its snapshot). */
  log(id: NodeId): Entry[] {
    const s = this.node(id).storage;
    return s.lastIndex() < s.firstIndex() ? [] : s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity);
  }
}

/** The test state machine (the list of applied values) as stored in a snapshot. */
function stateFromSnapshot(data: Uint8Array): string[] {
  return data.length === 0 ? [] : (JSON.parse(dec(data)) as string[]);
}

export const MT = MessageType;
export const ST = StateType;
export const CC = ConfChangeType;

/** A storage holding the given terms at indexes 1.. and a hard state, as if a node had run before. */
export function storageWith(terms: number[], hs: { term: number; vote?: NodeId; commit?: number }, voters: NodeId[]): MemoryStorage {
  const s = new MemoryStorage();
  // Membership comes from a snapshot at index 0 is impossible, so put it in a snapshot at 1.
  s.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters, learners: [] } }, data: enc('') });
  s.append(terms.slice(1).map((term, i) => ({ term, index: i + 2, type: EntryType.Normal, data: enc(`e${i + 2}`) })));
  s.setHardState({ term: hs.term, vote: hs.vote ?? 0, commit: hs.commit ?? 1 });
  return s;
}
