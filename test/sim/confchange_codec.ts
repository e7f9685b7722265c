// Decodes the data of a ConfChange entry (layout from src/raft/confchange.ts: u8 type,
// LEB128 node id, LEB128 context length, context). Kept here until the core exports its own.

import type { ConfChange, ConfChangeType } from '../../src/raft/index.ts';

export function decodeConfChange(buf: Uint8Array): ConfChange {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= buf.length) throw new Error('conf change: truncated');
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  const type = buf[pos++] as ConfChangeType;
  const nodeId = varint();
  const len = varint();
  return { type, nodeId, context: buf.subarray(pos, pos + len) };
}
