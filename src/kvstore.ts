// The replicated key-value state machine: a Map applied from commitC, writes proposed on
// proposeC and acknowledged only once applied, linearizable reads through batched
// ReadIndex rounds. Entries are binary: a proposal id (so the proposer can find the
// waiting request when its own entry comes back, and so a copy of an entry is applied
// once: proposal-dedup.ts) then key then value.

import type { Chan } from './chan.ts';
import { ChanClosedError } from './chan.ts';
import { BinaryReader, BinaryWriter, varintBytes } from './raftpb/index.ts';
import type { TestSwitches } from './config.ts';
import { ServiceError, type ErrorCode } from './errors.ts';
import { EntryKind, ProposalState, type Commit, type Proposal } from './queues.ts';
import { realClock, realRandom, realTimers, type Clock, type Random, type TimerHandle, type Timers } from './world.ts';
import { ProposalDedup } from './proposal-dedup.ts';
import { KvStateCapture } from './kv-state-capture.ts';
import type { KvStateReader } from './node/snapshot-data.ts';
import { keyBytesMax, kvPutHeaderBytes, kvStateBytesMax, kvWaitingReadsMax, putValueBytesMax } from './limits.ts';

/** What the HTTP API needs from the key-value store. */
export interface KvApi {
  /** Resolves once the write is committed and applied; rejects with a ServiceError otherwise. */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Linearizable unless `serializable`; undefined when the key is absent. */
  get(key: string, serializable: boolean): Promise<Uint8Array | undefined>;
}

export interface KvStoreOptions {
  nodeId: number;
  proposeC: Chan<Proposal>;
  commitC: Chan<Commit>;
  /** One ReadIndex round: resolves with the index to wait for, rejects with a ServiceError. */
  readIndex: () => Promise<number>;
  requestTimeoutMs: number;
  /** For tests: the state's bound (default kvStateBytesMax; every replica must use the same). */
  stateBytesMax?: number;
  /** Time, timers and randomness (default: the real ones; the simulator passes its own). */
  world?: { clock: Clock; timers: Timers; random: Random };
  /** Test-only broken promises (config.ts testSwitchesFromEnv), for the chaos suite to catch. */
  testSwitches?: TestSwitches;
  /** Pairs of a leader's snapshot restored per turn of the event loop (default restorePairsPerTurnDefault). */
  restorePairsPerTurn?: number;
}

/**
 * Pairs of a leader's snapshot restored between two turns of the event loop: about 20 ms
 * of work. A million keys restored in one go held the loop for 1.4-1.5 s.
 */
export const restorePairsPerTurnDefault = 16_384;

const KIND_PUT = EntryKind.Put;
/** kind u8, origin u32 ×2 (node id, process epoch), seq u32, key length u32. */
const PUT_HEADER_BYTES = kvPutHeaderBytes;
/**
 * 1: the map. 2: the map, then the dedup table (version 1 restores with an empty table).
 * 3: the dedup table also names each origin's retired epochs (version 2 restores without).
 */
const SNAPSHOT_VERSION = 3;
const SWEEP_MS = 25;
/** Reads waiting for the next ReadIndex round; past this, new ones are refused (503). */
const MAX_WAITING_READS = kvWaitingReadsMax;
/** Bytes snapshot() writes for an empty map: version and count. */
const SNAPSHOT_EMPTY_BYTES = 1 + varintBytes(0);

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
  deadline: number;
}

interface WriteWaiter extends Waiter {
  proposal: Proposal;
}

