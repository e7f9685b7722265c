// One-line text forms of the core's data (entries, messages, Readies, states) for scenario
// output: compact, stable across runs, and close to etcd-io/raft's so traces read alike.

import {
  type ConfState,
  EntryType,
  type Entry,
  type HardState,
  type Message,
  MessageType,
  type Ready,
  type Snapshot,
  type SoftState,
  StateType,
  decodeConfChange,
} from '../../../src/raft/index.ts';

const messageTypeNames = new Map<number, string>(Object.entries(MessageType).map(([name, n]) => [n, name]));
const stateNames = new Map<number, string>(Object.entries(StateType).map(([name, n]) => [n, `State${name}`]));
const confChangeNames = ['add', 'remove', 'add-learner'];
/** Longer data is cut, with its size shown: values near a limit stay one line. */
const dataCharsShown = 16;
/** Snapshot data is the test state machine's list of values: shown whole while short. */
const snapshotCharsShown = 80;

export const messageTypeName = (type: number): string => messageTypeNames.get(type) ?? `MsgType${type}`;
export const stateName = (state: number): string => stateNames.get(state) ?? `State${state}`;

/** Bytes as a quoted string when printable, else as hex. */
export function describeBytes(bytes: Uint8Array, charsShown = dataCharsShown): string {
  const text = new TextDecoder().decode(bytes);
  if (!/^[\x20-\x7e]*$/.test(text)) return `0x${Buffer.from(bytes).toString('hex')}`;
  if (text.length <= charsShown) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, charsShown) + '…')}(${bytes.length}B)`;
}

export function describeEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) {
    const cc = decodeConfChange(e.data);
    const context = cc.context.length > 0 ? ` ${describeBytes(cc.context)}` : '';
    return `${e.term}/${e.index} EntryConfChange ${confChangeNames[cc.type] ?? cc.type} ${cc.nodeId}${context}`;
  }
  return `${e.term}/${e.index} EntryNormal ${describeBytes(e.data)}`;
}

export const describeIds = (ids: readonly number[]): string => `(${[...ids].sort((a, b) => a - b).join(' ')})`;

export function describeConfState(cs: ConfState): string {
  const learners = cs.learners.length > 0 ? ` learners=${describeIds(cs.learners)}` : '';
  return `voters=${describeIds(cs.voters)}${learners}`;
}

export function describeSnapshot(s: Snapshot): string {
  return `Index:${s.metadata.index} Term:${s.metadata.term} ${describeConfState(s.metadata.confState)} Data:${describeBytes(s.data, snapshotCharsShown)}`;
}

export const describeHardState = (hs: HardState): string => `Term:${hs.term} Vote:${hs.vote} Commit:${hs.commit}`;
export const describeSoftState = (ss: SoftState): string => `Lead:${ss.lead} State:${stateName(ss.raftState)}`;

/** A heartbeat's context is the read round it confirms (8 bytes); any other context is data. */
function describeContext(m: Message): string {
  if (m.context.length === 0) return '';
  const isRound = m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgHeartbeatResp;
  if (isRound && m.context.length === 8) {
    const round = new DataView(m.context.buffer, m.context.byteOffset, 8).getFloat64(0);
    return ` ReadRound:${round}`;
  }
  return ` Context:${describeBytes(m.context)}`;
}

/** One line, plus one indented line per entry when there are several, and one for a snapshot. */
export function describeMessage(m: Message): string[] {
  let head = `${m.from}->${m.to} ${messageTypeName(m.type)} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) head += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) head += ` Commit:${m.commit}`;
  head += describeContext(m);
  const lines = [head];
  if (m.entries.length === 1) lines[0] += ` Entries:[${describeEntry(m.entries[0]!)}]`;
  else if (m.entries.length > 1) {
    lines[0] += ' Entries:[';
    for (const e of m.entries) lines.push(`  ${describeEntry(e)}`);
    lines.push(']');
  }
  if (m.snapshot !== null) lines.push(`  Snapshot: ${describeSnapshot(m.snapshot)}`);
  return lines;
}

/** Every field of a Ready that carries something, in the order the application handles them. */
export function describeReady(rd: Ready): string[] {
  const flags = rd.changesTermOrVote ? ' ChangesTermOrVote' : '';
  const lines = [`Ready MustSync=${rd.mustSync}${flags}:`];
  if (rd.softState !== null) lines.push(describeSoftState(rd.softState));
  if (rd.hardState !== null) lines.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.snapshot !== null) lines.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.entries.length > 0) lines.push('Entries:', ...rd.entries.map(describeEntry));
  if (rd.committedEntries.length > 0) lines.push('CommittedEntries:', ...rd.committedEntries.map(describeEntry));
  if (rd.messages.length > 0) lines.push('Messages:', ...rd.messages.flatMap(describeMessage));
  if (rd.readStates.length > 0) {
    lines.push('ReadStates:', ...rd.readStates.map((r) => `Index:${r.index} Ctx:${describeBytes(r.requestCtx)}`));
  }
  return lines;
}
