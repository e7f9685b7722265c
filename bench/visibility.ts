// The commit-visibility check: after a write phase, read a sample of the acknowledged keys
// back from every node's local state. A write counts as committed only if every node shows
// its value; Go raftexample answers before commit, so some of its acknowledged writes may
// never appear, and this is where they are counted.

export interface AcknowledgedWrite {
  key: string;
  value: string;
}

/** One node's local (non-forwarded) read: the value, or undefined when the key is absent. */
export interface NodeReader {
  name: string;
  read(key: string): Promise<string | undefined>;
}

export interface VisibilityOptions {
  /** At most this many keys are read back (an even stride over all acknowledged writes). */
  sampleMax: number;
  /** Concurrent reads per node. */
  concurrency: number;
  /**
   * After the first pass, keys still missing are re-read while a node keeps catching up; the
   * check gives up on a node once it has shown none of them for settleMs, or after settleMsMax.
   */
  settleMs: number;
  settleMsMax: number;
  retryDelayMs: number;
}

export interface VisibilityResult {
  acknowledged: number;
  checked: number;
  /** Sampled keys absent (or holding another value) on at least one node after settling. */
  missing: number;
  /** Per node, in the readers' order: sampled keys it does not show. */
  missingPerNode: number[];
  /** A few of the missing keys, to look at by hand. */
  missingExamples: string[];
  /** missing scaled from the sample to all acknowledged writes. */
  lostEstimate: number;
  /** Acknowledged writes estimated to be visible on all nodes. */
  committedEstimate: number;
}

export const DEFAULT_VISIBILITY: VisibilityOptions = { sampleMax: 5000, concurrency: 16, settleMs: 5000, settleMsMax: 60_000, retryDelayMs: 200 };

/** Every stride-th write, so the sample spans the whole phase; all of them if there are few. */
export function sampleWrites(writes: AcknowledgedWrite[], sampleMax: number): AcknowledgedWrite[] {
  if (writes.length <= sampleMax) return writes;
  const stride = writes.length / sampleMax;
  return Array.from({ length: sampleMax }, (_, i) => writes[Math.floor(i * stride)]!);
}

export async function checkVisibility(
  writes: AcknowledgedWrite[],
  nodes: NodeReader[],
  opts: VisibilityOptions = DEFAULT_VISIBILITY,
): Promise<VisibilityResult> {
  const sample = sampleWrites(writes, opts.sampleMax);
  const missingByNode = await Promise.all(nodes.map((node) => absentAfterSettling(node, sample, opts)));
  const missingKeys = new Set(missingByNode.flatMap((m) => m.map((w) => w.key)));
  const lostEstimate = sample.length === 0 ? 0 : Math.round((missingKeys.size * writes.length) / sample.length);
  return {
    acknowledged: writes.length,
    checked: sample.length,
    missing: missingKeys.size,
    missingPerNode: missingByNode.map((m) => m.length),
    missingExamples: [...missingKeys].slice(0, 5),
    lostEstimate,
    committedEstimate: writes.length - lostEstimate,
  };
}

/** The writes the node still does not show once it has stopped catching up (a lagging follower is not a loss). */
async function absentAfterSettling(node: NodeReader, writes: AcknowledgedWrite[], opts: VisibilityOptions): Promise<AcknowledgedWrite[]> {
  const deadline = Date.now() + opts.settleMsMax;
  let lastProgress = Date.now();
  let missing = await absentOn(node, writes, opts.concurrency);
  while (missing.length > 0 && Date.now() - lastProgress < opts.settleMs && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, opts.retryDelayMs));
    const still = await absentOn(node, missing, opts.concurrency);
    if (still.length < missing.length) lastProgress = Date.now();
    missing = still;
  }
  return missing;
}

/** The writes whose value the node does not show; a read that fails counts as not shown. */
async function absentOn(node: NodeReader, writes: AcknowledgedWrite[], concurrency: number): Promise<AcknowledgedWrite[]> {
  const absent: AcknowledgedWrite[] = [];
  let next = 0;
  const worker = async () => {
    while (next < writes.length) {
      const write = writes[next++]!;
      const shown = await node.read(write.key).catch(() => undefined);
      if (shown !== write.value) absent.push(write);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, writes.length) }, worker));
  return absent;
}
