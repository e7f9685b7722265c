// The commit round on our leader during a write phase, from the deltas of its Prometheus
// counters (GET /-/metrics): fsyncs and peer POSTs per second, writes per fsync and per
// POST (how well group commit batches), and their mean durations.

export interface LeaderCounters {
  fsyncs: number;
  fsyncSeconds: number;
  peerPosts: number;
  peerPostSeconds: number;
  peerMessages: number;
}

export interface CommitRounds {
  fsyncsPerSecond: number;
  writesPerFsync: number | null;
  fsyncMeanMs: number | null;
  /** POSTs to all peers together. */
  peerPostsPerSecond: number;
  writesPerPeerPost: number | null;
  messagesPerPeerPost: number | null;
  peerRoundTripMeanMs: number | null;
}

const METRIC = {
  fsyncs: 'raftexample_wal_fsync_duration_seconds_count',
  fsyncSeconds: 'raftexample_wal_fsync_duration_seconds_sum',
  peerPosts: 'raftexample_peer_round_trip_duration_seconds_count',
  peerPostSeconds: 'raftexample_peer_round_trip_duration_seconds_sum',
  peerMessages: 'raftexample_peer_messages_sent_total',
} as const;

/** The counters from Prometheus text, each summed over its labels (all peers); 0 when absent. */
export function parseLeaderCounters(text: string): LeaderCounters {
  const counters: LeaderCounters = { fsyncs: 0, fsyncSeconds: 0, peerPosts: 0, peerPostSeconds: 0, peerMessages: 0 };
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (match === null) continue;
    for (const [field, name] of Object.entries(METRIC) as [keyof LeaderCounters, string][]) {
      if (match[1] === name) counters[field] += Number(match[2]);
    }
  }
  return counters;
}

export function commitRounds(before: LeaderCounters, after: LeaderCounters, writes: number, seconds: number): CommitRounds {
  const delta = (field: keyof LeaderCounters) => after[field] - before[field];
  const per = (a: number, b: number) => (b > 0 ? a / b : null);
  return {
    fsyncsPerSecond: delta('fsyncs') / seconds,
    writesPerFsync: per(writes, delta('fsyncs')),
    fsyncMeanMs: per(delta('fsyncSeconds') * 1000, delta('fsyncs')),
    peerPostsPerSecond: delta('peerPosts') / seconds,
    writesPerPeerPost: per(writes, delta('peerPosts')),
    messagesPerPeerPost: per(delta('peerMessages'), delta('peerPosts')),
    peerRoundTripMeanMs: per(delta('peerPostSeconds') * 1000, delta('peerPosts')),
  };
}

const fixed = (n: number | null, digits = 1) => (n === null ? 'n/a' : n.toFixed(digits));

export function formatCommitRounds(r: CommitRounds): string {
  return (
    `leader: ${Math.round(r.fsyncsPerSecond)} fsyncs/s (${fixed(r.writesPerFsync)} writes each, mean ${fixed(r.fsyncMeanMs, 2)} ms), ` +
    `${Math.round(r.peerPostsPerSecond)} peer POSTs/s (${fixed(r.writesPerPeerPost)} writes and ${fixed(r.messagesPerPeerPost)} messages each, mean round trip ${fixed(r.peerRoundTripMeanMs, 2)} ms)`
  );
}
