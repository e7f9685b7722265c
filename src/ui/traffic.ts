// The dashboard's charts from the members' own /-/metrics: each scrape is reduced to a few
// counters (PUTs committed, GETs answered, PUT seconds), and two scrapes of one member give
// its rates. The cluster's rates are the sum over members (each counts its own clients).

/** The counters one scrape of raftexample_http_request_duration_seconds gives. */
export interface TrafficCounters {
  /** PUTs answered 204 (committed and applied), and their total seconds. */
  writes: number;
  writeSeconds: number;
  /** GETs of a key answered 200 or 404. */
  reads: number;
}

export interface TrafficRates {
  writesPerSecond: number;
  readsPerSecond: number;
  /** Mean seconds of the PUTs committed between the two scrapes (null: none committed). */
  writeMeanSeconds: number | null;
}

const HTTP_HISTOGRAM = 'raftexample_http_request_duration_seconds_';
const SAMPLE_LINE = /^raftexample_http_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/;
const LABEL = /([a-z_]+)="([^"]*)"/g;

/** The traffic counters in a Prometheus text page (lines of other metrics are skipped unread). */
export function parseTrafficCounters(text: string): TrafficCounters {
  const counters: TrafficCounters = { writes: 0, writeSeconds: 0, reads: 0 };
  for (const line of text.split('\n')) {
    if (!line.startsWith(HTTP_HISTOGRAM)) continue;
    const m = SAMPLE_LINE.exec(line);
    if (m === null) continue;
    const labels = new Map([...m[2]!.matchAll(LABEL)].map((l) => [l[1]!, l[2]!]));
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const route = labels.get('route');
    const status = labels.get('status');
    if (route === 'key_put' && status === '204') {
      if (m[1] === 'count') counters.writes += value;
      else counters.writeSeconds += value;
    } else if (route === 'key_get' && (status === '200' || status === '404') && m[1] === 'count') {
      counters.reads += value;
    }
  }
  return counters;
}

/**
 * The rates between two scrapes `seconds` apart; null when they cannot be compared (no time
 * passed, or a counter went down: the member restarted and its counters began again).
 */
export function trafficRates(before: TrafficCounters, after: TrafficCounters, seconds: number): TrafficRates | null {
  const writes = after.writes - before.writes;
  const reads = after.reads - before.reads;
  const writeSeconds = after.writeSeconds - before.writeSeconds;
  if (!(seconds > 0) || writes < 0 || reads < 0 || writeSeconds < 0) return null;
  return {
    writesPerSecond: writes / seconds,
    readsPerSecond: reads / seconds,
    writeMeanSeconds: writes > 0 ? writeSeconds / writes : null,
  };
}
