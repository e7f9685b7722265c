// Who is in the cluster as the service sees it: each member's peer URL (and, with the
// core's ConfState, its role), the client URL it published (node/client-url-record.ts), and
// the ids that were removed (their requests get 410). Raft's ConfState says who votes; this
// says where they live. It is rebuilt by applying ConfChanges and client URL records and
// carried inside every snapshot, so it survives restarts and compaction.

import type { BinaryReader, BinaryWriter } from '../raftpb/index.ts';
import type { ErrorCode } from '../errors.ts';
import type { MemberChange, MemberChangeKind } from '../queues.ts';
import { clientUrlBytesMax, confStateIdsMax, membersMax, peerUrlBytesMax, removedMembersMax } from '../limits.ts';
import { ConfChangeType, type ConfState } from '../raft/index.ts';
import type { ClientUrlRecord } from './client-url-record.ts';
import type { Member, MemberWithRole } from './status.ts';

/** What applying a client URL record did: set or replaced the URL, found it already so, or ignored it. */
export type ClientUrlApplied = 'set' | 'unchanged' | 'notMember';

/** The core's ConfChange type each kind of change is proposed as. */
const KIND_TYPES: Record<MemberChangeKind, ConfChangeType> = {
  addVoter: ConfChangeType.AddNode,
  addLearner: ConfChangeType.AddLearnerNode,
  promote: ConfChangeType.AddNode,
  remove: ConfChangeType.RemoveNode,
};

export class Membership {
  readonly urls = new Map<number, string>();
  readonly removed = new Set<number>();
  /** Client URLs published by members (absent until a member's record applies). */
  readonly clientUrls = new Map<number, string>();

  add(id: number, url: string): void {
    this.urls.set(id, url);
    this.removed.delete(id);
  }

  remove(id: number): void {
    this.urls.delete(id);
    this.clientUrls.delete(id);
    this.removed.add(id);
  }

  /**
   * A member's client URL record, committed. Decided from the core's configuration (replicated
   * state), so every node keeps or ignores the same records: one for an id that is no member
   * (removed, or never added) is ignored; a newer one replaces the URL.
   */
  applyClientUrl(record: ClientUrlRecord, conf: ConfState): ClientUrlApplied {
    const id = record.memberId;
    if (!conf.voters.includes(id) && !conf.learners.includes(id)) return 'notMember';
    if (this.clientUrls.get(id) === record.clientUrl) return 'unchanged';
    this.clientUrls.set(id, record.clientUrl);
    return 'set';
  }

  /** Take every table of `other` (a snapshot's), in place. */
  replaceWith(other: Membership): void {
    this.urls.clear();
    this.removed.clear();
    this.clientUrls.clear();
    for (const [id, url] of other.urls) this.urls.set(id, url);
    for (const id of other.removed) this.removed.add(id);
    for (const [id, url] of other.clientUrls) this.clientUrls.set(id, url);
  }

  /**
   * Why `change` may not be made to a cluster whose core configuration is `conf`, or null if
   * it may. Decided from replicated state only (the core's ConfState, the removed ids and the
   * URLs of current members), so every node applying the same entry decides the same.
   */
  refusal(change: MemberChange, conf: ConfState): ErrorCode | null {
    if (KIND_TYPES[change.kind] !== change.type) return 'ERR_BAD_REQUEST';
    const id = change.nodeId;
    const isMember = conf.voters.includes(id) || conf.learners.includes(id);
    switch (change.kind) {
      case 'remove':
        if (!isMember) return 'ERR_MEMBER_NOT_FOUND';
        if (conf.voters.length === 1 && conf.voters[0] === id) return 'ERR_LAST_VOTER';
        // Every removed id is kept (ids are single-use) and written into each snapshot.
        if (this.removed.size >= removedMembersMax) return 'ERR_TOO_MANY_MEMBERS';
        return null;
      case 'promote':
        // An AddNode meant as a promotion applies to a learner only, never adds a member.
        if (!isMember) return 'ERR_MEMBER_NOT_FOUND';
        if (conf.voters.includes(id)) return 'ERR_MEMBER_IS_VOTER';
        return null;
      case 'addVoter':
      case 'addLearner':
        return this.addRefusal(change, conf, isMember);
    }
  }

