// The simulated clients: each sends one request at a time to a random running member,
// through the kvstore's real API (KvApi put, linearizable and serializable get), and records
// it with its outcome: ok; failed for certain (a ServiceError of status 4xx, 503 or 507: not
// applied); unknown (504, or no answer because the process died or the client gave up).

import { ServiceError } from '../../src/errors.ts';
import { putValueBytesMax } from '../../src/limits.ts';
import { History, type HistoryOp } from './history.ts';
import { Violation } from './invariants.ts';
import type { ProcessLife } from './member.ts';
import type { Prng } from './prng.ts';
import type { Scenario } from './scenario.ts';
import type { Scheduler } from './world/scheduler.ts';

/** A serializable read: it may be stale, but its value must be one some write may have written. */
interface SerializableRead {
  op: HistoryOp;
  completeSeq: number;
}

export interface ClientHost {
  readonly scheduler: Scheduler;
  /** A running member's process, picked at random, or null when none is ready. */
  pickLife(rng: Prng): ProcessLife | null;
  fail(e: unknown): void;
  trace: ((line: string) => void) | null;
  /** A write or linearizable read invoked after healing succeeded. */
  onLiveOp(op: HistoryOp): void;
}

const LARGEST_VALUE_KEY = 'largest';
/** The client id of burst writes (bursts are one-off, not a client loop). */
const BURST_CLIENT = 1000;
const VALUE_END = 0x3b; // ';' ends the unique part of a value; padding may follow

export class Clients {
  readonly history = new History();
  private readonly serializableReads: SerializableRead[] = [];
  private readonly serializableIds = new Set<number>();
  /** Ops in flight, by the process life serving them (failed as unknown when it dies). */
  private readonly inFlight = new Map<ProcessLife, Set<HistoryOp>>();
  private largestValueSent = false;
  /**
   * Writes overwrite the largest value with a small one, from when its own write answered until
   * one of them succeeds. (Sent while it was still in flight, the small one could commit first and
   * leave 16 MiB in every snapshot of the run: 500 of them in seed 3217, three minutes of CPU.)
   */
  private shrinkLargest = false;
  private stopped = false;
  /** Until `untilMs`, half the requests are linearizable reads on this process (a targeted fault's follower). */
  private favoured: { lifeOf: () => ProcessLife | null; untilMs: number } | null = null;
  /** Client requests not answered by then from a live process: the service hung. */
  private readonly hangMs: number;

  constructor(
    private readonly host: ClientHost,
    private readonly scenario: Scenario,
    private readonly rng: Prng,
  ) {
    this.hangMs = 3 * scenario.flags.requestTimeoutMs + 10 * scenario.flags.tickMs * scenario.flags.electionTicks + 2000;
  }

  start(): void {
    for (let c = 0; c < this.scenario.clients; c++) this.later(c, this.rng.int(50) + 1);
  }

  stop(): void {
    this.stopped = true;
  }

  /** A process died: its requests get no answer. */
  lifeEnded(life: ProcessLife): void {
    const ops = this.inFlight.get(life);
    if (ops === undefined) return;
    this.inFlight.delete(life);
    for (const op of ops) this.unknown(op, 'no answer: the process died');
  }

  /** End of run: what is still open stays open (unknown). */
  finish(): void {
    for (const ops of this.inFlight.values()) for (const op of ops) if (op.status === 'pending') this.history.info(op, this.now());
    this.inFlight.clear();
  }

  /** The history the linearizability checker sees: serializable reads may be stale by design. */
  linearizableOps(): HistoryOp[] {
    return this.history.ops.filter((op) => !this.serializableIds.has(op.id));
  }

  /** Serializable reads returned values some write may have written (absent only if nothing else). */
  checkSerializableReads(): void {
    const writes = new Map<string, HistoryOp>();
    for (const op of this.history.ops) if (op.kind === 'write' && op.value !== null) writes.set(op.value, op);
    for (const r of this.serializableReads) {
      if (r.op.value === null) continue;
      const w = writes.get(r.op.value);
      if (w === undefined || w.key !== r.op.key || w.status === 'fail' || w.invokeSeq > r.completeSeq) {
        throw new Violation('Serializable read', `op${r.op.id} read ${r.op.key} = ${r.op.value}, which no write that may have happened wrote`);
      }
    }
  }

