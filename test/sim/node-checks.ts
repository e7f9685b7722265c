// What the checker sees of each node: one NodeObserver per process life feeds the
// SafetyChecker (invariants.ts) with every Ready, persist, send, apply and snapshot, keeps
// the node's durable model (durable.ts) for Quorum Durability, and a digest of the state the
// node applied, compared across nodes at each index (State Machine Safety), snapshots included.

import { createHash } from 'node:crypto';
import { decodeSnapshotData } from '../../src/node/snapshot-data.ts';
import type { NodeObserver } from '../../src/node/observer.ts';
import { BinaryReader, type ConfState, type Entry, EntryType, type HardState, type Message, MessageType, type Ready, type Snapshot } from '../../src/raftpb/index.ts';
import { ProposalDedup } from '../../src/proposal-dedup.ts';
import { DurableLog } from './durable.ts';
import { type SafetyChecker, Violation } from './invariants.ts';

/** The kvstore's PUT entry: kind u8 (1), origin node u32, epoch u32, seq u32, key length u32, key, value (each origin's seq applied once). */
const KIND_PUT = 1;
const PUT_HEADER_BYTES = 17;

/** A node's applied key-value state, as an order-free digest (a sum of per-pair hashes). */
export class StateDigest {
  private readonly pairs = new Map<string, number>();
  private sum = 0;
  /** The exactly-once rule: a copy of a PUT already applied is skipped (src/proposal-dedup.ts). */
  private dedup = new ProposalDedup();

  get value(): string {
    return `${this.pairs.size}:${this.sum >>> 0}`;
  }

  set(key: string, value: Uint8Array): void {
    const old = this.pairs.get(key);
    if (old !== undefined) this.sum -= old;
    const h = pairHash(key, value);
    this.pairs.set(key, h);
    this.sum = (this.sum + h) | 0;
  }

  /** Apply a committed entry's data the way the kvstore does (anything but a PUT is ignored). */
  applyEntry(data: Uint8Array): void {
    if (data.length < PUT_HEADER_BYTES || data[0] !== KIND_PUT) return;
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const keyEnd = PUT_HEADER_BYTES + b.readUInt32LE(13);
    if (keyEnd > b.length) return;
    const [node, epoch, seq] = [b.readUInt32LE(1), b.readUInt32LE(5), b.readUInt32LE(9)];
    if (this.dedup.check(node, epoch, seq) !== 'new') return;
    this.dedup.record(node, epoch, seq);
    this.set(b.toString('utf8', PUT_HEADER_BYTES, keyEnd), b.subarray(keyEnd));
  }

  /** The state inside a snapshot's data (member table, then the kvstore's own layout). */
  static ofSnapshot(data: Uint8Array): StateDigest {
    const d = new StateDigest();
    const { kv } = decodeSnapshotData(data);
    const r = new BinaryReader(kv);
    const version = r.u8('kv snapshot version');
    const n = r.count(Number.MAX_SAFE_INTEGER, 2, 'kv pairs');
    for (let i = 0; i < n; i++) {
      const key = Buffer.from(r.bytes(Number.MAX_SAFE_INTEGER, 'key')).toString('utf8');
      d.set(key, r.bytes(Number.MAX_SAFE_INTEGER, 'value'));
    }
    if (version >= 2) d.dedup = ProposalDedup.read(r);
    return d;
  }
}

function pairHash(key: string, value: Uint8Array): number {
  const h = createHash('md5').update(key).update('\0').update(value).digest();
  return h.readInt32LE(0);
}

/** Per node, across its process lives: what the checker needs to ask of it. */
export class NodeView {
  readonly durable = new DurableLog();
  conf: ConfState = { voters: [], learners: [] };
  votersAtLastReady: number[] = [];
  state = new StateDigest();
  leader = false;
  term = 0;
  applied = 0;
  readies = 0;

  configs(): number[][] {
    return [[...this.conf.voters], this.votersAtLastReady];
  }
}

export interface ObserverContext {
  checker: SafetyChecker;
  /** Record a failure: the run stops at the end of the current event. */
  fail(e: unknown): void;
  trace: ((line: string) => void) | null;
  traceMessages: boolean;
  /** A node became leader in a Ready (for fault targeting). */
  onLeader(id: number): void;
  /** A Ready carried a snapshot from the leader (a chance to crash while it is being installed); `overLog`: it supersedes entries this node has. */
  onSnapshotReceived(id: number, overLog: boolean): void;
  /** That snapshot, its marker and the HardState after it are on disk. */
  onSnapshotPersisted(id: number): void;
  /** A Ready commits a conf change (a chance to crash before its fsync). */
  onConfChangeCommitted(id: number): void;
}

/** Wal.open syncs the tail it read back (storage/wal.ts); false models the WAL before that fix. */
const WAL_OPEN_SYNCS = true;

