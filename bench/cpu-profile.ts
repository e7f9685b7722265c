// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions, and the files or packages
// they live in, by self time within a window: where the time of a write goes on the leader.

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** "functionName url:line" (line 1-based), or the file or package, per the ranking asked for. */
  where: string;
  selfMs: number;
  /** Share of the busy (not idle) sampled time in the window, in percent. */
  percent: number;
}

export interface Ranking {
  functions: SelfTime[];
  files: SelfTime[];
  busyMs: number;
  idleMs: number;
}

/** Rank by self time the samples of the last windowMs of the profile (all of it when omitted); "(idle)" is counted apart. */
export function rankSelfTime(profile: CpuProfile, count = 10, windowMs = Infinity): Ranking {
  const frameOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, micros: number) => map.set(key, (map.get(key) ?? 0) + micros);
  const windowStart = profile.endTime - windowMs * 1000;
  let at = profile.startTime;
  let busyMicros = 0;
  let idleMicros = 0;
  profile.samples.forEach((nodeId, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    at += micros;
    const frame = frameOf.get(nodeId);
    if (frame === undefined || at < windowStart) return;
    if (frame.functionName === '(idle)') return void (idleMicros += micros);
    const file = shortUrl(frame.url);
    add(byFunction, `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`, micros);
    add(byFile, file ? packageOrFile(file) : `${frame.functionName} (native)`, micros);
    busyMicros += micros;
  });
  const rank = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([where, micros]) => ({ where, selfMs: micros / 1000, percent: busyMicros === 0 ? 0 : (micros * 100) / busyMicros }));
  return { functions: rank(byFunction), files: rank(byFile), busyMs: busyMicros / 1000, idleMs: idleMicros / 1000 };
}

/** The path from the package or the repo's src/ on, so lines stay readable. */
function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const src = url.lastIndexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}

/** "fastify" for fastify/lib/route.js, "@scope/pkg" for scoped ones; a file of ours or of node as it is. */
function packageOrFile(file: string): string {
  if (file.startsWith('src/') || file.startsWith('node:') || file.startsWith('/')) return file;
  const parts = file.split('/');
  return file.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export function formatSelfTimes(list: SelfTime[]): string {
  return list.map((s, i) => `${String(i + 1).padStart(2)}. ${s.percent.toFixed(1).padStart(5)}%  ${s.selfMs.toFixed(0).padStart(6)} ms  ${s.where}`).join('\n');
}