  private now(): number {
    return Math.round(this.host.scheduler.now);
  }

  /**
   * `count` writes at once to one process, from clients that send nothing else (a burst of
   * load; sent to a leader just cut off, they pile up in its log as entries nobody else has).
   */
  burst(life: ProcessLife, count: number): void {
    const kv = life.kv;
    if (kv === null || this.stopped) return;
    // Sometimes of large values: a follower then catches up over several appends (1 MiB each).
    const valueBytes = this.rng.pick([0, 0, 0, 64 * 1024, 400 * 1024]);
    for (let k = 0; k < count; k++) {
      const op = this.history.invoke(BURST_CLIENT, life.config.id, 'write', this.rng.pick(this.scenario.keys), '', this.now());
      op.value = `v${op.id}`;
      this.send(life, op, kv.put(op.key, padded(op.value, valueBytes)), false, null);
    }
  }

  /** Until `untilMs`, half the clients' requests are linearizable reads on `lifeOf()` (when it is ready). */
  favourReads(lifeOf: () => ProcessLife | null, untilMs: number): void {
    this.favoured = { lifeOf, untilMs };
  }

  /** The favoured process, for half the requests while favourReads lasts (no draw otherwise: seeds replay as before). */
  private favouredLife(): ProcessLife | null {
    if (this.favoured === null || this.host.scheduler.now >= this.favoured.untilMs || !this.rng.chance(0.5)) return null;
    const life = this.favoured.lifeOf();
    return life?.kv != null ? life : null;
  }

  private later(client: number, delayMs: number): void {
    this.host.scheduler.after(delayMs, () => this.issue(client));
  }

  private thinkMs(): number {
    const [lo, hi] = this.scenario.thinkMs;
    return lo + this.rng.int(hi - lo + 1) + 1;
  }

  private issue(client: number): void {
    if (this.stopped) return;
    const favoured = this.favouredLife();
    if (favoured !== null) return this.readOn(favoured, client);
    const life = this.host.pickLife(this.rng);
    if (life === null || life.kv === null) return this.later(client, this.thinkMs());
    const s = this.scenario;
    const largest = this.largestValueDue();
    // The largest value goes to a key of its own and is overwritten by a small one right after,
    // so that it rides in a few snapshots only (each copies the whole state).
    const key = largest || this.shrinkLargest ? LARGEST_VALUE_KEY : this.rng.pick(s.keys);
    const kv = life.kv;
    const id = life.config.id;
    let op: HistoryOp;
    let call: Promise<Uint8Array | undefined | void>;
    let serializable = false;
    if (largest || this.shrinkLargest) {
      op = this.history.invoke(client, id, 'write', key, '', this.now());
      op.value = `v${op.id}`;
      call = kv.put(key, largest ? padded(op.value, putValueBytesMax) : Buffer.from(op.value));
      this.largestValueSent ||= largest;
      if (largest) call.finally(() => (this.shrinkLargest = true)).catch(() => undefined);
      else call.then(() => (this.shrinkLargest = false), () => undefined);
    } else if (this.rng.chance(s.readRatio)) {
      serializable = this.rng.chance(s.serializableRatio);
      op = this.history.invoke(client, id, 'read', key, null, this.now());
      if (serializable) this.serializableIds.add(op.id);
      call = kv.get(key, serializable);
    } else {
      op = this.history.invoke(client, id, 'write', key, '', this.now());
      op.value = `v${op.id}`;
      call = kv.put(key, this.valueFor(op.value));
    }
    this.send(life, op, call, serializable, client);
  }

