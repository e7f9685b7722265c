// The checks at the end of a run, once everything is healed and the members have converged:
// linearizable register history (the simulator's checker), serializable reads of written
// values, every acknowledged witness write present, the same state everywhere, and no node
// dead but by the nemesis. Each check passes or fails with the evidence to print.

import { checkLinearizable } from '../test/sim/linearizability.ts';
import { formatOp, type HistoryOp } from '../test/sim/history.ts';
import type { ChaosCluster } from './cluster.ts';
import { REGISTER_KEYS, type Workload } from './workload.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

const WINDOW_OPS = 24;

/** Poll until every running member has the same leader and has applied the same, committed index. */
export async function waitConverged(cluster: ChaosCluster, timeoutMs: number): Promise<string | null> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no status yet';
  while (performance.now() < deadline) {
    const members = cluster.members.filter((n) => n.running);
    const statuses = await Promise.all(members.map((n) => cluster.status(n.id)));
    const missing = members.filter((_, i) => statuses[i] === undefined).map((n) => n.id);
    const leaders = new Set(statuses.map((s) => s?.leader));
    const applied = new Set(statuses.map((s) => s?.applied));
    const behind = statuses.some((s) => s !== undefined && s.applied !== s.commit);
    if (missing.length === 0 && leaders.size === 1 && !leaders.has(0) && applied.size === 1 && !behind) return null;
    last = `no status from ${missing.join(',') || '-'}; leaders ${[...leaders].join(',')}; applied ${[...applied].join(',')}`;
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}

export function checkHistory(workload: Workload): CheckResult {
  const ops = workload.history.ops;
  const result = checkLinearizable(ops, { maxSteps: 20_000_000 });
  if (result.ok) return { name: 'linearizable history', ok: true, detail: `${ops.length} register ops on ${REGISTER_KEYS.length} keys` };
  const window = offendingWindow(result.ops);
  return {
    name: 'linearizable history',
    ok: false,
    detail: `key ${result.key}: ${result.reason}; the shortest failing prefix ends with:\n${window.map((op) => `      ${formatOp(op)}`).join('\n')}`,
  };
}

/**
 * The last ops of the shortest prefix (by invocation) of one key's history that is already not
 * linearizable: a longer history cannot repair a shorter one, so a binary search finds it.
 */
function offendingWindow(keyOps: HistoryOp[]): HistoryOp[] {
  const byInvoke = [...keyOps].sort((a, b) => a.invokeSeq - b.invokeSeq);
  const fails = (n: number): boolean => {
    const r = checkLinearizable(byInvoke.slice(0, n), { maxSteps: 2_000_000 });
    return !r.ok && !('gaveUp' in r);
  };
  let lo = 1;
  let hi = byInvoke.length;
  if (!fails(hi)) return byInvoke.slice(-WINDOW_OPS);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (fails(mid)) hi = mid;
    else lo = mid + 1;
  }
  return byInvoke.slice(Math.max(0, hi - WINDOW_OPS), hi);
}

/** A serializable read may be stale, but must return a value some write wrote (or nothing). */
export function checkSerializableReads(workload: Workload): CheckResult {
  const written = new Map<string, number>();
  for (const op of workload.history.ops) if (op.kind === 'write' && op.value !== null) written.set(op.value, op.invokeTick);
  const bad = workload.serializableReads.filter((r) => r.value !== null && !(written.has(r.value) && written.get(r.value)! <= r.endMs));
  return {
    name: 'serializable reads return written values',
    ok: bad.length === 0,
    detail: bad.length === 0 ? `${workload.serializableReads.length} reads` : bad.slice(0, 10).map((r) => `      node ${r.node} ${r.key} -> ${r.value} [${r.startMs}, ${r.endMs}]`).join('\n'),
  };
}

/** Every member's value of every key, read locally once converged: all must agree. */
export async function readStates(cluster: ChaosCluster, workload: Workload, keys: string[]): Promise<Map<number, Map<string, string | null>>> {
  const states = new Map<number, Map<string, string | null>>();
  for (const node of cluster.members.filter((n) => n.running)) {
    const state = new Map<string, string | null>();
    for (let i = 0; i < keys.length; i += 32) {
      const batch = keys.slice(i, i + 32);
      const reads = await Promise.all(batch.map((key) => workload.read(node.id, key, '?serializable')));
      batch.forEach((key, j) => state.set(key, reads[j]!.outcome === 'ok' ? reads[j]!.value : `<read ${reads[j]!.outcome}>`));
    }
    states.set(node.id, state);
  }
  return states;
}

export function checkSameState(states: Map<number, Map<string, string | null>>): CheckResult {
  const [first, ...rest] = [...states];
  const diffs: string[] = [];
  if (first !== undefined) {
    for (const [id, state] of rest) {
      for (const [key, value] of first[1]) if (state.get(key) !== value) diffs.push(`      ${key}: node ${first[0]} ${value}, node ${id} ${state.get(key)}`);
    }
  }
  return { name: 'all members hold the same state', ok: diffs.length === 0, detail: diffs.length === 0 ? `${states.size} members, ${first?.[1].size ?? 0} keys` : diffs.slice(0, 10).join('\n') };
}

export function checkWitnesses(workload: Workload, state: Map<string, string | null> | undefined): CheckResult {
  const acked = workload.witnesses.filter((w) => w.outcome === 'ok');
  const lost = acked.filter((w) => state?.get(w.key) !== w.value);
  const refusedButPresent = workload.witnesses.filter((w) => w.outcome === 'failed' && state?.get(w.key) === w.value);
  const lines = [
    ...lost.slice(0, 10).map((w) => `      lost: PUT ${w.key}=${w.value} acknowledged at ${w.endMs} ms, now ${state?.get(w.key) ?? 'absent'}`),
    ...refusedButPresent.slice(0, 10).map((w) => `      present though refused with 503: PUT ${w.key}=${w.value}`),
  ];
  return {
    name: 'every acknowledged write present',
    ok: lost.length === 0 && refusedButPresent.length === 0,
    detail: lines.length === 0 ? `${acked.length} acknowledged witness writes, all present` : `${lost.length} of ${acked.length} acknowledged writes lost\n${lines.join('\n')}`,
  };
}

export function checkDeaths(cluster: ChaosCluster): CheckResult {
  const exits = cluster.unexpectedExits;
  return {
    name: 'no node died but by the nemesis',
    ok: exits.length === 0,
    detail: exits.length === 0 ? `${cluster.nodes.size} nodes started` : exits.map((e) => `      node ${e.id} exited (code ${e.code}, signal ${e.signal}):\n${e.logTail}`).join('\n'),
  };
}
