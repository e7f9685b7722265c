// Small helpers shared by the core: entry sizes, message construction, message classes.

import { type Entry, type Message, MessageType, type Ready } from '../raftpb/types.ts';

const EMPTY = new Uint8Array(0);

/** The size that counts against every byte limit: the entries' data length. */
export function entriesSize(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += e.data.byteLength;
  return n;
}

/** A message with every field defaulted; callers fill in what matters. */
export function newMessage(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    to: 0,
    from: 0,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: EMPTY,
    ...fields,
  };
}

/** Messages that only exist inside one node; a peer must never send them. */
export function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

export function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResp
  );
}

/**
 * May `m` leave before `rd` is persisted? Only a leader's appends, heartbeats and snapshots,
 * which acknowledge nothing, and only from a Ready that changes neither term nor vote: a term
 * must be on disk before anyone hears of it, or a restarted single voter could lead that term
 * again with a different log. Votes and every response wait for the fsync.
 */
export function canSendBeforePersist(rd: Ready, m: Message): boolean {
  if (rd.changesTermOrVote) return false;
  return m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap;
}

export function voteRespType(t: MessageType): MessageType {
  return t === MessageType.MsgPreVote ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
}
