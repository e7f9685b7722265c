// The Prometheus metrics: after writes on an in-process one-member cluster every metric the
// README lists is in the scrape with a plausible value, names follow the conventions, the
// --listen-metrics-url listener serves the same text, and a peer POST is reported per peer.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfig } from '../src/config.ts';
import { buildApp } from '../src/httpapi.ts';
import { ServiceMetrics, listenMetrics } from '../src/metrics.ts';
import { MessageType } from '../src/raftpb/types.ts';
import { newMessage } from '../src/raft/util.ts';
import { PeerClient, type PeerEvents } from '../src/transport/index.ts';
import { freePort, until } from './e2e/cluster.ts';
import { startOneNode } from './node/one-node.ts';

/** Every service metric's name, as the README lists them. */
const SERVICE_METRICS = [
  'raftexample_has_leader',
  'raftexample_is_leader',
  'raftexample_leader_changes_seen_total',
  'raftexample_linearizable_reads_total',
  'raftexample_term',
  'raftexample_commit_index',
  'raftexample_applied_index',
  'raftexample_snapshot_index',
  'raftexample_proposals_committed_total',
  'raftexample_proposals_failed_total',
  'raftexample_proposals_pending',
  'raftexample_wal_fsync_duration_seconds',
  'raftexample_snapshot_save_duration_seconds',
  'raftexample_snapshot_bytes',
  'raftexample_wal_bytes',
  'raftexample_peer_messages_sent_total',
  'raftexample_peer_messages_failed_total',
  'raftexample_peer_round_trip_duration_seconds',
  'raftexample_http_request_duration_seconds',
];