  private readOn(life: ProcessLife, client: number): void {
    const op = this.history.invoke(client, life.config.id, 'read', this.rng.pick(this.scenario.keys), null, this.now());
    this.send(life, op, life.kv!.get(op.key, false), false, client);
  }

  /** Wait for the answer to `call` and record it; `client` (null for a burst) then sends its next request. */
  private send(life: ProcessLife, op: HistoryOp, call: Promise<Uint8Array | undefined | void>, serializable: boolean, client: number | null): void {
    const id = life.config.id;
    const key = op.key;
    this.track(life, op);
    const sent = this.host.scheduler.now;
    const hang = this.host.scheduler.after(this.hangMs, () => {
      if (op.status === 'pending' && life.alive) {
        this.host.fail(new Violation('No answer', `op${op.id} (${op.kind} ${shortKey(key)} on n${id}) had no answer from a live node for ${this.hangMs} ms (sent at ${sent.toFixed(0)})`));
      }
    });
    call.then(
      (value) => {
        if (op.status !== 'pending') return;
        hang.cancelled = true;
        if (op.kind === 'read') this.history.ok(op, this.now(), readValue(value));
        else this.history.ok(op, this.now());
        this.done(client, life, op, serializable);
      },
      (e: unknown) => {
        if (op.status !== 'pending') return;
        hang.cancelled = true;
        if (!(e instanceof ServiceError)) {
          this.host.fail(new Violation('API error', `op${op.id} on n${id} failed with an error outside the error table: ${(e as Error).stack ?? String(e)}`));
          return;
        }
        if (e.status === 504) this.history.info(op, this.now());
        else this.history.fail(op, this.now());
        this.host.trace?.(`client ${op.kind} op${op.id} on n${id}: ${e.status} ${e.code}`);
        this.done(client, life, op, serializable);
      },
    );
  }

  private largestValueDue(): boolean {
    return this.scenario.largestValue && !this.largestValueSent && this.host.scheduler.now > 500;
  }

  private valueFor(unique: string): Uint8Array {
    if (this.rng.chance(this.scenario.mediumValueRatio)) return padded(unique, this.rng.range(1024, 64 * 1024));
    return Buffer.from(unique);
  }

  private track(life: ProcessLife, op: HistoryOp): void {
    let ops = this.inFlight.get(life);
    if (ops === undefined) this.inFlight.set(life, (ops = new Set()));
    ops.add(op);
  }

  private unknown(op: HistoryOp, why: string): void {
    if (op.status !== 'pending') return;
    this.history.info(op, this.now());
    this.host.trace?.(`client ${op.kind} op${op.id} on n${op.node}: ${why}`);
    if (op.client !== BURST_CLIENT) this.later(op.client, this.thinkMs());
  }

  private done(client: number | null, life: ProcessLife, op: HistoryOp, serializable: boolean): void {
    this.inFlight.get(life)?.delete(op);
    if (serializable && op.status === 'ok') this.serializableReads.push({ op, completeSeq: op.completeSeq });
    else if (op.status === 'ok') this.host.onLiveOp(op);
    if (this.host.trace !== null && op.status === 'ok') {
      this.host.trace(`client ${op.kind}${serializable ? ' (serializable)' : ''} op${op.id} on n${op.node} ${shortKey(op.key)}${op.kind === 'read' ? ` -> ${op.value}` : ` = ${op.value}`} ok`);
    }
    if (client !== null) this.later(client, this.thinkMs());
  }
}

function padded(unique: string, bytes: number): Uint8Array {
  const b = Buffer.alloc(Math.max(bytes, unique.length + 1), 0x2e);
  b.write(unique, 0, 'latin1');
  b[unique.length] = VALUE_END;
  return b;
}

function readValue(value: Uint8Array | undefined | void): string | null {
  if (value === undefined) return null;
  const end = value.indexOf(VALUE_END);
  return Buffer.from(value.subarray(0, end < 0 ? Math.min(value.length, 64) : end)).toString('latin1');
}

export function shortKey(key: string): string {
  return key.length > 8 ? `<${key.length}-byte key>` : key;
}
