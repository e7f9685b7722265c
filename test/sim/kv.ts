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
  /** Bitset of applied request ids (they are small dense integers: history op ids). */
  private seen = new Uint8Array(64);

  get(key: string): string | null {
    return this.kv.get(key) ?? null;
  }

  /** Applies a write unless its request id was applied before; returns whether it applied. */
  apply(w: KvWrite): boolean {
    if (this.hasApplied(w.reqId)) return false;
    const byte = w.reqId >>> 3;
    if (byte >= this.seen.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.seen.length * 2));
      grown.set(this.seen);
      this.seen = grown;
    }
    this.seen[byte]! |= 1 << (w.reqId & 7);
    this.kv.set(w.key, w.value);
    return true;
  }

  hasApplied(reqId: number): boolean {
    const byte = reqId >>> 3;
    return byte < this.seen.length && (this.seen[byte]! & (1 << (reqId & 7))) !== 0;
  }

  /** A short summary of the visible state, equal on two nodes iff their maps are equal. */
  digest(): string {
    return [...this.kv.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(';');
  }

  /** Layout: u32 length of the JSON key-value list, the JSON, then the applied-id bitset. */
  serialize(): Uint8Array {
    const kv = encoder.encode(JSON.stringify([...this.kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))));
    const out = new Uint8Array(4 + kv.length + this.seen.length);
    new DataView(out.buffer).setUint32(0, kv.length);
    out.set(kv, 4);
    out.set(this.seen, 4 + kv.length);
    return out;
  }

  static restore(data: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (data.length === 0) return sm;
    const len = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
    sm.kv = new Map(JSON.parse(decoder.decode(data.subarray(4, 4 + len))) as [string, string][]);
    sm.seen = data.slice(4 + len);
    if (sm.seen.length === 0) sm.seen = new Uint8Array(64);
    return sm;
  }
}