/** The value of the sample `series` (name plus labels, as printed), or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function scrapedOneNode(t: import('node:test').TestContext) {
  const metrics = new ServiceMetrics();
  const one = await startOneNode(t, { metrics });
  metrics.attach({ status: () => one.node.status(), kv: one.kv });
  const app = buildApp({ kv: one.kv, node: one.node, confChangeC: one.confChangeC, maxRequestBytes: 1 << 20, metrics });
  t.after(() => app.close());
  for (let i = 0; i < 5; i++) {
    const put = await app.inject({ method: 'PUT', url: `/secret-key-${i}`, payload: `v${i}` });
    assert.equal(put.statusCode, 204);
  }
  assert.equal((await app.inject({ method: 'GET', url: '/secret-key-0' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/no-such-key' })).statusCode, 404);
  return { metrics, app, one };
}

test('a scrape after writes has every metric, with plausible values', async (t) => {
  const { app } = await scrapedOneNode(t);
  const res = await app.inject({ method: 'GET', url: '/-/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const text = res.body;
  for (const name of SERVICE_METRICS) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} missing`);
  // The default process metrics ride along.
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.match(text, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m);

  assert.equal(sample(text, 'raftexample_has_leader'), 1);
  assert.equal(sample(text, 'raftexample_is_leader'), 1);
  assert.ok(sample(text, 'raftexample_term')! >= 1);
  assert.ok(sample(text, 'raftexample_leader_changes_seen_total')! >= 1);
  const commit = sample(text, 'raftexample_commit_index')!;
  assert.ok(commit >= 5, `commit index ${commit}`);
  assert.ok(sample(text, 'raftexample_applied_index')! >= 5);
  assert.equal(sample(text, 'raftexample_proposals_committed_total'), 5);
  assert.equal(sample(text, 'raftexample_proposals_failed_total'), 0);
  assert.equal(sample(text, 'raftexample_proposals_pending'), 0);
  assert.ok(sample(text, 'raftexample_wal_fsync_duration_seconds_count')! > 0);
  assert.ok(sample(text, 'raftexample_wal_fsync_duration_seconds_sum')! > 0);
  assert.ok(sample(text, 'raftexample_wal_bytes')! > 0);
  assert.ok(sample(text, 'raftexample_snapshot_bytes')! >= 0);
  // By route and status, never by key.
  assert.equal(sample(text, 'raftexample_http_request_duration_seconds_count{route="key_put",status="204"}'), 5);
  assert.equal(sample(text, 'raftexample_http_request_duration_seconds_count{route="key_get",status="200"}'), 1);
  assert.equal(sample(text, 'raftexample_http_request_duration_seconds_count{route="key_get",status="404"}'), 1);
  assert.doesNotMatch(text, /secret-key|no-such-key/);
});

test('metric names follow the Prometheus conventions', async (t) => {
  const { app } = await scrapedOneNode(t);
  await app.inject({ method: 'GET', url: '/-/metrics' }); // so the metrics route has a sample too
  const text = (await app.inject({ method: 'GET', url: '/-/metrics' })).body;
  assert.match(text, /route="metrics",status="200"/);
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
  const ours = types.filter((m) => !/^(process|nodejs)_/.test(m.name));
  assert.equal(ours.length, SERVICE_METRICS.length, `unexpected metrics: ${ours.map((m) => m.name).join(', ')}`);
  for (const { name, type } of ours) {
    assert.match(name, /^raftexample_[a-z][a-z0-9_]*$/, name);
    // Counters and only counters end in _total; durations are in seconds, sizes in bytes.
    assert.equal(name.endsWith('_total'), type === 'counter', `${name} (${type})`);
    assert.doesNotMatch(name, /_(ms|milliseconds|us|kb|mb|kilobytes|megabytes)(_|$)/, name);
    if (/duration/.test(name)) assert.match(name, /_seconds$/, name);
  }
  // Every label of the HTTP histogram is a route of the fixed set.
  const routes = new Set([...text.matchAll(/raftexample_http_request_duration_seconds_count\{route="([^"]*)"/g)].map((m) => m[1]));
  for (const r of routes) assert.match(r!, /^(key_put|key_get|member_add|member_remove|health|ready|status|members|promote|transfer_leader|metrics|other)$/);
});

test('--listen-metrics-url: a listener of its own serves the same metrics at /metrics', async (t) => {
  const { metrics } = await scrapedOneNode(t);
  const port = await freePort();
  const server = await listenMetrics(metrics, { host: '127.0.0.1', port });
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.equal(sample(text, 'raftexample_is_leader'), 1);
  assert.ok(sample(text, 'raftexample_commit_index')! >= 5);
  assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 405);
});

test('the README lists every metric', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('\n## ', readme.indexOf('## Metrics') + 1));
  for (const name of SERVICE_METRICS) assert.match(section, new RegExp('`' + name + '[`{]'), name);
});

test('--listen-metrics-url takes http://host:port only', () => {
  const base = ['--id', '1', '--cluster', 'http://127.0.0.1:9021', '--port', '9121'];
  const ok = parseConfig([...base, '--listen-metrics-url', 'http://127.0.0.1:2112']);
  assert.ok(!ok.help);
  assert.deepEqual(ok.config.listenMetrics, { host: '127.0.0.1', port: 2112 });
  const v6 = parseConfig([...base, '--listen-metrics-url', 'http://[::1]:2112/']);
  assert.ok(!v6.help);
  assert.deepEqual(v6.config.listenMetrics, { host: '::1', port: 2112 });
  const none = parseConfig(base);
  assert.ok(!none.help);
  assert.equal(none.config.listenMetrics, null);
  for (const bad of ['', '127.0.0.1:2112', 'http://127.0.0.1', 'https://127.0.0.1:2112', 'http://127.0.0.1:2112/metrics', 'http://u:p@127.0.0.1:2112', 'http://127.0.0.1:2112?x=1', 'http://127.0.0.1:99999']) {
    assert.throws(() => parseConfig([...base, '--listen-metrics-url', bad]), /--listen-metrics-url must be http:\/\/host:port/, bad);
  }
});

test('a peer client reports each message POST: its peer, time, outcome and message count', async () => {
  const seen: { peer: number; seconds: number; ok: boolean; messages: number }[] = [];
  let now = 1000;
  const statuses = [200, 503];
  const events: PeerEvents = { unreachable: () => undefined, snapshotStatus: () => undefined, removed: () => undefined, rejected: () => undefined, received: () => undefined };
  const client = new PeerClient({
    id: 2,
    url: 'http://127.0.0.1:1',
    fromId: 1,
    clusterId: 'c',
    events,
    post: async () => {
      now += 25; // each POST takes 25 ms on this clock
      return statuses.shift() ?? 200;
    },
    clock: { now: () => now },
    stats: { roundTrip: (peer, seconds, ok, messages) => seen.push({ peer, seconds, ok, messages }) },
  });
  const heartbeat = (term: number) => newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term });
  client.send(heartbeat(1));
  await new Promise((r) => setImmediate(r));
  client.send(heartbeat(1)); // sent in a later turn: it goes in a second POST
  await until('first two posts', async () => (seen.length >= 2 ? true : undefined));
  assert.deepEqual(seen, [
    { peer: 2, seconds: 0.025, ok: true, messages: 1 },
    { peer: 2, seconds: 0.025, ok: false, messages: 1 },
  ]);
  await client.stop();

  const metrics = new ServiceMetrics();
  for (const s of seen) metrics.peerRoundTrip(s.peer, s.seconds, s.ok, s.messages);
  const text = (await metrics.text()).body;
  assert.equal(sample(text, 'raftexample_peer_messages_sent_total{peer="2"}'), 1);
  assert.equal(sample(text, 'raftexample_peer_messages_failed_total{peer="2"}'), 1);
  assert.equal(sample(text, 'raftexample_peer_round_trip_duration_seconds_count{peer="2"}'), 2);
});
