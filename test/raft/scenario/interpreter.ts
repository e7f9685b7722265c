// The scenario interpreter: runs the commands of a scenario file against the rule-test cluster
// (../network.ts, whose Ready loop it drives) and prints what happens: every Ready a node
// handles, every message delivered or lost, and the core's log lines at the chosen level.
// The commands are listed in ../testdata/README.md.

import {
  type ConfChangeType,
  type Message,
  MessageType,
  type NodeId,
  type PlantedBugs,
  type RaftLogger,
} from '../../../src/raft/index.ts';
import { newMessage } from '../../../src/raft/util.ts';
import { CC, type ConfigOverrides, Network, enc, seededRandom, storageWith } from '../network.ts';
import type { Command } from './datadriven.ts';
import {
  describeBytes,
  describeConfState,
  describeEntry,
  describeMessage,
  describeReady,
  describeSnapshot,
  stateName,
} from './describe.ts';

/** What is printed: `none` nothing but errors, `trace` Readies and messages, then the core's log
 *  lines from `error` up to `debug`. */
const levels = ['none', 'trace', 'error', 'warn', 'info', 'debug'] as const;
type Level = (typeof levels)[number];

const confChangeTypes: Record<string, ConfChangeType> = { add: CC.AddNode, remove: CC.RemoveNode, 'add-learner': CC.AddLearnerNode };
const stabilizeRoundsMax = 10_000;

interface NodeTicks {
  electionTicks: number;
  heartbeatTicks: number;
}

export class Scenario {
  private readonly net = new Network();
  /** Messages sent and not yet delivered or dropped, in the order they were sent. */
  private mailbox: Message[] = [];
  private readonly ticks = new Map<NodeId, NodeTicks>();
  private output: string[] = [];
  private indent = '';
  private level: Level = 'trace';
  private readonly handlers: Record<string, (cmd: Command) => void> = {
    'add-nodes': (cmd) => this.addNodes(cmd),
    campaign: (cmd) => this.forEachNode(cmd, (id) => this.net.rn(id).campaign()),
    propose: (cmd) => this.propose(cmd),
    'propose-batch': (cmd) => this.proposeBatch(cmd),
    'propose-conf-change': (cmd) => this.proposeConfChange(cmd),
    'read-index': (cmd) => this.net.rn(this.nodeArg(cmd, 0)).readIndex(enc(this.wordArg(cmd, 1))),
    'transfer-leadership': (cmd) => this.net.rn(this.keyedId(cmd, 'from')).transferLeader(this.keyedId(cmd, 'to')),
    'report-unreachable': (cmd) => this.net.rn(this.nodeArg(cmd, 0)).reportUnreachable(this.nodeArg(cmd, 1)),
    step: (cmd) => this.step(cmd),
    tick: (cmd) => this.tick(cmd, () => Number(cmd.keyed.get('n')?.[0] ?? 1)),
    'tick-heartbeat': (cmd) => this.tick(cmd, (id) => this.nodeTicks(id).heartbeatTicks),
    'tick-election': (cmd) => this.tick(cmd, (id) => this.nodeTicks(id).electionTicks),
    'process-ready': (cmd) => this.forEachNode(cmd, (id) => this.processReady(id)),
    'deliver-msgs': (cmd) => this.deliverMsgs(cmd),
    stabilize: (cmd) => this.stabilize(this.nodeArgs(cmd)),
    partition: (cmd) => this.partition(cmd),
    isolate: (cmd) => this.forEachNode(cmd, (id) => this.net.isolate(id)),
    block: (cmd) => this.block(cmd),
    heal: () => this.net.heal(),
    crash: (cmd) => this.forEachNode(cmd, (id) => this.net.crash(id)),
    restart: (cmd) => this.forEachNode(cmd, (id) => this.restart(id)),
    compact: (cmd) => this.compact(cmd),
    'raft-state': () => this.raftState(),
    'raft-log': (cmd) => this.forEachNode(cmd, (id) => this.raftLog(id)),
    status: (cmd) => this.forEachNode(cmd, (id) => this.status(id)),
    applied: (cmd) => this.forEachNode(cmd, (id) => this.applied(id), true),
    'log-level': (cmd) => this.setLevel(cmd),
  };

