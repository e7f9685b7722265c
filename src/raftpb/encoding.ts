// Binary encodings of the Raft data contract (src/raft/types.ts): entries, HardState,
// ConfState, snapshot metadata, ConfChange (as entry data) and batches of peer messages.
// Decoding returns byte fields as views of the input buffer: no copy per entry.

import {
  ConfChangeType,
  EntryType,
  MessageType,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
  type SnapshotMetadata,
} from './types.ts';
import {
  confStateIdsMax,
  contextBytesMax,
  entryBytesMax,
  peerBatchMessagesDecodeMax,
  peerMessageEntriesMax,
  snapshotDataBytesMax,
} from '../limits.ts';
import { BinaryReader, BinaryWriter, varintBytes } from './binary.ts';

/** Upper bounds a decoder enforces on top of "no larger than the input". */
export interface DecodeLimits {
  maxMessages: number;
  /** Entries in one message. */
  maxEntries: number;
  maxEntryBytes: number;
  maxContextBytes: number;
  maxSnapshotBytes: number;
  /** Voters or learners in one ConfState. */
  maxMembers: number;
}

export const DEFAULT_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxMessages: peerBatchMessagesDecodeMax,
  maxEntries: peerMessageEntriesMax,
  maxEntryBytes: entryBytesMax,
  maxContextBytes: contextBytesMax,
  maxSnapshotBytes: snapshotDataBytesMax,
  maxMembers: confStateIdsMax,
});

/** First byte of a message batch; bump when the layout changes. */
export const MESSAGES_VERSION = 1;

const ENTRY_MIN_BYTES = 4; // term, index, type, data length
const MESSAGE_MIN_BYTES = 11;
const MAX_ENTRY_TYPE = EntryType.ConfChange;
const MAX_CONF_CHANGE_TYPE = ConfChangeType.AddLearnerNode;
const MAX_MESSAGE_TYPE = MessageType.MsgPreVoteResp;
const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;

const scratch = new BinaryWriter(64 * 1024);

function encodeWith(fn: (w: BinaryWriter) => void): Uint8Array {
  scratch.reset();
  fn(scratch);
  return scratch.copy();
}

function decodeWith<T>(buf: Uint8Array, what: string, fn: (r: BinaryReader) => T): T {
  const r = new BinaryReader(buf);
  const v = fn(r);
  r.expectEnd(what);
  return v;
}

// ---- Entry ----

export function writeEntry(w: BinaryWriter, e: Entry): void {
  w.varint(e.term).varint(e.index).u8(e.type).bytes(e.data);
}

/** Bytes writeEntry(e) writes. */
export const entryEncodedBytes = (e: Entry): number =>
  varintBytes(e.term) + varintBytes(e.index) + 1 + varintBytes(e.data.length) + e.data.length;

export function readEntry(r: BinaryReader, maxEntryBytes = DEFAULT_LIMITS.maxEntryBytes): Entry {
  const term = r.varint('entry term');
  const index = r.varint('entry index');
  const type = r.u8('entry type');
  if (type > MAX_ENTRY_TYPE) r.fail(`unknown entry type ${type}`);
  const data = r.bytes(maxEntryBytes, 'entry data');
  return { term, index, type: type as EntryType, data };
}

/** An entry read in place: its fields, and where its data lies in the buffer read (no view of it made). */
export interface EntryInPlace {
  term: number;
  index: number;
  type: EntryType;
  /** Offset of the data in the buffer the reader reads, and its length. */
  dataStart: number;
  dataBytes: number;
}

/** readEntry's checks without making the entry or a view of its data; its fields go into `into`. */
export function readEntryInPlace(r: BinaryReader, into: EntryInPlace, maxEntryBytes = DEFAULT_LIMITS.maxEntryBytes): void {
  into.term = r.varint('entry term');
  into.index = r.varint('entry index');
  const type = r.u8('entry type');
  if (type > MAX_ENTRY_TYPE) r.fail(`unknown entry type ${type}`);
  into.type = type as EntryType;
  into.dataStart = r.skipBytes(maxEntryBytes, 'entry data');
  into.dataBytes = r.offset - into.dataStart;
}

