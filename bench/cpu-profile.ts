// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time: where the
// time of a write goes on the leader, to guide optimization.

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** "functionName url:line" (line 1-based), "(anonymous)" for a nameless function. */
  where: string;
  selfMs: number;
  /** Share of all sampled time, in percent. */
  percent: number;
}

export function topSelfTime(profile: CpuProfile, count = 10): SelfTime[] {
  const frameOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  let totalMicros = 0;
  profile.samples.forEach((nodeId, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    const frame = frameOf.get(nodeId);
    if (frame === undefined) return;
    const where = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`.trim();
    byFunction.set(where, (byFunction.get(where) ?? 0) + micros);
    totalMicros += micros;
  });
  return [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([where, micros]) => ({ where, selfMs: micros / 1000, percent: totalMicros === 0 ? 0 : (micros * 100) / totalMicros }));
}

/** The path from the package or repo folder on, so lines stay readable. */
function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const src = url.lastIndexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}

export function formatSelfTimes(list: SelfTime[]): string {
  return list.map((s, i) => `${String(i + 1).padStart(2)}. ${s.percent.toFixed(1).padStart(5)}%  ${s.selfMs.toFixed(0).padStart(6)} ms  ${s.where}`).join('\n');
}
