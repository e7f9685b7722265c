// The service's Prometheus metrics (prom-client): one Registry per node, holding the default
// process metrics and ours, named raftexample_*, base units, _total on counters. The node's
// state is read at scrape time (collect callbacks on its status), so a scrape costs the hot
// path nothing; the node and the HTTP API report durations through the few calls below.

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LeanHistogram } from './histogram.ts';
import type { NodeMetrics } from './node/metrics.ts';
import type { NodeStatus } from './node/status.ts';

/** What a scrape reads: the node's status and this process's writes (set once both exist). */
export interface MetricsSources {
  status(): Promise<NodeStatus>;
  kv: { writesCommitted: number; writesFailed: number; writesPending: number };
}

/** The client port's routes, as HTTP duration labels: a fixed set, never a key. */
export type HttpRoute =
  | 'key_put' | 'key_get' | 'member_add' | 'member_remove'
  | 'health' | 'ready' | 'status' | 'members' | 'promote' | 'transfer_leader' | 'metrics' | 'ui' | 'events' | 'other';

const PREFIX = 'raftexample_';
/** A status read serves every gauge of one scrape (it lists two directories for the disk bytes). */
const STATUS_REUSE_MS = 500;
/** How long a client of the metrics listener has to send its request. */
const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** Buckets from `start` seconds, doubling `count` times (etcd's layout). */
function doubling(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * 2 ** i);
}

export class ServiceMetrics implements NodeMetrics {
  readonly registry = new Registry();
  private sources: MetricsSources | null = null;
  private statusRead: { at: number; status: Promise<NodeStatus> } | null = null;

  private readonly leaderChanges: Counter;
  private readonly readsByLease: Counter.Internal;
  private readonly readsByRound: Counter.Internal;
  private readonly walFsyncSeconds: Histogram;
  private readonly snapshotSaveSeconds: Histogram;
  private readonly peerSent: Counter<'peer'>;
  private readonly peerFailed: Counter<'peer'>;
  // Observed per request or per peer POST: the cheaper histogram (histogram.ts), exposed the same way.
  private readonly peerRoundTripSeconds: LeanHistogram<'peer'>;
  private readonly httpSeconds: LeanHistogram<'route' | 'status'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const fromStatus = (name: string, help: string, value: (s: NodeStatus) => number) => {
      const self = this;
      new Gauge({
        name: PREFIX + name,
        help,
        registers,
        async collect() {
          const s = await self.status();
          if (s !== null) this.set(value(s));
        },
      });
    };
    fromStatus('has_leader', 'Whether this member knows a leader (1) or not (0).', (s) => (s.leader !== 0 ? 1 : 0));
    fromStatus('is_leader', 'Whether this member is the leader (1) or not (0).', (s) => (s.leader === s.id ? 1 : 0));
    fromStatus('term', 'The Raft term this member is in.', (s) => s.term);
    fromStatus('commit_index', 'The highest log index this member knows to be committed.', (s) => s.commit);
    fromStatus('applied_index', 'The highest log index applied to the key-value store.', (s) => s.applied);
    fromStatus('snapshot_index', 'The log index of the newest snapshot on disk (0: none).', (s) => s.snapshotIndex);
    fromStatus('wal_bytes', 'Bytes of the WAL directory on disk.', (s) => s.walBytes);
    fromStatus('snapshot_bytes', 'Bytes of the snapshot directory on disk.', (s) => s.snapshotBytes);
    this.leaderChanges = new Counter({ name: PREFIX + 'leader_changes_seen_total', help: 'Times this member saw a new leader.', registers });
    const reads = new Counter({
      name: PREFIX + 'linearizable_reads_total',
      help: 'Linearizable reads given their index: by the leader lease (how="lease") or by a ReadIndex round (how="round").',
      labelNames: ['how'],
      registers,
    });
    this.readsByLease = reads.labels('lease');
    this.readsByRound = reads.labels('round');