export const encodeEntry = (e: Entry): Uint8Array => encodeWith((w) => writeEntry(w, e));
export const decodeEntry = (buf: Uint8Array, maxEntryBytes?: number): Entry =>
  decodeWith(buf, 'entry', (r) => readEntry(r, maxEntryBytes));

// ---- HardState ----

export function writeHardState(w: BinaryWriter, hs: HardState): void {
  w.varint(hs.term).varint(hs.vote).varint(hs.commit);
}

export function readHardState(r: BinaryReader): HardState {
  const term = r.varint('hardstate term');
  const vote = r.varint('hardstate vote');
  const commit = r.varint('hardstate commit');
  return { term, vote, commit };
}

export const encodeHardState = (hs: HardState): Uint8Array => encodeWith((w) => writeHardState(w, hs));
export const decodeHardState = (buf: Uint8Array): HardState => decodeWith(buf, 'hardstate', readHardState);

// ---- ConfState ----

export function writeConfState(w: BinaryWriter, cs: ConfState): void {
  w.varint(cs.voters.length);
  for (const id of cs.voters) w.varint(id);
  w.varint(cs.learners.length);
  for (const id of cs.learners) w.varint(id);
}

function readIds(r: BinaryReader, max: number, what: string): number[] {
  const n = r.count(max, 1, what);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(r.varint(what));
  return ids;
}

export function readConfState(r: BinaryReader, maxMembers = DEFAULT_LIMITS.maxMembers): ConfState {
  const voters = readIds(r, maxMembers, 'voters');
  const learners = readIds(r, maxMembers, 'learners');
  return { voters, learners };
}

export const encodeConfState = (cs: ConfState): Uint8Array => encodeWith((w) => writeConfState(w, cs));
export const decodeConfState = (buf: Uint8Array, maxMembers?: number): ConfState =>
  decodeWith(buf, 'confstate', (r) => readConfState(r, maxMembers));

// ---- Snapshot metadata and snapshot ----

export function writeSnapshotMetadata(w: BinaryWriter, m: SnapshotMetadata): void {
  w.varint(m.index).varint(m.term);
  writeConfState(w, m.confState);
}

export function readSnapshotMetadata(r: BinaryReader, maxMembers = DEFAULT_LIMITS.maxMembers): SnapshotMetadata {
  const index = r.varint('snapshot index');
  const term = r.varint('snapshot term');
  const confState = readConfState(r, maxMembers);
  return { index, term, confState };
}

export const encodeSnapshotMetadata = (m: SnapshotMetadata): Uint8Array =>
  encodeWith((w) => writeSnapshotMetadata(w, m));
export const decodeSnapshotMetadata = (buf: Uint8Array, maxMembers?: number): SnapshotMetadata =>
  decodeWith(buf, 'snapshot metadata', (r) => readSnapshotMetadata(r, maxMembers));

export function writeSnapshot(w: BinaryWriter, s: Snapshot): void {
  writeSnapshotMetadata(w, s.metadata);
  w.bytes(s.data);
}

export function readSnapshot(r: BinaryReader, limits: DecodeLimits = DEFAULT_LIMITS): Snapshot {
  const metadata = readSnapshotMetadata(r, limits.maxMembers);
  const data = r.bytes(limits.maxSnapshotBytes, 'snapshot data');
  return { metadata, data };
}

// ---- ConfChange (carried as the data of a ConfChange entry) ----

export const encodeConfChange = (cc: ConfChange): Uint8Array =>
  encodeWith((w) => w.u8(cc.type).varint(cc.nodeId).bytes(cc.context));

export function decodeConfChange(buf: Uint8Array, maxContextBytes = DEFAULT_LIMITS.maxContextBytes): ConfChange {
  return decodeWith(buf, 'confchange', (r) => {
    const type = r.u8('confchange type');
    if (type > MAX_CONF_CHANGE_TYPE) r.fail(`unknown confchange type ${type}`);
    const nodeId = r.varint('confchange node id');
    const context = r.bytes(maxContextBytes, 'confchange context');
    return { type: type as ConfChangeType, nodeId, context };
  });
}

// ---- Messages ----