export class KvStore implements KvApi {
  private readonly o: KvStoreOptions;
  /**
   * Each value as a one-byte (latin1) string: byte i is char i. A small Buffer costs a heap
   * object of ~96 bytes plus its share of an 8 KiB pool slab, which stays whole while any
   * value cut from it lives; a string is one heap object of its length plus 16.
   */
  private readonly map = new Map<string, string>();
  /** What snapshot() writes for the map, kept in step (with the dedup table: bounded by kvStateBytesMax). */
  private stateBytes = SNAPSHOT_EMPTY_BYTES;
  private dedup = new ProposalDedup();
  /** Settles when the leader's snapshot being restored (restoreInTurns) is in the map. */
  private restoring: Promise<void> | null = null;
  /** The snapshot being written out, if any: it needs the old value of a key before it changes. */
  private capture: KvStateCapture | null = null;
  private appliedIndex = 0;
  /** Proposals of this process, by seq. Insertion order is deadline order (one fixed timeout). */
  private readonly waiters = new Map<number, WriteWaiter>();
  private readonly originNode: number;
  private readonly originEpoch: number;
  private seq = 0;
  private pendingReads: Waiter[] = [];
  private readLoopRunning = false;
  private appliedWaiters: { index: number; resolve: () => void }[] = [];
  private sweepTimer: TimerHandle | null = null;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private stopped = false;
  private applying = false;
  /** This process's writes that committed, and that were refused or given up on (for metrics). */
  private writesCommittedCount = 0;
  private writesFailedCount = 0;

