// Metrics on a real 3-node cluster: a node restarted with --listen-metrics-url serves its
// metrics on that port, with the peer counters and round trips of real peers and the
// snapshot save histogram after enough writes; GET /-/metrics on the client port agrees.

import assert from 'node:assert/strict';
import { clusterTest, freePort, http, until } from './cluster.ts';

/** The value of the sample `series` (name plus labels, as printed), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

clusterTest('--listen-metrics-url serves real peer, WAL and snapshot metrics at /metrics', 3, { extraArgs: ['--snapshot-count', '10'] }, async (c) => {
  const node = c.node(3);
  await c.kill(node, 'SIGTERM');
  const metricsPort = await freePort();
  c.restart(node, ['--listen-metrics-url', `http://127.0.0.1:${metricsPort}`]);
  await c.waitLeader();
  for (let i = 0; i < 25; i++) await c.putAcked(c.node(1 + (i % 3)), `/m${i}`, `v${i}`);

  let last = ''; // the newest scrape, shown if the wait times out
  const text = await until('peer and snapshot metrics on the metrics port', async () => {
    const r = await http('GET', `http://127.0.0.1:${metricsPort}/metrics`).catch(() => null);
    if (r?.status !== 200) return undefined;
    const seen = (s: string) => (sample(r.body, s) ?? 0) > 0;
    // A follower sends to the leader only (its answers ride on the leader's requests).
    const leader = String(await c.waitLeader());
    const peer = leader === '3' ? '1' : leader;
    const ready = seen(`raftexample_peer_messages_sent_total{peer="${peer}"}`) && seen(`raftexample_peer_round_trip_duration_seconds_count{peer="${peer}"}`)
      && seen('raftexample_snapshot_save_duration_seconds_count') && seen('raftexample_wal_fsync_duration_seconds_count');
    if (!ready) last = r.body;
    return ready ? r.body : undefined;
  }).catch((e: unknown) => {
    console.error(last.split('\n').filter((l) => l.startsWith('raftexample_') && !l.includes('_bucket')).join('\n'));
    throw e;
  });
  assert.equal(sample(text, 'raftexample_has_leader'), 1);
  assert.ok(sample(text, 'raftexample_commit_index')! >= 25);
  assert.ok(sample(text, 'raftexample_snapshot_index')! >= 10);
  assert.ok(sample(text, 'raftexample_snapshot_bytes')! > 0);

  // The client port serves the same registry.
  const viaClientPort = await http('GET', `${node.url}/-/metrics`);
  assert.equal(viaClientPort.status, 200);
  assert.match(viaClientPort.body, /^raftexample_peer_messages_sent_total\{peer="[12]"\} [1-9]\d*$/m);
  assert.doesNotMatch(viaClientPort.body, /peer="3"/); // never itself
  // Exactly one leader among the three.
  let leaders = 0;
  for (const n of c.nodes) leaders += sample((await http('GET', `${n.url}/-/metrics`)).body, 'raftexample_is_leader') ?? 0;
  assert.equal(leaders, 1);
});

clusterTest('a bad --listen-metrics-url stops the node with exit status 2 and one line', 1, {}, async (c) => {
  const node = c.node(1);
  await c.kill(node, 'SIGTERM');
  node.log = '';
  c.restart(node, ['--listen-metrics-url', 'http://127.0.0.1']);
  assert.equal(await node.exit, 2);
  assert.match(node.log, /^raftexample: --listen-metrics-url must be http:\/\/host:port: got "http:\/\/127\.0\.0\.1" \(see --help\)\n$/);
});
