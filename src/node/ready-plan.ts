// How one Ready is carried out, decided before any of it is done: which messages may leave
// while it is being persisted and which only after, and which committed entries may be
// applied meanwhile. The rules are the Ready contract (raftpb/types.ts): nothing that
// acknowledges or votes leaves before the persist (a leader's appends and heartbeats may,
// unless the Ready changes term or vote), and only entries already on our disk are applied
// early, never a conf change (its commit must be durable before it takes effect: once
// applied, a removal is announced to peers and must survive a restart). The node's Ready
// loop follows this plan, and so do the core's test harnesses, so the rules live here once.

import { canSendBeforePersist } from '../raft/index.ts';
import { EntryType, type Entry, type Message, type Ready } from '../raftpb/index.ts';

export interface ReadyPlan {
  /** May leave at once, in parallel with the persist. */
  sendEarly: Message[];
  /** Only once the Ready is persisted. */
  sendAfterPersist: Message[];
  /** Committed entries already on disk: may be applied while the Ready is persisted. */
  applyEarly: Entry[];
  /** Committed entries to apply once the Ready is persisted (and its snapshot applied). */
  applyAfterPersist: Entry[];
}

/**
 * `messages` are the Ready's (coalesced or not); `durableIndex` is the last log index on our
 * disk before this Ready is persisted. `plantedConfChangesEarly` (the simulator's planted bug
 * applyConfChangeEarly, never set by the service) lets conf changes be applied early too.
 */
export function planReady(rd: Ready, messages: readonly Message[], isLeader: boolean, durableIndex: number, plantedConfChangesEarly = false): ReadyPlan {
  const sendEarly: Message[] = [];
  const sendAfterPersist: Message[] = [];
  for (const m of messages) (isLeader && canSendBeforePersist(rd, m) ? sendEarly : sendAfterPersist).push(m);
  const committed = rd.committedEntries;
  // Entries this Ready rewrites are on our disk only in their old version, if at all.
  const onDisk = rd.entries.length > 0 ? Math.min(durableIndex, rd.entries[0]!.index - 1) : durableIndex;
  let n = 0;
  if (rd.snapshot === null) {
    while (n < committed.length && committed[n]!.index <= onDisk && (plantedConfChangesEarly || committed[n]!.type !== EntryType.ConfChange)) n++;
  }
  return {
    sendEarly,
    sendAfterPersist,
    applyEarly: n === 0 ? [] : n === committed.length ? committed : committed.slice(0, n),
    applyAfterPersist: n === 0 ? committed : n === committed.length ? [] : committed.slice(n),
  };
}
