// The replicated state machine the simulated clients use: a tiny key-value map. Writes carry a
// request id and are applied at most once (the network may duplicate a forwarded proposal,
// which then appears twice in the log).

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface KvWrite {
  reqId: number;
  key: string;
  value: string;
}

export function encodeWrite(w: KvWrite): Uint8Array {
  return encoder.encode(`${w.reqId}|${w.key}|${w.value}`);
}

export function decodeWrite(data: Uint8Array): KvWrite {
  const parts = decoder.decode(data).split('|');
  if (parts.length !== 3) throw new Error(`kv: malformed write entry`);
  return { reqId: Number(parts[0]), key: parts[1]!, value: parts[2]! };
}

export class KvStateMachine {
  private kv = new Map<string, string>();
  private seen = new Set<number>();

  get(key: string): string | null {
    return this.kv.get(key) ?? null;
  }

  /** Applies a write unless its request id was applied before; returns whether it applied. */
  apply(w: KvWrite): boolean {
    if (this.seen.has(w.reqId)) return false;
    this.seen.add(w.reqId);
    this.kv.set(w.key, w.value);
    return true;
  }

  hasApplied(reqId: number): boolean {
    return this.seen.has(reqId);
  }

  /** A short summary of the visible state, equal on two nodes iff their maps are equal. */
  digest(): string {
    return [...this.kv.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(';');
  }

  serialize(): Uint8Array {
    const kv = [...this.kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const seen = [...this.seen].sort((a, b) => a - b);
    return encoder.encode(JSON.stringify({ kv, seen }));
  }

  static restore(data: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (data.length === 0) return sm;
    const parsed = JSON.parse(decoder.decode(data)) as { kv: [string, string][]; seen: number[] };
    sm.kv = new Map(parsed.kv);
    sm.seen = new Set(parsed.seen);
    return sm;
  }
}