  private addRefusal(change: MemberChange, conf: ConfState, isMember: boolean): ErrorCode | null {
    const id = change.nodeId;
    // The API refuses such a URL; one in the log anyway could not be written to a snapshot
    // and read back, so it is refused here too, on every node alike.
    if (Buffer.byteLength(change.peerUrl, 'utf8') > peerUrlBytesMax) return 'ERR_BAD_PEER_URL';
    if (this.removed.has(id)) return 'ERR_MEMBER_ID_REMOVED';
    if (isMember) return 'ERR_MEMBER_EXISTS';
    if (conf.voters.length + conf.learners.length >= confStateIdsMax) return 'ERR_TOO_MANY_MEMBERS';
    for (const other of [...conf.voters, ...conf.learners]) {
      if (other !== id && this.urls.get(other) === change.peerUrl) return 'ERR_PEER_URL_EXISTS';
    }
    return null;
  }

  /** Members by id; `clientURL` only once the member has published one (never null or ''). */
  list(): Member[] {
    return [...this.urls]
      .sort((a, b) => a[0] - b[0])
      .map(([id, peerURL]) => {
        const clientURL = this.clientUrls.get(id);
        return clientURL === undefined ? { id, peerURL } : { id, peerURL, clientURL };
      });
  }

  /** The members with their role in `conf` (the core's configuration: who votes). */
  withRoles(conf: ConfState): MemberWithRole[] {
    return this.list().map((m) => ({ ...m, role: conf.learners.includes(m.id) ? 'learner' : 'voter' }));
  }

  /**
   * Peer URLs, removed ids, then client URLs (the last section since snapshot data version 2).
   * Refuses (throws) what read() would refuse: a table no node could load back.
   */
  write(w: BinaryWriter): void {
    if (this.urls.size > membersMax) throw new RangeError(`member table: ${this.urls.size} members, above ${membersMax}`);
    if (this.removed.size > removedMembersMax) throw new RangeError(`member table: ${this.removed.size} removed ids, above ${removedMembersMax}`);
    if (this.clientUrls.size > membersMax) throw new RangeError(`member table: ${this.clientUrls.size} client URLs, above ${membersMax}`);
    writeUrls(w, this.urls, peerUrlBytesMax);
    w.varint(this.removed.size);
    for (const id of this.removed) w.varint(id);
    writeUrls(w, this.clientUrls, clientUrlBytesMax);
  }

  /** `withClientUrls`: false for tables written before members published client URLs (none then). */
  static read(r: BinaryReader, withClientUrls: boolean): Membership {
    const m = new Membership();
    readUrls(r, m.urls, peerUrlBytesMax, 'members');
    const k = r.count(removedMembersMax, 1, 'removed members');
    for (let i = 0; i < k; i++) m.removed.add(r.varint('removed id'));
    if (withClientUrls) readUrls(r, m.clientUrls, clientUrlBytesMax, 'client urls');
    return m;
  }
}

function writeUrls(w: BinaryWriter, urls: Map<number, string>, bytesMax: number): void {
  w.varint(urls.size);
  for (const [id, url] of urls) {
    const bytes = Buffer.from(url, 'utf8');
    if (bytes.length > bytesMax) throw new RangeError(`member ${id}: URL of ${bytes.length} bytes, above ${bytesMax}`);
    w.varint(id).bytes(bytes);
  }
}

function readUrls(r: BinaryReader, into: Map<number, string>, bytesMax: number, what: string): void {
  const n = r.count(membersMax, 2, what);
  for (let i = 0; i < n; i++) {
    const id = r.varint(`${what}: member id`);
    into.set(id, Buffer.from(r.bytes(bytesMax, `${what}: url`)).toString('utf8'));
  }
}

/**
 * A learner may become a voter once it would not slow the quorum down: the leader's progress
 * for it replicates (not probing, not waiting for a snapshot), its match is within this many
 * entries of the leader's commit index, and it was heard from within an election timeout.
 * (etcd asks for a match within 90% of the leader's; an absolute window does not grow with
 * the log.)
 */
export const LEARNER_PROMOTE_LAG_ENTRIES_MAX = 100;

