// What the benchmark needs of a cluster under test, whichever it is: where its nodes
// listen, which one leads, how a write and a read look on its API, a local read per node
// for the commit-visibility check, and how to stop it.

import { request } from 'undici';
import type { LeaderCounters } from '../commit-rounds.ts';
import type { BenchRequest } from '../load-generator.ts';
import type { NodeReader } from '../visibility.ts';

export type SystemName = 'ours' | 'etcd' | 'raftexample';

/** linearizable and serializable: ours; local: etcd's default v2 read and raftexample's only read. */
export type ReadMode = 'linearizable' | 'serializable' | 'local';

export interface SystemUnderTest {
  readonly name: SystemName;
  /** Client URLs (origins), in node order. */
  readonly nodeUrls: string[];
  readonly readModes: ReadMode[];
  /** Node processes' pids in node order, for their CPU use. */
  pids(): (number | undefined)[];
  /** Index into nodeUrls of the current leader (waits for one). */
  leaderIndex(): Promise<number>;
  writeRequest(key: string, value: string): BenchRequest;
  isWriteOk(status: number): boolean;
  readRequest(key: string, mode: ReadMode): BenchRequest;
  /** A read of node i's own state, without forwarding: what the commit-visibility check asks. */
  reader(nodeIndex: number): NodeReader;
  /** Ours only: node i's counters of fsyncs and peer POSTs, for the commit-round figures. */
  leaderCounters?(nodeIndex: number): Promise<LeaderCounters>;
  /** The last lines of every node's output (for a failure). */
  logTail(): string;
  stop(): Promise<void>;
}

export type Availability = { available: true } | { available: false; reason: string };

export interface SystemFactory {
  readonly name: SystemName;
  /** Whether it can run here; the reason says what is missing and how to get it. */
  check(): Promise<Availability>;
  start(): Promise<SystemUnderTest>;
}

/** A read through undici that maps 200 to the body, 404 to absent, and anything else to an error. */
export async function readBody(url: string): Promise<string | undefined> {
  const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
  const body = await res.body.text();
  if (res.statusCode === 404) return undefined;
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${body.slice(0, 200)}`);
  return body;
}