/** The observer of one process life of node `id`. Calls from a dead life are ignored. */
export function nodeObserver(id: number, life: number, view: NodeView, ctx: ObserverContext, alive: () => boolean, maybeUnsynced: boolean): NodeObserver {
  const name = `n${id}#${life}`;
  const trace = ctx.trace;
  const guard =
    <A extends unknown[]>(f: (...args: A) => void) =>
    (...args: A): void => {
      if (!alive()) return;
      try {
        f(...args);
      } catch (e) {
        ctx.fail(e);
      }
    };
  const dropped = (from: number): void => {
    if (from !== Infinity) ctx.checker.onDiskDropped(id, from);
  };
  return {
    restarted: guard((snapshot: Snapshot | null, entries: readonly Entry[], hs: HardState) => {
      ctx.checker.onRestart(id, snapshot, entries, hs.term);
      // Wal.open syncs what it read back before the node uses it (a killed process's unsynced
      // tail included), so all of it is durable from here: model it so.
      dropped(view.durable.restarted(snapshot, entries, hs, maybeUnsynced && !WAL_OPEN_SYNCS));
      view.conf = snapshot?.metadata.confState ?? { voters: [], learners: [] };
      view.votersAtLastReady = [...view.conf.voters];
      view.leader = false;
      view.term = hs.term;
      view.state = snapshot === null ? new StateDigest() : StateDigest.ofSnapshot(snapshot.data);
      view.applied = snapshot?.metadata.index ?? 0;
      if (snapshot !== null) ctx.checker.onSnapshotInstalled(id, snapshot, view.state.value);
      const last = entries.length > 0 ? entries[entries.length - 1]!.index : (snapshot?.metadata.index ?? 0);
      trace?.(`${name} restarted: snapshot ${snapshot?.metadata.index ?? '-'}, log to ${last}, term ${hs.term} vote ${hs.vote} commit ${hs.commit}`);
    }),
    ready: guard((rd: Ready) => {
      view.readies++;
      ctx.checker.onReady(id, rd);
      view.votersAtLastReady = [...view.conf.voters];
      if (rd.hardState !== null) view.term = rd.hardState.term;
      if (rd.softState !== null) {
        const leader = rd.softState.raftState === 2;
        if (leader && !view.leader) ctx.onLeader(id);
        if (leader !== view.leader) trace?.(`${name} ${leader ? 'LEADER' : 'no longer leader'} in term ${view.term}`);
        view.leader = leader;
      }
      if (rd.snapshot !== null) ctx.onSnapshotReceived(id, view.durable.lastIndex() > rd.snapshot.metadata.index);
      if (rd.committedEntries.some((e) => e.type === EntryType.ConfChange)) ctx.onConfChangeCommitted(id);
      trace?.(`${name} ready ${describeReady(rd)}`);
    }),
    persisted: guard((rd: Ready) => {
      ctx.checker.onReadyPersisted(id, rd);
      dropped(view.durable.persisted(rd));
      if (rd.snapshot !== null) ctx.onSnapshotPersisted(id);
      if (trace !== null && (rd.entries.length > 0 || rd.snapshot !== null || rd.mustSync)) trace(`${name} persisted${rd.mustSync ? ' (fsync)' : ''}`);
    }),
    sent: guard((msgs: readonly Message[]) => {
      for (const m of msgs) ctx.checker.onSend(id, m);
      if (trace !== null && ctx.traceMessages) for (const m of msgs) trace(`${name} send ${describeMessage(m)}`);
    }),
    applied: guard((entries: readonly Entry[], confState: ConfState) => {
      for (const e of entries) {
        if (e.index !== view.applied + 1) throw new Violation('Apply order', `node ${id} applied ${view.applied} and is handed entry ${e.index}`);
        view.applied = e.index;
        if (ctx.checker.ruleChecks && !view.durable.contains(e.index, e.term)) {
          throw new Violation('Apply after persist', `node ${id} applied entry ${e.index} (term ${e.term}) before it was on its disk`);
        }
        if (e.type === EntryType.Normal) view.state.applyEntry(e.data);
        ctx.checker.onApply(id, e, view.state.value);
      }
      view.conf = { voters: [...confState.voters], learners: [...confState.learners] };
      if (entries.length > 0) trace?.(`${name} applied ${entries[0]!.index}..${entries[entries.length - 1]!.index}${entries.some((e) => e.type === EntryType.ConfChange) ? ` (voters ${confState.voters.join(',')} learners ${confState.learners.join(',') || '-'})` : ''}`);
    }),
    installed: guard((snap: Snapshot) => {
      if (snap.metadata.index <= view.applied) {
        throw new Violation('Apply order', `node ${id} installed a snapshot at ${snap.metadata.index} but has applied ${view.applied}`);
      }
      view.state = StateDigest.ofSnapshot(snap.data);
      view.applied = snap.metadata.index;
      view.conf = snap.metadata.confState;
      ctx.checker.onSnapshotInstalled(id, snap, view.state.value);
      trace?.(`${name} installed snapshot at ${snap.metadata.index} (term ${snap.metadata.term}, voters ${snap.metadata.confState.voters.join(',')})`);
    }),
  };
}

function describeReady(rd: Ready): string {
  const parts: string[] = [];
  if (rd.softState !== null) parts.push(`lead ${rd.softState.lead}`);
  if (rd.hardState !== null) parts.push(`hs ${rd.hardState.term}/${rd.hardState.vote}/${rd.hardState.commit}`);
  if (rd.entries.length > 0) parts.push(`entries ${rd.entries[0]!.index}..${rd.entries[rd.entries.length - 1]!.index}`);
  if (rd.committedEntries.length > 0) parts.push(`commit ${rd.committedEntries[0]!.index}..${rd.committedEntries[rd.committedEntries.length - 1]!.index}`);
  if (rd.snapshot !== null) parts.push(`snapshot ${rd.snapshot.metadata.index}`);
  if (rd.readStates.length > 0) parts.push(`reads ${rd.readStates.length} at ${rd.readStates.map((r) => r.index).join(",")}`);
  if (rd.messages.length > 0) parts.push(`msgs ${rd.messages.length}`);
  if (rd.mustSync) parts.push('sync');
  return parts.join(', ');
}

const MSG_NAMES = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k.slice(3)]));

export function describeMessage(m: Message): string {
  const ents = m.entries.length > 0 ? ` ents=${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}` : '';
  return `${m.from}->${m.to} ${MSG_NAMES[m.type]} t${m.term} li${m.index}/lt${m.logTerm} c${m.commit}${ents}${m.reject ? ' REJECT' : ''}${m.snapshot ? ` snap@${m.snapshot.metadata.index}` : ''}`;
}