  constructor() {
    this.net.observer = {
      ready: (_id, rd) => this.trace(describeReady(rd)),
      delivering: (m, arrived) => this.trace(arrived ? describeMessage(m) : prefixFirst('dropped: ', describeMessage(m))),
      snapshotReported: (m, ok) => this.trace([`snapshot status ${m.from}->${m.to}: ${ok ? 'ok' : 'failed'}`]),
    };
  }

  /** Runs one command; returns its output lines (`ok` when it printed nothing). */
  run(cmd: Command): string[] {
    this.output = [];
    this.indent = '';
    const handler = this.handlers[cmd.name];
    try {
      if (handler === undefined) throw new Error(`unknown command ${cmd.name}`);
      handler(cmd);
    } catch (e) {
      this.print([`error: ${errorText(e)}`]);
    }
    return this.output.length > 0 ? this.output : ['ok'];
  }

  private print(lines: string[]): void {
    for (const line of lines) this.output.push(this.indent + line);
  }

  private trace(lines: string[]): void {
    if (this.level !== 'none') this.print(lines);
  }

  private nested(header: string, body: () => void): void {
    this.trace([header]);
    const outer = this.indent;
    this.indent += '  ';
    try {
      body();
    } finally {
      this.indent = outer;
    }
  }

  // --- arguments

  private nodeArgs(cmd: Command): NodeId[] {
    return cmd.positional.map((word) => this.nodeId(word, cmd));
  }

  private nodeArg(cmd: Command, at: number): NodeId {
    return this.nodeId(this.wordArg(cmd, at), cmd);
  }

  private wordArg(cmd: Command, at: number): string {
    const word = cmd.positional[at];
    if (word === undefined) throw new Error(`${cmd.name}: argument ${at + 1} is missing`);
    return word;
  }

  private keyedId(cmd: Command, key: string): NodeId {
    const word = cmd.keyed.get(key)?.[0];
    if (word === undefined) throw new Error(`${cmd.name}: ${key}= is missing`);
    return this.nodeId(word, cmd);
  }

