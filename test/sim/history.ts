// The clients' history: every operation with its invocation and completion, in one global
// order (a sequence number bumped at each event), plus the simulated tick for humans.

export type OpKind = 'write' | 'read';
/** ok: took effect (write) or returned `value` (read); fail: certainly did not take effect;
 *  info: a write that may or may not have taken effect; pending: not completed yet. */
export type OpStatus = 'pending' | 'ok' | 'fail' | 'info';

export interface HistoryOp {
  id: number;
  client: number;
  node: number;
  kind: OpKind;
  key: string;
  /** write: the value written (unique per write); read: the value seen, null if absent. */
  value: string | null;
  status: OpStatus;
  invokeSeq: number;
  /** Infinity while pending and for info ops: they may take effect at any later time. */
  completeSeq: number;
  invokeTick: number;
  completeTick: number;
}

export class History {
  readonly ops: HistoryOp[] = [];
  private seq = 0;

  invoke(client: number, node: number, kind: OpKind, key: string, value: string | null, tick: number): HistoryOp {
    const op: HistoryOp = {
      id: this.ops.length,
      client,
      node,
      kind,
      key,
      value,
      status: 'pending',
      invokeSeq: this.seq++,
      completeSeq: Infinity,
      invokeTick: tick,
      completeTick: Infinity,
    };
    this.ops.push(op);
    return op;
  }

  ok(op: HistoryOp, tick: number, readValue?: string | null): void {
    this.complete(op, 'ok', tick);
    if (op.kind === 'read') op.value = readValue ?? null;
  }

  fail(op: HistoryOp, tick: number): void {
    this.complete(op, 'fail', tick);
  }

  /** Outcome unknown: the op stays open forever (a write may take effect at any later time). */
  info(op: HistoryOp, tick: number): void {
    if (op.status !== 'pending') throw new Error(`history: op ${op.id} completed twice`);
    op.status = 'info';
    op.completeTick = tick;
  }

  private complete(op: HistoryOp, status: OpStatus, tick: number): void {
    if (op.status !== 'pending') throw new Error(`history: op ${op.id} completed twice`);
    op.status = status;
    op.completeSeq = this.seq++;
    op.completeTick = tick;
  }
}

export function formatOp(op: HistoryOp): string {
  const what = op.kind === 'write' ? `write ${op.key}=${op.value}` : `read ${op.key} -> ${op.status === 'ok' ? String(op.value) : '?'}`;
  const end = op.completeTick === Infinity ? '...' : String(op.completeTick);
  return `op${op.id} c${op.client} n${op.node} ${what} [${op.invokeTick}, ${end}] ${op.status}`;
}