  constructor(o: KvStoreOptions) {
    this.o = o;
    this.clock = o.world?.clock ?? realClock;
    this.timers = o.world?.timers ?? realTimers;
    this.originNode = o.nodeId >>> 0;
    // A fresh epoch per process: an entry proposed before a restart never completes a new request.
    this.originEpoch = 1 + (o.world?.random ?? realRandom).int(0xffff_fffe);
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get isApplying(): boolean {
    return this.applying;
  }

  get writesCommitted(): number {
    return this.writesCommittedCount;
  }

  get writesFailed(): number {
    return this.writesFailedCount;
  }

  /** Writes of this process waiting to commit (queued or proposed). */
  get writesPending(): number {
    return this.waiters.size;
  }

  get size(): number {
    return this.map.size;
  }

  /** Start applying commits; resolves when commitC is closed and drained. */
  async run(): Promise<void> {
    this.applying = true;
    this.sweepTimer = this.timers.every(() => this.sweep(), SWEEP_MS);
    try {
      for (;;) {
        const r = await this.o.commitC.recv();
        if (r.done) return;
        if (r.value.snapshot !== null) await this.restoreInTurns(r.value.snapshot, r.value.index);
        this.apply(r.value);
      }
    } finally {
      this.applying = false;
    }
  }

  /** Fail everything waiting (shutdown, removal); later calls fail at once. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweepTimer !== null) this.timers.clear(this.sweepTimer);
    for (const w of this.waiters.values()) w.reject(giveUp(w.proposal, 'ERR_STOPPING', 'ERR_STOPPING_IN_FLIGHT'));
    this.writesFailedCount += this.waiters.size;
    this.waiters.clear();
    const err = new ServiceError('ERR_STOPPING');
    for (const w of this.pendingReads.splice(0)) w.reject(err);
  }

  put(key: string, value: Uint8Array): Promise<void> {
    if (this.stopped) return Promise.reject(new ServiceError('ERR_STOPPING'));
    const keyBytes = Buffer.byteLength(key, 'utf8');
    if (keyBytes > keyBytesMax) return Promise.reject(new ServiceError('ERR_KEY_TOO_LONG', `${keyBytes} bytes, at most ${keyBytesMax}`));
    if (value.length > putValueBytesMax) return Promise.reject(new ServiceError('ERR_TOO_LARGE', `at most ${putValueBytesMax} bytes`));
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const data = this.encodePut(seq, key, value);
    return new Promise<void>((resolve, reject) => {
      const p: Proposal = { data, state: ProposalState.Queued, fail: (e) => this.settle(seq, e) };
      let queued: boolean;
      try {
        queued = this.o.proposeC.trySend(p);
      } catch (e) {
        reject(e instanceof ChanClosedError ? new ServiceError('ERR_STOPPING') : e);
        return;
      }
      // A full queue means Raft is far behind: refuse now rather than let waiting writes pile up.
      if (!queued) {
        this.writesFailedCount++;
        reject(new ServiceError('ERR_OVERLOADED'));
      } else this.waiters.set(seq, { resolve, reject, deadline: this.clock.now() + this.o.requestTimeoutMs, proposal: p });
      // Test-only: acknowledge what is merely queued (the waiter stays, so the counters still add up).
      if (queued && this.o.testSwitches?.ackPutBeforeCommit === true) resolve();
    });
  }

  async get(key: string, serializable: boolean): Promise<Uint8Array | undefined> {
    if (!serializable && this.o.testSwitches?.getSkipsReadIndex !== true) await this.readBarrier();
    // A leader's snapshot being restored: the map holds part of it.
    while (this.restoring !== null) await this.restoring;
    const value = this.map.get(key);
    return value === undefined ? undefined : Buffer.from(value, 'latin1');
  }

  /** The map as bytes, for a snapshot, at once (the node writes it a chunk at a time: captureState). */
  snapshot(): Uint8Array {
    const capture = this.captureState();
    try {
      const out = new Uint8Array(capture.bytes);
      if (capture.writeNext(out, 0, out.length) !== out.length) throw new Error('kv snapshot: short');
      return out;
    } finally {
      capture.close();
    }
  }

  /**
   * The state at the applied index, to be written out while later entries apply (the node
   * calls it from a commit's `done`, so that index is the snapshot's). One at a time: a new
   * one cancels the one before; so does a restore().
   */
  captureState(): KvStateReader {
    this.capture?.cancel();
    const head = new BinaryWriter(16).u8(SNAPSHOT_VERSION).varint(this.map.size).copy();
    const tail = new BinaryWriter(this.dedup.encodedBytes);
    this.dedup.write(tail);
    const bytes = this.stateBytes + this.dedup.encodedBytes;
    const capture = new KvStateCapture(this.map, head, tail.copy(), bytes, (c) => {
      if (this.capture === c) this.capture = null;
    });
    this.capture = capture;
    return capture;
  }

  /** Replace the map with a snapshot's, in one go (at start-up); `index` is the snapshot's log index. */
  restore(bytes: Uint8Array, index: number): void {
    const job = this.beginRestore(bytes);
    job.step(Number.MAX_SAFE_INTEGER);
    this.finishRestore(job, index);
  }

  /**
   * Replace the map with a leader's snapshot a part at a time, the event loop running other
   * work in between (on the world's timers). Reads wait until it is done (the map holds part
   * of it meanwhile); later commits apply after it, as commitC is read in order.
   */
  private async restoreInTurns(bytes: Uint8Array, index: number): Promise<void> {
    const job = this.beginRestore(bytes);
    const perTurn = this.o.restorePairsPerTurn ?? restorePairsPerTurnDefault;
    if (!job.step(perTurn)) {
      let done!: () => void;
      this.restoring = new Promise<void>((resolve) => (done = resolve));
      try {
        do await new Promise<void>((resolve) => this.timers.after(resolve, 0));
        while (!job.step(perTurn));
      } finally {
        this.restoring = null;
        done();
      }
    }
    this.finishRestore(job, index);
  }

  private beginRestore(bytes: Uint8Array): RestoreJob {
    this.capture?.cancel();
    const job = new RestoreJob(bytes, this.map);
    this.map.clear();
    return job;
  }

  private finishRestore(job: RestoreJob, index: number): void {
    this.dedup = job.finish();
    this.appliedIndex = index;
    this.stateBytes = SNAPSHOT_EMPTY_BYTES - varintBytes(0) + varintBytes(this.map.size);
    for (const [k, v] of this.map) this.stateBytes += pairBytes(k, v);
  }

  private apply(c: Commit): void {
    for (const data of c.entries) this.applyEntry(data);
    if (c.index > this.appliedIndex) this.appliedIndex = c.index;
    if (this.appliedWaiters.length > 0) this.wakeApplied();
    c.done?.();
  }

  private applyEntry(data: Uint8Array): void {
    if (data.length < PUT_HEADER_BYTES || data[0] !== KIND_PUT) return; // not ours: ignore, never crash
    // Entries read back from the WAL or a peer are Buffers already: no view to make for each.
    const b = data instanceof Buffer ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const node = b.readUInt32LE(1);
    const epoch = b.readUInt32LE(5);
    const seq = b.readUInt32LE(9);
    const keyLen = b.readUInt32LE(13);
    const keyEnd = PUT_HEADER_BYTES + keyLen;
    if (keyEnd > b.length) return;
    const mine = epoch === this.originEpoch && node === this.originNode;
    const admission = this.dedup.check(node, epoch, seq);
    if (admission !== 'new') {
      // A copy of an entry applied (or refused) before: skipped by every replica. A waiter
      // still here means no copy took effect; one too old to tell from a copy never will.
      if (mine && admission === 'stale') this.settle(seq, new ServiceError('ERR_LATE_PROPOSAL'));
      return;
    }
    const key = b.toString('utf8', PUT_HEADER_BYTES, keyEnd);
    const valueBytes = b.length - keyEnd;
    // The same rule on every replica, on the same log: all refuse the same writes.
    const old = this.map.get(key);
    const grown = this.stateBytesWith(key, old, valueBytes);
    const tableBytes = this.dedup.encodedBytesWith(node);
    const max = this.o.stateBytesMax ?? kvStateBytesMax;
    if (grown + tableBytes > max) {
      // Remember the refusal too (so a copy is refused alike) when the table has room for it.
      if (this.stateBytes + tableBytes <= max) this.dedup.record(node, epoch, seq);
      if (mine) this.settle(seq, new ServiceError('ERR_STORE_FULL', `the state would be ${grown + tableBytes} bytes, at most ${max}`));
      return;
    }
    this.dedup.record(node, epoch, seq);
    this.stateBytes = grown;
    this.capture?.beforeSet(key, old);
    // A copy of the value (the entry's bytes may be a view of a whole peer batch or WAL record).
    this.map.set(key, b.toString('latin1', keyEnd));
    if (mine) {
      const w = this.waiters.get(seq);
      if (w !== undefined) {
        this.waiters.delete(seq);
        this.writesCommittedCount++;
        w.resolve();
      }
    }
  }

  /** stateBytes once key (whose value now is `old`) is set to a value of valueBytes. */
  private stateBytesWith(key: string, old: string | undefined, valueBytes: number): number {
    if (old !== undefined) return this.stateBytes - old.length - varintBytes(old.length) + varintBytes(valueBytes) + valueBytes;
    const n = this.map.size;
    return this.stateBytes - varintBytes(n) + varintBytes(n + 1) + pairBytesOf(key, valueBytes);
  }

  private encodePut(seq: number, key: string, value: Uint8Array): Uint8Array {
    const keyLen = Buffer.byteLength(key, 'utf8');
    const b = Buffer.allocUnsafe(PUT_HEADER_BYTES + keyLen + value.length);
    b[0] = KIND_PUT;
    b.writeUInt32LE(this.originNode, 1);
    b.writeUInt32LE(this.originEpoch, 5);
    b.writeUInt32LE(seq, 9);
    b.writeUInt32LE(keyLen, 13);
    b.write(key, PUT_HEADER_BYTES, keyLen, 'utf8');
    b.set(value, PUT_HEADER_BYTES + keyLen);
    return b;
  }

  private settle(seq: number, err: Error): void {
    const w = this.waiters.get(seq);
    if (w === undefined) return;
    this.waiters.delete(seq);
    this.writesFailedCount++;
    w.reject(err);
  }

  /**
   * Linearizable read barrier: resolves once the state machine has applied everything
   * committed before the call. Reads that arrive while a round is in flight share the next one.
   */
  private readBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(new ServiceError('ERR_STOPPING'));
    if (this.pendingReads.length >= MAX_WAITING_READS) return Promise.reject(new ServiceError('ERR_OVERLOADED'));
    return new Promise<void>((resolve, reject) => {
      this.pendingReads.push({ resolve, reject, deadline: this.clock.now() + this.o.requestTimeoutMs });
      if (!this.readLoopRunning) {
        // Start on a microtask so reads issued in the same turn share the first round.
        this.readLoopRunning = true;
        queueMicrotask(() => void this.readLoop());
      }
    });
  }

