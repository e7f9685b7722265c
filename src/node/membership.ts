// Who is in the cluster as the service sees it: each member's peer URL, and the ids that
// were removed (their requests get 410). Raft's ConfState says who votes; this says where
// they live. It is rebuilt by applying ConfChanges and carried inside every snapshot, so
// it survives restarts and compaction.

import type { BinaryReader, BinaryWriter } from '../raftpb/index.ts';
import type { ErrorCode } from '../errors.ts';
import type { MemberChange } from '../queues.ts';
import { confStateIdsMax, membersMax, peerUrlBytesMax, removedMembersMax } from '../limits.ts';
import { ConfChangeType, type ConfState } from '../raft/index.ts';
import type { Member } from './status.ts';

export class Membership {
  readonly urls = new Map<number, string>();
  readonly removed = new Set<number>();

  add(id: number, url: string): void {
    this.urls.set(id, url);
    this.removed.delete(id);
  }

  remove(id: number): void {
    this.urls.delete(id);
    this.removed.add(id);
  }

  /**
   * Why `change` may not be made to a cluster whose core configuration is `conf`, or null if
   * it may. Decided from replicated state only (the core's ConfState, the removed ids and the
   * URLs of current members), so every node applying the same entry decides the same.
   */
  refusal(change: MemberChange, conf: ConfState): ErrorCode | null {
    const id = change.nodeId;
    const isMember = conf.voters.includes(id) || conf.learners.includes(id);
    if (change.type === ConfChangeType.RemoveNode) {
      if (!isMember) return 'ERR_MEMBER_NOT_FOUND';
      if (conf.voters.length === 1 && conf.voters[0] === id) return 'ERR_LAST_VOTER';
      // Every removed id is kept (ids are single-use) and written into each snapshot.
      if (this.removed.size >= removedMembersMax) return 'ERR_TOO_MANY_MEMBERS';
      return null;
    }
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

  list(): Member[] {
    return [...this.urls].sort((a, b) => a[0] - b[0]).map(([id, peerURL]) => ({ id, peerURL }));
  }

  /** Refuses (throws) what read() would refuse: a table no node could load back. */
  write(w: BinaryWriter): void {
    if (this.urls.size > membersMax) throw new RangeError(`member table: ${this.urls.size} members, above ${membersMax}`);
    if (this.removed.size > removedMembersMax) throw new RangeError(`member table: ${this.removed.size} removed ids, above ${removedMembersMax}`);
    w.varint(this.urls.size);
    for (const [id, url] of this.urls) {
      const bytes = Buffer.from(url, 'utf8');
      if (bytes.length > peerUrlBytesMax) throw new RangeError(`member ${id}: URL of ${bytes.length} bytes, above ${peerUrlBytesMax}`);
      w.varint(id).bytes(bytes);
    }
    w.varint(this.removed.size);
    for (const id of this.removed) w.varint(id);
  }

  static read(r: BinaryReader): Membership {
    const m = new Membership();
    const n = r.count(membersMax, 2, 'members');
    for (let i = 0; i < n; i++) {
      const id = r.varint('member id');
      m.urls.set(id, Buffer.from(r.bytes(peerUrlBytesMax, 'member url')).toString('utf8'));
    }
    const k = r.count(removedMembersMax, 1, 'removed members');
    for (let i = 0; i < k; i++) m.removed.add(r.varint('removed id'));
    return m;
  }
}

/**
 * A ConfChange's context, opaque to the core: the id of the request that proposed it (so the
 * proposer answers exactly that request when the entry is applied, never one that merely
 * asked for the same change) and the peer URL. Bootstrap entries carry the plain URL.
 */
export interface ConfChangeContext {
  requestId: Uint8Array | null;
  peerUrl: string;
}

const CONTEXT_VERSION = 1;
export const CONF_CHANGE_REQUEST_ID_BYTES = 12;
const utf8Decoder = new TextDecoder();

export function encodeConfChangeContext(requestId: Uint8Array, peerUrl: string): Uint8Array {
  if (requestId.length !== CONF_CHANGE_REQUEST_ID_BYTES) throw new RangeError('conf change request id must be 12 bytes');
  const url = Buffer.from(peerUrl, 'utf8');
  const out = new Uint8Array(1 + CONF_CHANGE_REQUEST_ID_BYTES + url.length);
  out[0] = CONTEXT_VERSION;
  out.set(requestId, 1);
  out.set(url, 1 + CONF_CHANGE_REQUEST_ID_BYTES);
  return out;
}

/** Never throws: a context in neither form is read as a URL (and then refused as a bad one). */
export function decodeConfChangeContext(context: Uint8Array): ConfChangeContext {
  // A plain URL starts with a letter, never with the version byte.
  if (context.length < 1 + CONF_CHANGE_REQUEST_ID_BYTES || context[0] !== CONTEXT_VERSION) {
    return { requestId: null, peerUrl: utf8Decoder.decode(context) };
  }
  return {
    requestId: context.subarray(1, 1 + CONF_CHANGE_REQUEST_ID_BYTES),
    peerUrl: utf8Decoder.decode(context.subarray(1 + CONF_CHANGE_REQUEST_ID_BYTES)),
  };
}