  private nodeId(word: string, cmd: Command): NodeId {
    const id = Number(word);
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`${cmd.name}: ${JSON.stringify(word)} is not a node id`);
    return id;
  }

  /** Runs `body` for each node named, or for every node when none is and `allByDefault`. */
  private forEachNode(cmd: Command, body: (id: NodeId) => void, allByDefault = false): void {
    const ids = this.nodeArgs(cmd);
    if (ids.length === 0 && !allByDefault) throw new Error(`${cmd.name}: name a node`);
    for (const id of ids.length > 0 ? ids : this.net.ids()) body(id);
  }

  // --- building the cluster

  /**
   * `add-nodes N [voters=(..)] [learners=(..)] [log=(terms)] [term=T] [vote=V] [commit=C] [options]`:
   * N new nodes with the next free ids. With voters, each starts from the bootstrap (whose first
   * Ready is handled silently), or from a log of the given entry terms at 1.. when log= is set;
   * without, it starts empty, as a node started with --join.
   */
  private addNodes(cmd: Command): void {
    const count = Number(this.wordArg(cmd, 0));
    const voters = (cmd.keyed.get('voters') ?? []).map(Number);
    const learners = (cmd.keyed.get('learners') ?? []).map(Number);
    const logTerms = cmd.keyed.get('log')?.map(Number);
    const firstId = Math.max(0, ...this.net.ids()) + 1;
    for (let id = firstId; id < firstId + count; id++) {
      const overrides = this.configFrom(cmd, id);
      this.ticks.set(id, { electionTicks: overrides.electionTicks!, heartbeatTicks: overrides.heartbeatTicks! });
      if (logTerms !== undefined) {
        const hardState = { term: keyedNumber(cmd, 'term', 0), vote: keyedNumber(cmd, 'vote', 0), commit: keyedNumber(cmd, 'commit', 1) };
        this.net.addNode(id, storageWith(logTerms, hardState, voters), overrides);
      } else {
        const node = this.net.addNode(id, undefined, overrides);
        if (voters.length > 0) {
          node.rn.bootstrap([...voters.map((v) => ({ id: v, context: enc('') })), ...learners.map((l) => ({ id: l, context: enc(''), learner: true }))]);
          this.silently(() => this.net.flush(id));
        }
      }
      this.print([this.describeNode(id)]);
    }
  }

  private configFrom(cmd: Command, id: NodeId): ConfigOverrides {
    const seed = cmd.keyed.get('seed')?.[0];
    const plantedBugs: PlantedBugs = {};
    for (const bug of cmd.keyed.get('bug') ?? []) plantedBugs[bug as keyof PlantedBugs] = true;
    const overrides: ConfigOverrides = {
      electionTicks: keyedNumber(cmd, 'election', 10),
      heartbeatTicks: keyedNumber(cmd, 'heartbeat', 1),
      preVote: keyedBool(cmd, 'prevote', true),
      checkQuorum: keyedBool(cmd, 'checkquorum', true),
      // Random 0: an election timeout of exactly electionTicks, unless a seed asks for chance.
      random: seed === undefined ? () => 0 : seededRandom(Number(seed) * 1000 + id),
      logger: this.logger(id),
      plantedBugs,
    };
    const sizes: [string, keyof ConfigOverrides][] = [
      ['max-size-per-msg', 'maxSizePerMsg'],
      ['max-inflight', 'maxInflightMsgs'],
      ['max-uncommitted-size', 'maxUncommittedEntriesSize'],
      ['max-pending-reads', 'maxPendingReads'],
    ];
    for (const [key, field] of sizes) if (cmd.keyed.has(key)) (overrides as Record<string, number>)[field] = keyedNumber(cmd, key, 0);
    return overrides;
  }

  private logger(id: NodeId): RaftLogger {
    const line = (level: Level) => (msg: string, fields: object = {}) => {
      if (levels.indexOf(this.level) < levels.indexOf(level)) return;
      const rest = Object.entries(fields).filter(([key]) => key !== 'id');
      const text = rest.map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`).join(' ');
      this.print([`${level.toUpperCase()} ${id} ${msg.replace(/^raft: /, '')}${text === '' ? '' : ` ${text}`}`]);
    };
    return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  }

  private silently(body: () => void): void {
    const level = this.level;
    this.level = 'none';
    try {
      body();
    } finally {
      this.level = level;
    }
  }

  private setLevel(cmd: Command): void {
    const level = this.wordArg(cmd, 0) as Level;
    if (!levels.includes(level)) throw new Error(`log-level: one of ${levels.join(', ')}`);
    this.level = level;
  }

  private nodeTicks(id: NodeId): NodeTicks {
    const ticks = this.ticks.get(id);
    if (ticks === undefined) throw new Error(`no node ${id}`);
    return ticks;
  }

  private restart(id: NodeId): void {
    this.net.restart(id);
    this.print([this.describeNode(id)]);
  }

  private compact(cmd: Command): void {
    const id = this.nodeArg(cmd, 0);
    const index = cmd.positional[1] === undefined ? undefined : Number(cmd.positional[1]);
    this.net.compact(id, index);
    this.print([`${id}: snapshot ${describeSnapshot(this.net.node(id).storage.snapshot())}`]);
  }

  // --- client work

  private propose(cmd: Command): void {
    const id = this.nodeArg(cmd, 0);
    const size = cmd.keyed.get('size')?.[0];
    const word = this.wordArg(cmd, 1);
    this.net.rn(id).propose(enc(size === undefined ? word : word.repeat(Number(size)).slice(0, Number(size))));
  }

  private proposeBatch(cmd: Command): void {
    this.net.rn(this.nodeArg(cmd, 0)).proposeBatch(cmd.positional.slice(1).map(enc));
  }

  /** `propose-conf-change ID add|remove|add-learner NODE [CONTEXT]` */
  private proposeConfChange(cmd: Command): void {
    const type = confChangeTypes[this.wordArg(cmd, 1)];
    if (type === undefined) throw new Error(`propose-conf-change: one of ${Object.keys(confChangeTypes).join(', ')}`);
    const context = enc(cmd.positional[3] ?? '');
    this.net.rn(this.nodeArg(cmd, 0)).proposeConfChange({ type, nodeId: this.nodeArg(cmd, 2), context });
  }

  /** `step ID MsgType from=F term=T [log=LOGTERM/INDEX] [commit=C] [reject=true] [hint=H] [context=S]`:
   *  a message that no node of the cluster sent, stepped straight in. */
  private step(cmd: Command): void {
    const to = this.nodeArg(cmd, 0);
    const typeName = this.wordArg(cmd, 1);
    const type = (MessageType as Record<string, MessageType>)[typeName];
    if (type === undefined) throw new Error(`step: unknown message type ${typeName}`);
    const [logTerm, index] = (cmd.keyed.get('log')?.[0] ?? '0/0').split('/').map(Number);
    const m = newMessage({
      type, to, from: this.keyedId(cmd, 'from'), term: keyedNumber(cmd, 'term', 0), logTerm: logTerm ?? 0, index: index ?? 0,
      commit: keyedNumber(cmd, 'commit', 0), reject: keyedBool(cmd, 'reject', false), rejectHint: keyedNumber(cmd, 'hint', 0),
      context: enc(cmd.keyed.get('context')?.[0] ?? ''),
    });
    this.print(describeMessage(m));
    this.net.rn(to).step(m);
  }

  private tick(cmd: Command, count: (id: NodeId) => number): void {
    this.forEachNode(cmd, (id) => {
      for (let i = count(id); i > 0; i--) this.net.rn(id).tick();
    });
  }

  // --- the Ready loop and the network

  private processReady(id: NodeId): void {
    this.nested(`> ${id} handling Ready`, () => {
      const node = this.net.node(id);
      if (node.down) throw new Error(`node ${id} is down`);
      if (!node.rn.hasReady()) this.trace(['no Ready']);
      this.mailbox.push(...this.net.flush(id));
    });
  }

  /** Delivers (or with `drop`, loses) the waiting messages to `to` (of type `type` if set), in order. */
  private deliverTo(to: NodeId, drop: boolean, type?: MessageType): number {
    const matches = (m: Message) => m.to === to && (type === undefined || m.type === type);
    const taken = this.mailbox.filter(matches);
    this.mailbox = this.mailbox.filter((m) => !matches(m));
    for (const m of taken) {
      if (drop) {
        this.trace(prefixFirst('dropped: ', describeMessage(m)));
        continue;
      }
      try {
        this.net.deliver([m]);
      } catch (e) {
        this.print([`  error: ${errorText(e)}`]);
      }
    }
    return taken.length;
  }

  /** `deliver-msgs [ID...] [drop=(ID...)] [type=MsgType]`: to the nodes named (or to everyone). */
  private deliverMsgs(cmd: Command): void {
    const typeName = cmd.keyed.get('type')?.[0];
    const type = typeName === undefined ? undefined : (MessageType as Record<string, MessageType>)[typeName];
    if (typeName !== undefined && type === undefined) throw new Error(`deliver-msgs: unknown message type ${typeName}`);
    const dropped = (cmd.keyed.get('drop') ?? []).map((word) => this.nodeId(word, cmd));
    let targets = this.nodeArgs(cmd);
    if (targets.length === 0 && dropped.length === 0) targets = [...new Set(this.mailbox.map((m) => m.to))].sort((a, b) => a - b);
    let handled = 0;
    for (const id of targets) handled += this.deliverTo(id, false, type);
    for (const id of dropped) handled += this.deliverTo(id, true, type);
    if (handled === 0) this.trace(['no messages']);
  }

  /** Handles Readies and delivers messages among `ids` (default: all) until nothing moves. */
  private stabilize(ids: NodeId[]): void {
    const nodes = ids.length > 0 ? ids : this.net.ids();
    for (let round = 0; round < stabilizeRoundsMax; round++) {
      let moved = false;
      for (const id of nodes) {
        const node = this.net.node(id);
        if (node.down || !node.rn.hasReady()) continue;
        this.processReady(id);
        moved = true;
      }
      for (const id of nodes) {
        if (!this.mailbox.some((m) => m.to === id)) continue;
        this.nested(`> ${id} receiving messages`, () => this.deliverTo(id, false));
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error(`stabilize: still moving after ${stabilizeRoundsMax} rounds`);
  }

  /** `partition (1,2) (3)` or `partition 1,2 3`: cuts every link between the groups. */
  private partition(cmd: Command): void {
    const groups = cmd.positional.map((word) => word.replace(/[()]/g, '').split(',').map((w) => this.nodeId(w, cmd)));
    for (const [i, group] of groups.entries()) {
      for (const other of groups.slice(i + 1)) for (const a of group) for (const b of other) this.net.cut(a, b);
    }
  }

  /** `block [type=MsgType] [from=ID] [to=ID]`: such messages are lost until `heal`. */
  private block(cmd: Command): void {
    const typeName = cmd.keyed.get('type')?.[0];
    const type = typeName === undefined ? undefined : (MessageType as Record<string, MessageType>)[typeName];
    if (typeName !== undefined && type === undefined) throw new Error(`block: unknown message type ${typeName}`);
    const from = cmd.keyed.has('from') ? this.keyedId(cmd, 'from') : undefined;
    const to = cmd.keyed.has('to') ? this.keyedId(cmd, 'to') : undefined;
    const before = this.net.dropIf;
    this.net.dropIf = (m) =>
      before(m) || ((type === undefined || m.type === type) && (from === undefined || m.from === from) && (to === undefined || m.to === to));
  }

  // --- what the nodes know

  private describeNode(id: NodeId): string {
    const node = this.net.node(id);
    const st = node.rn.status();
    const hs = st.hardState;
    return `${id}: ${stateName(st.softState.raftState)} Term:${hs.term} Vote:${hs.vote} Commit:${st.commit} Applied:${st.applied} Last:${st.lastIndex} ${describeConfState(node.confState)}`;
  }

  /** One line per node: its role, term and leader as it sees them, and where its log stands. */
  private raftState(): void {
    for (const id of this.net.ids()) {
      const node = this.net.node(id);
      if (node.down) {
        this.print([`${id}: down`]);
        continue;
      }
      const st = node.rn.status();
      const cs = node.confState;
      const member = cs.voters.includes(id) ? 'Voter' : cs.learners.includes(id) ? 'Learner' : 'Non-Member';
      this.print([`${id}: ${stateName(st.softState.raftState)} (${member}) Term:${st.hardState.term} Vote:${st.hardState.vote} Lead:${st.softState.lead} Commit:${st.commit} Applied:${st.applied} Last:${st.lastIndex}`]);
    }
  }

  private raftLog(id: NodeId): void {
    const storage = this.net.node(id).storage;
    const snapshot = storage.snapshot();
    if (snapshot.metadata.index > 0) this.print([`${id}: snapshot ${describeSnapshot(snapshot)}`]);
    const entries = this.net.log(id);
    if (entries.length === 0) this.print([`${id}: no entries`]);
    this.print(entries.map((e) => `${id}: ${describeEntry(e)}`));
  }

  /** The leader's view of each peer's log, and a transfer under way. */
  private status(id: NodeId): void {
    const st = this.net.rn(id).status();
    if (st.progress === null) {
      this.print([`${id}: ${stateName(st.softState.raftState)}, no progress to show`]);
      return;
    }
    for (const [peer, pr] of [...st.progress].sort(([a], [b]) => a - b)) this.print([`${peer}: ${pr.state} match=${pr.match} next=${pr.next}`]);
    if (st.leadTransferee !== 0) this.print([`transferring to ${st.leadTransferee}`]);
  }

  /** The test state machine: applied index, membership and the values applied, in order. */
  private applied(id: NodeId): void {
    const node = this.net.node(id);
    const values = node.applied.map((v) => describeBytes(enc(v))).join(' ');
    this.print([`${id}: Applied:${node.appliedIndex} ${describeConfState(node.confState)} [${values}]`]);
  }
}

function keyedNumber(cmd: Command, key: string, fallback: number): number {
  const word = cmd.keyed.get(key)?.[0];
  if (word === undefined) return fallback;
  const n = Number(word);
  if (!Number.isFinite(n)) throw new Error(`${cmd.name}: ${key}=${word} is not a number`);
  return n;
}

function keyedBool(cmd: Command, key: string, fallback: boolean): boolean {
  const word = cmd.keyed.get(key)?.[0];
  if (word === undefined) return fallback;
  if (word !== 'true' && word !== 'false') throw new Error(`${cmd.name}: ${key}= takes true or false`);
  return word === 'true';
}

function prefixFirst(prefix: string, lines: string[]): string[] {
  return lines.map((line, i) => (i === 0 ? prefix + line : line));
}

function errorText(e: unknown): string {
  if (e instanceof Error) return 'code' in e ? `${String(e.code)}: ${e.message}` : e.message;
  return String(e);
}