  private async readLoop(): Promise<void> {
    try {
      while (this.pendingReads.length > 0) {
        const batch = this.pendingReads;
        this.pendingReads = [];
        try {
          const index = await this.o.readIndex();
          await this.waitApplied(index, batch[0]!.deadline);
          for (const w of batch) w.resolve();
        } catch (e) {
          for (const w of batch) w.reject(e as Error);
        }
      }
    } finally {
      this.readLoopRunning = false;
    }
  }

  private waitApplied(index: number, deadline: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const entry = { index, resolve };
      this.appliedWaiters.push(entry);
      const t = this.timers.after(() => {
        const i = this.appliedWaiters.indexOf(entry);
        if (i >= 0) this.appliedWaiters.splice(i, 1);
        reject(new ServiceError('ERR_READ_TIMEOUT', `waiting to apply index ${index}`));
      }, Math.max(0, deadline - this.clock.now()));
      entry.resolve = () => {
        this.timers.clear(t);
        resolve();
      };
    });
  }

  private wakeApplied(): void {
    const ready = this.appliedWaiters.filter((w) => w.index <= this.appliedIndex);
    if (ready.length === 0) return;
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.appliedIndex);
    for (const w of ready) w.resolve();
  }

  /** Time out proposals and queued reads past their deadline (oldest first, so stop at the first live one). */
  private sweep(): void {
    const now = this.clock.now();
    for (const [seq, w] of this.waiters) {
      if (w.deadline > now) break;
      this.waiters.delete(seq);
      this.writesFailedCount++;
      w.reject(giveUp(w.proposal, 'ERR_NOT_PROPOSED', 'ERR_TIMEOUT'));
    }
    while (this.pendingReads.length > 0 && this.pendingReads[0]!.deadline <= now) {
      this.pendingReads.shift()!.reject(new ServiceError('ERR_READ_TIMEOUT', 'waiting for a read index round'));
    }
  }
}

