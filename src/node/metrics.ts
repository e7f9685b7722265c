// What the node reports to a metrics registry as it works: durations timed in the Ready loop
// and peer round trips. The node's state (term, indexes, leader) is read at scrape time from
// status() instead, so only these few calls sit on its paths. Implemented in src/metrics.ts,
// so the node layer never imports prom-client.

export interface NodeMetrics {
  /** A WAL save that synced took this long (world clock). */
  walFsync(seconds: number): void;
  /** A snapshot file was written and synced in this long (world clock). */
  snapshotSaved(seconds: number): void;
  /** The node saw a new leader (not: losing one). */
  leaderChanged(): void;
  /** `n` linearizable reads got their index: under the leader lease, or from a ReadIndex round. */
  readsIndexed(how: 'lease' | 'round', n: number): void;
  /** One message POST to `peer`, carrying `messages` messages, took `seconds`; ok: answered 2xx. */
  peerRoundTrip(peer: number, seconds: number, ok: boolean, messages: number): void;
}

/** Reports nothing: the node's default. */
export const noNodeMetrics: NodeMetrics = {
  walFsync: () => undefined,
  snapshotSaved: () => undefined,
  leaderChanged: () => undefined,
  readsIndexed: () => undefined,
  peerRoundTrip: () => undefined,
};