export interface LearnerProgress {
  /** The leader's progress for the learner, or null if it tracks none. */
  progress: { match: number; state: string } | null;
  leaderCommit: number;
  msSinceHeard: number | null;
  electionTimeoutMs: number;
}

/** Why the learner may not be promoted yet, or null if it may (decided on the leader). */
export function learnerNotReadyReason(l: LearnerProgress): string | null {
  if (l.progress === null) return 'the leader tracks no progress for it';
  if (l.msSinceHeard === null || l.msSinceHeard > l.electionTimeoutMs) return 'not heard from within an election timeout';
  if (l.progress.state !== 'replicate') return `its progress is in state ${l.progress.state}`;
  const lag = l.leaderCommit - l.progress.match;
  if (lag > LEARNER_PROMOTE_LAG_ENTRIES_MAX) return `${lag} entries behind the leader's commit index (at most ${LEARNER_PROMOTE_LAG_ENTRIES_MAX})`;
  return null;
}

/**
 * A ConfChange's context, opaque to the core: the id of the request that proposed it (so the
 * proposer answers exactly that request when the entry is applied, never one that merely
 * asked for the same change), what the change means (`kind`: an AddNode may add a voter or
 * promote a learner) and the peer URL. Bootstrap entries carry the plain URL; contexts
 * written before `kind` existed (version 1) and plain ones take the kind their type implies.
 */
export interface ConfChangeContext {
  requestId: Uint8Array | null;
  kind: MemberChangeKind;
  peerUrl: string;
}

const CONTEXT_VERSION_WITHOUT_KIND = 1;
const CONTEXT_VERSION = 2;
export const CONF_CHANGE_REQUEST_ID_BYTES = 12;
const utf8Decoder = new TextDecoder();
const KIND_CODES: readonly MemberChangeKind[] = ['addVoter', 'addLearner', 'promote', 'remove'];

/** The kind a change of core type `type` meant before contexts said so. */
export function impliedKind(type: ConfChangeType): MemberChangeKind {
  if (type === ConfChangeType.RemoveNode) return 'remove';
  return type === ConfChangeType.AddLearnerNode ? 'addLearner' : 'addVoter';
}

export function encodeConfChangeContext(requestId: Uint8Array, kind: MemberChangeKind, peerUrl: string): Uint8Array {
  if (requestId.length !== CONF_CHANGE_REQUEST_ID_BYTES) throw new RangeError('conf change request id must be 12 bytes');
  const url = Buffer.from(peerUrl, 'utf8');
  const out = new Uint8Array(2 + CONF_CHANGE_REQUEST_ID_BYTES + url.length);
  out[0] = CONTEXT_VERSION;
  out[1] = KIND_CODES.indexOf(kind);
  out.set(requestId, 2);
  out.set(url, 2 + CONF_CHANGE_REQUEST_ID_BYTES);
  return out;
}

/**
 * Never throws: a context in none of the forms is read as a URL (and then refused as a bad
 * one). A plain URL starts with a letter, never with a version byte.
 */
export function decodeConfChangeContext(context: Uint8Array, type: ConfChangeType): ConfChangeContext {
  const kind = KIND_CODES[context[1] ?? -1];
  if (context[0] === CONTEXT_VERSION && kind !== undefined && context.length >= 2 + CONF_CHANGE_REQUEST_ID_BYTES) {
    return {
      requestId: context.subarray(2, 2 + CONF_CHANGE_REQUEST_ID_BYTES),
      kind,
      peerUrl: utf8Decoder.decode(context.subarray(2 + CONF_CHANGE_REQUEST_ID_BYTES)),
    };
  }
  if (context[0] === CONTEXT_VERSION_WITHOUT_KIND && context.length >= 1 + CONF_CHANGE_REQUEST_ID_BYTES) {
    return {
      requestId: context.subarray(1, 1 + CONF_CHANGE_REQUEST_ID_BYTES),
      kind: impliedKind(type),
      peerUrl: utf8Decoder.decode(context.subarray(1 + CONF_CHANGE_REQUEST_ID_BYTES)),
    };
  }
  return { requestId: null, kind: impliedKind(type), peerUrl: utf8Decoder.decode(context) };
}
