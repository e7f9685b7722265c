// The leader's commit-round figures from the deltas of its Prometheus counters.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commitRounds, formatCommitRounds, parseLeaderCounters } from '../../bench/commit-rounds.ts';

const metrics = (fsyncs: number, posts: number) => `# HELP raftexample_wal_fsync_duration_seconds Time of a WAL save that synced to disk.
# TYPE raftexample_wal_fsync_duration_seconds histogram
raftexample_wal_fsync_duration_seconds_bucket{le="0.0001"} 0
raftexample_wal_fsync_duration_seconds_sum ${fsyncs * 0.002}
raftexample_wal_fsync_duration_seconds_count ${fsyncs}
raftexample_peer_messages_sent_total{peer="2"} ${posts * 3}
raftexample_peer_messages_sent_total{peer="3"} ${posts * 3}
raftexample_peer_round_trip_duration_seconds_sum{peer="2"} ${posts * 0.004}
raftexample_peer_round_trip_duration_seconds_count{peer="2"} ${posts}
raftexample_peer_round_trip_duration_seconds_sum{peer="3"} ${posts * 0.004}
raftexample_peer_round_trip_duration_seconds_count{peer="3"} ${posts}
raftexample_proposals_committed_total 5
`;

test('counters are read from Prometheus text and summed over peers', () => {
  assert.deepEqual(parseLeaderCounters(metrics(10, 4)), { fsyncs: 10, fsyncSeconds: 0.02, peerPosts: 8, peerPostSeconds: 0.032, peerMessages: 24 });
  assert.deepEqual(parseLeaderCounters(''), { fsyncs: 0, fsyncSeconds: 0, peerPosts: 0, peerPostSeconds: 0, peerMessages: 0 });
});

test('deltas over a phase give fsyncs and POSTs per second, writes per each, and their means', () => {
  // 10 s, 50,000 writes; 1,000 fsyncs of 2 ms; 2,000 POSTs to each of two peers, 4 ms each.
  const r = commitRounds(parseLeaderCounters(metrics(100, 100)), parseLeaderCounters(metrics(1100, 2100)), 50_000, 10);
  assert.equal(r.fsyncsPerSecond, 100);
  assert.equal(r.writesPerFsync, 50);
  assert.ok(Math.abs(r.fsyncMeanMs! - 2) < 1e-9);
  assert.equal(r.peerPostsPerSecond, 400);
  assert.equal(r.writesPerPeerPost, 12.5);
  assert.equal(r.messagesPerPeerPost, 3);
  assert.ok(Math.abs(r.peerRoundTripMeanMs! - 4) < 1e-9);
  assert.equal(
    formatCommitRounds(r),
    'leader: 100 fsyncs/s (50.0 writes each, mean 2.00 ms), 400 peer POSTs/s (12.5 writes and 3.0 messages each, mean round trip 4.00 ms)',
  );
});

test('no fsync or POST in the phase: the per-each figures are n/a, not infinite', () => {
  const same = parseLeaderCounters(metrics(5, 5));
  const r = commitRounds(same, same, 100, 1);
  assert.equal(r.writesPerFsync, null);
  assert.match(formatCommitRounds(r), /0 fsyncs\/s \(n\/a writes each, mean n\/a ms\)/);
});
