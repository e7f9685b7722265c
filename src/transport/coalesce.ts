// The core emits one MsgApp per proposal and one MsgAppResp per append received. Within
// one Ready, appends to the same peer that continue each other say the same as a single
// longer append, and a follower's later accepting response subsumes its earlier ones.
// Merging them cuts the messages (and the follower's work) by the batch size.

import { coalescedAppendBytesMax, peerMessageEntriesMax } from '../limits.ts';
import { MessageType, type Message } from '../raftpb/index.ts';

export function coalesceMessages(msgs: Message[]): Message[] {
  if (msgs.length < 2) return msgs;
  const out: Message[] = [];
  // Per peer: position in `out` of its last message, if that one can still absorb a follower.
  const open = new Map<number, number>();
  /** Messages we built by merging, with their entry bytes so far. */
  const merged = new Map<Message, number>();
  for (const m of msgs) {
    const j = open.get(m.to);
    if (j !== undefined) {
      const prev = out[j]!;
      const combined = merge(prev, m, merged);
      if (combined !== null) {
        out[j] = combined;
        continue;
      }
    }
    if (m.type === MessageType.MsgApp || (m.type === MessageType.MsgAppResp && !m.reject)) open.set(m.to, out.length);
    else open.delete(m.to); // keep the order around anything else sent to that peer
    out.push(m);
  }
  return out;
}

function merge(a: Message, b: Message, merged: Map<Message, number>): Message | null {
  if (a.type !== b.type || a.term !== b.term || a.from !== b.from) return null;
  if (a.type === MessageType.MsgApp) {
    const aLast = a.index + a.entries.length;
    const aLastTerm = a.entries.length > 0 ? a.entries[a.entries.length - 1]!.term : a.logTerm;
    if (b.index !== aLast || b.logTerm !== aLastTerm) return null;
    const size = (merged.get(a) ?? bytes(a)) + bytes(b);
    // Under the peer message's limits (bytes, and entries a peer decodes), however small the entries.
    if (size > coalescedAppendBytesMax || a.entries.length + b.entries.length > peerMessageEntriesMax) return null;
    // `a` is either the core's message (copy it once, with its own entries array) or our copy.
    const m = merged.has(a) ? a : { ...a, entries: a.entries.slice() };
    merged.set(m, size);
    for (const e of b.entries) m.entries.push(e);
    m.commit = Math.max(m.commit, b.commit);
    return m;
  }
  if (a.type === MessageType.MsgAppResp && !a.reject && !b.reject) {
    return b.index >= a.index ? b : a;
  }
  return null;
}

function bytes(m: Message): number {
  let n = 0;
  for (const e of m.entries) n += e.data.length;
  return n;
}
