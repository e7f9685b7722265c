// A linearizability checker for a key-value store of registers, checked key by key (a
// history is linearizable iff each key's sub-history is). The search is Wing & Gong's, with
// Lowe's memoization of (set of linearized ops, register state): a configuration seen once
// and found hopeless is never explored again. Writes must write unique values.
//
// Failed ops never took effect and are dropped. Reads that did not complete return nothing
// and are dropped. Indeterminate (info) writes stay open until the end of time: the search
// may linearize them anywhere after their invocation; one whose value nobody read can
// always go last, so it is dropped up front.

import type { HistoryOp } from './history.ts';

export type LinearizabilityResult =
  | { ok: true }
  | { ok: false; key: string; reason: string; ops: HistoryOp[] }
  | { ok: false; key: string; reason: 'search budget exhausted'; ops: HistoryOp[]; gaveUp: true };

export interface CheckOptions {
  /** Upper bound on search steps per key before giving up (reported as a failure). */
  maxSteps?: number;
}

export function checkLinearizable(history: readonly HistoryOp[], opts: CheckOptions = {}): LinearizabilityResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const keys = [...byKey.keys()].sort();
  for (const key of keys) {
    const res = checkRegister(key, byKey.get(key)!, opts.maxSteps ?? 5_000_000);
    if (!res.ok) return res;
  }
  return { ok: true };
}

function relevantOps(ops: readonly HistoryOp[]): HistoryOp[] {
  const readValues = new Set<string>();
  for (const op of ops) {
    if (op.kind === 'read' && op.status === 'ok' && op.value !== null) readValues.add(op.value);
  }
  return ops.filter((op) => {
    if (op.kind === 'read') return op.status === 'ok';
    if (op.status === 'ok') return true;
    if (op.status === 'info' || op.status === 'pending') return op.value !== null && readValues.has(op.value);
    return false; // fail
  });
}

function checkRegister(key: string, all: readonly HistoryOp[], maxSteps: number): LinearizabilityResult {
  const ops = relevantOps(all);
  const n = ops.length;
  if (n === 0) return { ok: true };

  // state: -1 for "absent", else the index in `ops` of the write that set the value (UNREAD, below, for a value no read returned).
  const writeOf = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    if (op.kind !== 'write') continue;
    if (op.value === null || writeOf.has(op.value)) throw new Error(`linearizability: write values must be unique (${op.value})`);
    writeOf.set(op.value, i);
  }
  // A write whose value no read returned leaves a state no read can follow: every such write
  // stands for the same state (UNREAD), so the memo sees orders of them as one (a burst of
  // concurrent writes, seed 147 of 1+2, otherwise ran out of search budget).
  const readOf = new Set<number>();
  const readTarget = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    if (op.kind !== 'read') continue;
    if (op.value === null) {
      readTarget[i] = -1;
      continue;
    }
    const w = writeOf.get(op.value);
    if (w === undefined) return { ok: false, key, reason: `read of value ${op.value} that no write produced`, ops: [...all] };
    readTarget[i] = w;
    readOf.add(w);
  }
  const UNREAD = -2;
  const writeState = new Int32Array(n);
  for (let i = 0; i < n; i++) writeState[i] = readOf.has(i) ? i : UNREAD;

  // A doubly linked list of events: node i < n is op i's call, node n + i its return.
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  const events: { node: number; seq: number }[] = [];
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    events.push({ node: i, seq: op.invokeSeq });
    const end = op.status === 'ok' ? op.completeSeq : Infinity;
    events.push({ node: n + i, seq: end });
  }
  events.sort((a, b) => (a.seq === b.seq ? a.node - b.node : a.seq < b.seq ? -1 : 1));
  let last = head;
  for (const ev of events) {
    next[last] = ev.node;
    prev[ev.node] = last;
    last = ev.node;
  }
  next[last] = -1;

  // Unread writes whose calls are adjacent in the event order, and whose returns form one run
  // too, are interchangeable (the same real-time order to every other op, the same state
  // after each): a burst. The search takes each burst's writes in index order only.
  const prevInBurst = new Int32Array(n).fill(-1);
  const position = new Int32Array(2 * n);
  events.forEach((ev, p) => (position[ev.node] = p));
  const settleBurst = (run: number[]): void => {
    if (run.length < 2) return;
    const returns = run.map((i) => position[n + i]!);
    if (Math.max(...returns) - Math.min(...returns) + 1 !== run.length) return;
    for (let k = 1; k < run.length; k++) prevInBurst[run[k]!] = run[k - 1]!;
  };
  let run: number[] = [];
  for (const ev of events) {
    const i = ev.node;
    const unreadWrite = i < n && ops[i]!.kind === 'write' && writeState[i] === UNREAD;
    if (unreadWrite && run.length > 0 && position[i] === position[run[run.length - 1]!]! + 1) {
      run.push(i);
      continue;
    }
    settleBurst(run);
    run = unreadWrite ? [i] : [];
  }
  settleBurst(run);

  const lift = (i: number): void => {
    const r = n + i;
    next[prev[i]!] = next[i]!;
    if (next[i] !== -1) prev[next[i]!] = prev[i]!;
    next[prev[r]!] = next[r]!;
    if (next[r] !== -1) prev[next[r]!] = prev[r]!;
  };
  const unlift = (i: number): void => {
    const r = n + i;
    next[prev[r]!] = r;
    if (next[r] !== -1) prev[next[r]!] = r;
    next[prev[i]!] = i;
    if (next[i] !== -1) prev[next[i]!] = i;
  };

  const words = new Uint32Array((n + 31) >>> 5);
  const linearized = (i: number): boolean => ((words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  const cache = new Set<string>();
  const stackOp: number[] = [];
  const stackState: number[] = [];
  let state = -1;
  let entry = next[head]!;
  let steps = 0;
  while (next[head] !== -1) {
    if (++steps > maxSteps) return { ok: false, key, reason: 'search budget exhausted', ops: [...all], gaveUp: true };
    if (entry < n) {
      const op = ops[entry]!;
      const isWrite = op.kind === 'write';
      const burstOk = prevInBurst[entry]! < 0 || linearized(prevInBurst[entry]!);
      if ((isWrite && burstOk) || (!isWrite && readTarget[entry] === state)) {
        const newState = isWrite ? writeState[entry]! : state;
        words[entry >>> 5]! |= 1 << (entry & 31);
        const k = `${words.join(',')}:${newState}`;
        if (!cache.has(k)) {
          cache.add(k);
          stackOp.push(entry);
          stackState.push(state);
          state = newState;
          lift(entry);
          entry = next[head]!;
          continue;
        }
        words[entry >>> 5]! &= ~(1 << (entry & 31));
      }
      entry = next[entry]!;
    } else {
      // An op returned before we found a place for it: undo the most recent choice.
      if (stackOp.length === 0) {
        return { ok: false, key, reason: 'no linearization exists', ops: [...all] };
      }
      const i = stackOp.pop()!;
      state = stackState.pop()!;
      words[i >>> 5]! &= ~(1 << (i & 31));
      unlift(i);
      entry = next[i]!;
    }
  }
  return { ok: true };
}