/**
 * The error for a write we stop waiting for: if it never reached the core, withdraw it so it
 * never will (certainly not applied: `notProposed`); otherwise its outcome is unknown.
 */
function giveUp(p: Proposal, notProposed: ErrorCode, unknown: ErrorCode): ServiceError {
  if (p.state === ProposalState.Proposed) return new ServiceError(unknown);
  p.state = ProposalState.Withdrawn;
  return new ServiceError(notProposed);
}

/** Bytes one pair takes in a snapshot. */
function pairBytes(key: string, value: string): number {
  return pairBytesOf(key, value.length);
}

/** Bytes a pair with a value of valueBytes takes (the key as snapshot() writes it: its UTF-8). */
function pairBytesOf(key: string, valueBytes: number): number {
  const kl = Buffer.byteLength(key, 'utf8');
  return varintBytes(kl) + kl + varintBytes(valueBytes) + valueBytes;
}

/** A kv state being decoded into the map, some pairs at a time. */
class RestoreJob {
  private readonly r: BinaryReader;
  private readonly version: number;
  private readonly pairs: number;
  private decoded = 0;

  constructor(
    bytes: Uint8Array,
    private readonly map: Map<string, string>,
  ) {
    this.r = new BinaryReader(bytes);
    this.version = this.r.u8('kv snapshot version');
    if (this.version !== 1 && this.version !== 2 && this.version !== SNAPSHOT_VERSION) this.r.fail(`unsupported kv snapshot version ${this.version}`);
    this.pairs = this.r.count(Number.MAX_SAFE_INTEGER, 2, 'kv pairs');
  }

  /** Decode up to `max` more pairs into the map; true once every pair is in. */
  step(max: number): boolean {
    const r = this.r;
    const end = Math.min(this.pairs, this.decoded + max);
    for (; this.decoded < end; this.decoded++) {
      const k = r.bytes(Number.MAX_SAFE_INTEGER, 'key');
      const v = r.bytes(Number.MAX_SAFE_INTEGER, 'value');
      this.map.set(Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('utf8'), Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1'));
    }
    return this.decoded === this.pairs;
  }

  /** After the last pair: the dedup table (empty for version 1), and nothing after it. */
  finish(): ProposalDedup {
    const dedup = this.version === 1 ? new ProposalDedup() : ProposalDedup.read(this.r, this.version >= 3);
    this.r.expectEnd('kv snapshot');
    return dedup;
  }
}