export function writeMessage(w: BinaryWriter, m: Message): void {
  w.u8(m.type)
    .varint(m.to)
    .varint(m.from)
    .varint(m.term)
    .varint(m.logTerm)
    .varint(m.index)
    .varint(m.commit)
    .varint(m.rejectHint)
    .u8((m.reject ? FLAG_REJECT : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0))
    .bytes(m.context)
    .varint(m.entries.length);
  for (const e of m.entries) writeEntry(w, e);
  if (m.snapshot) writeSnapshot(w, m.snapshot);
}

/** Bytes writeMessage(m) writes. */
export function messageEncodedBytes(m: Message): number {
  let n =
    2 + // type, flags
    varintBytes(m.to) + varintBytes(m.from) + varintBytes(m.term) + varintBytes(m.logTerm) +
    varintBytes(m.index) + varintBytes(m.commit) + varintBytes(m.rejectHint) +
    varintBytes(m.context.length) + m.context.length + varintBytes(m.entries.length);
  for (const e of m.entries) n += entryEncodedBytes(e);
  if (m.snapshot) n += snapshotEncodedBytes(m.snapshot);
  return n;
}

function snapshotEncodedBytes(s: Snapshot): number {
  const { index, term, confState } = s.metadata;
  let n = varintBytes(index) + varintBytes(term) + varintBytes(confState.voters.length) + varintBytes(confState.learners.length);
  for (const id of confState.voters) n += varintBytes(id);
  for (const id of confState.learners) n += varintBytes(id);
  return n + varintBytes(s.data.length) + s.data.length;
}

/** Bytes writeMessages(msgs) writes, given the sum of messageEncodedBytes over them. */
export const batchEncodedBytes = (count: number, messagesBytes: number): number => 1 + varintBytes(count) + messagesBytes;

export function readMessage(r: BinaryReader, limits: DecodeLimits = DEFAULT_LIMITS): Message {
  const type = r.u8('message type');
  if (type > MAX_MESSAGE_TYPE) r.fail(`unknown message type ${type}`);
  const to = r.varint('message to');
  const from = r.varint('message from');
  const term = r.varint('message term');
  const logTerm = r.varint('message logTerm');
  const index = r.varint('message index');
  const commit = r.varint('message commit');
  const rejectHint = r.varint('message rejectHint');
  const flags = r.u8('message flags');
  if (flags & ~(FLAG_REJECT | FLAG_SNAPSHOT)) r.fail(`unknown message flags 0x${flags.toString(16)}`);
  const context = r.bytes(limits.maxContextBytes, 'message context');
  const n = r.count(limits.maxEntries, ENTRY_MIN_BYTES, 'entries');
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) entries.push(readEntry(r, limits.maxEntryBytes));
  const snapshot = flags & FLAG_SNAPSHOT ? readSnapshot(r, limits) : null;
  return {
    type: type as MessageType,
    to,
    from,
    term,
    logTerm,
    index,
    entries,
    commit,
    snapshot,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
    context,
  };
}

/** Append a batch of messages (one peer POST body) to w. */
export function writeMessages(w: BinaryWriter, msgs: readonly Message[]): void {
  w.u8(MESSAGES_VERSION).varint(msgs.length);
  for (const m of msgs) writeMessage(w, m);
}

/** One batch of messages as a fresh buffer (safe to hand to the network and forget). */
export const encodeMessages = (msgs: readonly Message[]): Uint8Array => encodeWith((w) => writeMessages(w, msgs));

/**
 * Decode a batch. Byte fields (entry data, contexts, snapshot data) are views of `buf`:
 * the caller must not reuse `buf` while the messages are alive.
 */
export function decodeMessages(buf: Uint8Array, limits: Partial<DecodeLimits> = {}): Message[] {
  const lim: DecodeLimits = { ...DEFAULT_LIMITS, ...limits };
  return decodeWith(buf, 'message batch', (r) => {
    const version = r.u8('batch version');
    if (version !== MESSAGES_VERSION) r.fail(`unsupported message batch version ${version}`);
    const n = r.count(lim.maxMessages, MESSAGE_MIN_BYTES, 'messages');
    const msgs: Message[] = [];
    for (let i = 0; i < n; i++) msgs.push(readMessage(r, lim));
    return msgs;
  });
}

