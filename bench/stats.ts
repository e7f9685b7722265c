// The benchmark's arithmetic: latency percentiles, the log of timed samples a load phase
// records, and its 250 ms buckets (throughput and p99 over time) for the HTML report.

export interface LatencySummary {
  count: number;
  /** null when there was no sample: a zero would read as "fast". */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** Nearest-rank percentile (q in (0, 1]) of values sorted ascending; null for none. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function summarizeLatency(latenciesMs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    count: sorted.length,
    p50Ms: percentileSorted(sorted, 0.5),
    p99Ms: percentileSorted(sorted, 0.99),
    maxMs: sorted.length === 0 ? null : sorted[sorted.length - 1]!,
  };
}

/** The middle value; for an even count the mean of the two middle ones (two rounds give their mean, not the lower). */
export function median(values: number[]): number | null {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Completed requests of one phase: when each finished (ms since the phase began) and how long
 * it took. Two growable typed arrays, so recording a sample costs no allocation most of the time.
 */
export class SampleLog {
  private endMs = new Float64Array(1 << 14);
  private latencyMs = new Float64Array(1 << 14);
  length = 0;

  add(endMs: number, latencyMs: number): void {
    if (this.length === this.endMs.length) this.grow();
    this.endMs[this.length] = endMs;
    this.latencyMs[this.length] = latencyMs;
    this.length++;
  }

  latencies(): Float64Array {
    return this.latencyMs.subarray(0, this.length);
  }

  ends(): Float64Array {
    return this.endMs.subarray(0, this.length);
  }

  private grow(): void {
    const grown = (old: Float64Array) => {
      const bigger = new Float64Array(old.length * 2);
      bigger.set(old);
      return bigger;
    };
    this.endMs = grown(this.endMs);
    this.latencyMs = grown(this.latencyMs);
  }
}

export interface BucketSeries {
  bucketMs: number;
  /** Start of each bucket, in seconds since the phase began. */
  startSeconds: number[];
  /** Completions per second within the bucket (0 for a stall). */
  okPerSecond: number[];
  /** p99 latency of the requests that completed in the bucket; null when none did. */
  p99Ms: (number | null)[];
}

/**
 * Buckets of bucketMs covering [0, durationMs): each sample goes to the bucket its request
 * finished in (a sample at or past durationMs goes to the last one). The last bucket may be
 * shorter than bucketMs; its rate is over its own width.
 */
export function bucketize(ends: ArrayLike<number>, latencies: ArrayLike<number>, durationMs: number, bucketMs = 250): BucketSeries {
  const count = Math.max(1, Math.ceil(durationMs / bucketMs));
  const perBucket: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < ends.length; i++) {
    const bucket = Math.min(count - 1, Math.max(0, Math.floor(ends[i]! / bucketMs)));
    perBucket[bucket]!.push(latencies[i]!);
  }
  const series: BucketSeries = { bucketMs, startSeconds: [], okPerSecond: [], p99Ms: [] };
  perBucket.forEach((bucket, i) => {
    const widthMs = i === count - 1 && durationMs > i * bucketMs ? Math.min(bucketMs, durationMs - i * bucketMs) : bucketMs;
    series.startSeconds.push((i * bucketMs) / 1000);
    series.okPerSecond.push(bucket.length / (widthMs / 1000));
    series.p99Ms.push(percentileSorted(bucket.sort((a, b) => a - b), 0.99));
  });
  return series;
}
