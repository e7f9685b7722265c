// The clients: workers issuing PUTs and GETs (linearizable and serializable) to random members
// over HTTP, on a small key space, each call recorded with its start, end and outcome. Register
// keys go into the simulator's History (checked for linearizability); witness writes, each to a
// key of its own that is never written again, must all be present at the end if acknowledged.

import { errors } from 'undici';
import { History, type HistoryOp } from '../test/sim/history.ts';
import type { Prng } from '../test/sim/prng.ts';
import type { ChaosCluster } from './cluster.ts';

export const REGISTER_KEYS = ['r0', 'r1', 'r2', 'r3', 'r4'];

/** A write's or read's outcome as the client saw it. */
export type Outcome = 'ok' | 'failed' | 'unknown';

export interface WitnessWrite {
  key: string;
  value: string;
  outcome: Outcome;
  startMs: number;
  endMs: number;
}

export interface SerializableRead {
  key: string;
  node: number;
  value: string | null;
  startMs: number;
  endMs: number;
}

/** What each kind of call came to, for the report. */
export type OutcomeCounts = Record<'put' | 'witness-put' | 'get' | 'get-serializable', Record<Outcome, number>>;

export class Workload {
  readonly history = new History();
  readonly witnesses: WitnessWrite[] = [];
  readonly serializableReads: SerializableRead[] = [];
  readonly counts: OutcomeCounts = {
    put: { ok: 0, failed: 0, unknown: 0 },
    'witness-put': { ok: 0, failed: 0, unknown: 0 },
    get: { ok: 0, failed: 0, unknown: 0 },
    'get-serializable': { ok: 0, failed: 0, unknown: 0 },
  };
  /** Status codes no call should get (a PUT's 400, a 500): counted, and the call taken as unknown. */
  readonly unexpectedStatuses = new Map<string, number>();
  private readonly cluster: ChaosCluster;
  private readonly prng: Prng;
  private readonly startedAt = performance.now();
  private stopping = false;
  private writeSeq = 0;

  constructor(cluster: ChaosCluster, prng: Prng) {
    this.cluster = cluster;
    this.prng = prng;
  }

  nowMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  /** Run `workers` clients until stop(); resolves once every call in flight has returned. */
  run(workers: number, thinkMsMax: number): Promise<void> {
    const loops = [];
    for (let client = 0; client < workers; client++) loops.push(this.loop(client, this.prng.fork(), thinkMsMax));
    return Promise.all(loops).then(() => undefined);
  }

  stop(): void {
    this.stopping = true;
  }

  private async loop(client: number, prng: Prng, thinkMsMax: number): Promise<void> {
    while (!this.stopping) {
      const members = this.cluster.members;
      const node = prng.pick(members).id;
      const roll = prng.float();
      if (roll < 0.35) await this.put(client, node, prng.pick(REGISTER_KEYS));
      else if (roll < 0.5) await this.witnessPut(client, node);
      else if (roll < 0.85) await this.get(client, node, prng.pick(REGISTER_KEYS));
      else await this.serializableGet(node, prng.pick(REGISTER_KEYS));
      await new Promise((r) => setTimeout(r, prng.int(thinkMsMax + 1)));
    }
  }

  private timeoutMs(): number {
    return this.cluster.tuning.requestTimeoutMs + 2000;
  }

  private async put(client: number, node: number, key: string): Promise<void> {
    const value = `c${client}.${++this.writeSeq}`;
    const op = this.history.invoke(client, node, 'write', key, value, this.nowMs());
    const outcome = await this.write(node, key, value);
    this.counts.put[outcome]++;
    if (outcome === 'ok') this.history.ok(op, this.nowMs());
    else if (outcome === 'failed') this.history.fail(op, this.nowMs());
    else this.history.info(op, this.nowMs());
  }

  private async witnessPut(client: number, node: number): Promise<void> {
    const seq = ++this.writeSeq;
    const witness: WitnessWrite = { key: `w/c${client}/${seq}`, value: `c${client}.${seq}`, outcome: 'unknown', startMs: this.nowMs(), endMs: 0 };
    witness.outcome = await this.write(node, witness.key, witness.value);
    witness.endMs = this.nowMs();
    this.counts['witness-put'][witness.outcome]++;
    this.witnesses.push(witness);
  }

  /** 204: applied; 503: certainly not; a refused or timed-out connect: never sent; else unknown. */
  private async write(node: number, key: string, value: string): Promise<Outcome> {
    try {
      const res = await this.cluster.call(node, 'PUT', `/${key}`, value, this.timeoutMs());
      if (res.status === 204) return 'ok';
      if (res.status === 503) return 'failed';
      if (res.status !== 504) this.unexpected(`PUT ${res.status}`);
      return 'unknown';
    } catch (e) {
      return neverSent(e) ? 'failed' : 'unknown';
    }
  }

  private async get(client: number, node: number, key: string): Promise<void> {
    const op = this.history.invoke(client, node, 'read', key, null, this.nowMs());
    const read = await this.read(node, key, '');
    if (read.outcome === 'ok') this.history.ok(op, this.nowMs(), read.value);
    else this.history.fail(op, this.nowMs()); // a read that returned nothing constrains nothing
    this.counts.get[read.outcome]++;
  }

  private async serializableGet(node: number, key: string): Promise<void> {
    const startMs = this.nowMs();
    const read = await this.read(node, key, '?serializable');
    this.counts['get-serializable'][read.outcome]++;
    if (read.outcome === 'ok') this.serializableReads.push({ key, node, value: read.value, startMs, endMs: this.nowMs() });
  }

  async read(node: number, key: string, query: string): Promise<{ outcome: Outcome; value: string | null }> {
    try {
      const res = await this.cluster.call(node, 'GET', `/${key}${query}`, undefined, this.timeoutMs());
      if (res.status === 200) return { outcome: 'ok', value: res.body };
      if (res.status === 404) return { outcome: 'ok', value: null };
      if (res.status !== 503 && res.status !== 504) this.unexpected(`GET ${res.status}`);
      return { outcome: res.status === 503 ? 'failed' : 'unknown', value: null };
    } catch (e) {
      return { outcome: neverSent(e) ? 'failed' : 'unknown', value: null };
    }
  }

  /** A final linearizable read of every register key, recorded in the history like any other. */
  async finalReads(node: number): Promise<HistoryOp[]> {
    const ops: HistoryOp[] = [];
    for (const key of REGISTER_KEYS) {
      const op = this.history.invoke(-1, node, 'read', key, null, this.nowMs());
      const read = await this.read(node, key, '');
      if (read.outcome !== 'ok') throw new Error(`final read of ${key} on node ${node}: ${read.outcome}`);
      this.history.ok(op, this.nowMs(), read.value);
      ops.push(op);
    }
    return ops;
  }

  private unexpected(what: string): void {
    this.unexpectedStatuses.set(what, (this.unexpectedStatuses.get(what) ?? 0) + 1);
  }
}

/** The request certainly never reached a node: the connection was refused or never made. */
function neverSent(e: unknown): boolean {
  if (e instanceof errors.ConnectTimeoutError) return true;
  const code = (e as { code?: string }).code ?? (e as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT';
}