    const fromKv = (name: string, help: string, value: (kv: MetricsSources['kv']) => number) => {
      const self = this;
      new Counter({
        name: PREFIX + name,
        help,
        registers,
        collect() {
          if (self.sources === null) return;
          this.reset();
          this.inc(value(self.sources.kv));
        },
      });
    };
    fromKv('proposals_committed_total', 'Writes sent through this member that committed and were applied.', (kv) => kv.writesCommitted);
    fromKv('proposals_failed_total', 'Writes sent through this member that were refused, dropped or timed out.', (kv) => kv.writesFailed);
    const self = this;
    new Gauge({
      name: PREFIX + 'proposals_pending',
      help: 'Writes sent through this member waiting to commit.',
      registers,
      collect() {
        if (self.sources !== null) this.set(self.sources.kv.writesPending);
      },
    });

    this.walFsyncSeconds = new Histogram({
      name: PREFIX + 'wal_fsync_duration_seconds',
      help: 'Time of a WAL save that synced to disk (one O_DSYNC write, or a write and an fdatasync).',
      buckets: doubling(0.0001, 16),
      registers,
    });
    this.snapshotSaveSeconds = new Histogram({
      name: PREFIX + 'snapshot_save_duration_seconds',
      help: 'Time to write and sync a snapshot file.',
      buckets: doubling(0.001, 16),
      registers,
    });
    this.peerSent = new Counter({
      name: PREFIX + 'peer_messages_sent_total',
      help: 'Raft messages delivered to a peer (in a POST it answered 2xx).',
      labelNames: ['peer'],
      registers,
    });
    this.peerFailed = new Counter({
      name: PREFIX + 'peer_messages_failed_total',
      help: 'Raft messages in a POST to a peer that failed or was refused.',
      labelNames: ['peer'],
      registers,
    });
    this.peerRoundTripSeconds = new LeanHistogram({
      name: PREFIX + 'peer_round_trip_duration_seconds',
      help: 'Time of a message POST to a peer, answered or not.',
      labelNames: ['peer'],
      buckets: doubling(0.0001, 16),
      registers,
    });
    this.httpSeconds = new LeanHistogram({
      name: PREFIX + 'http_request_duration_seconds',
      help: 'Time to answer a client request, by route and status code.',
      labelNames: ['route', 'status'],
      buckets: doubling(0.0005, 16),
      registers,
    });
  }

  /** Where scrapes read the node's and the kvstore's state (the node takes these metrics when it opens, so later). */
  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** The Prometheus text format, and its content type. */
  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  observeHttp(route: HttpRoute, status: number, seconds: number): void {
    this.httpSeconds.observe(seconds, route, String(status));
  }

  // ---- NodeMetrics ----

  walFsync(seconds: number): void {
    this.walFsyncSeconds.observe(seconds);
  }

  snapshotSaved(seconds: number): void {
    this.snapshotSaveSeconds.observe(seconds);
  }

  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  readsIndexed(how: 'lease' | 'round', n: number): void {
    (how === 'lease' ? this.readsByLease : this.readsByRound).inc(n);
  }

  peerRoundTrip(peer: number, seconds: number, ok: boolean, messages: number): void {
    const label = String(peer);
    (ok ? this.peerSent : this.peerFailed).inc({ peer: label }, messages);
    this.peerRoundTripSeconds.observe(seconds, label);
  }

  /** The node's status, shared by the gauges of one scrape; null before attach(). */
  private status(): Promise<NodeStatus | null> {
    if (this.sources === null) return Promise.resolve(null);
    const now = performance.now();
    if (this.statusRead === null || now - this.statusRead.at > STATUS_REUSE_MS) {
      this.statusRead = { at: now, status: this.sources.status() };
    }
    return this.statusRead.status;
  }
}

/** --listen-metrics-url: GET /metrics on a port of its own (for a scraper outside the client port's TLS, say). */
export async function listenMetrics(metrics: ServiceMetrics, at: { host: string; port: number }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(path === '/metrics' ? 'use GET\n' : 'not found\n');
      return;
    }
    metrics.text().then(
      ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(e as Error).message}\n`),
    );
  });
  // A scraper that stalls must not hold a socket for node:http's default five minutes.
  server.headersTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
