// What a snapshot's data holds, as the service lays it out: a version byte, the member
// table (peer URLs, removed ids and, since version 2, client URLs: node/membership.ts), then
// the kv state (kvstore.ts). Version 1 data is still read, as a table without client URLs.

import { BinaryReader, BinaryWriter, type Snapshot } from '../raftpb/index.ts';
import { Membership } from './membership.ts';

const SNAPSHOT_DATA_VERSION_WITHOUT_CLIENT_URLS = 1;
const SNAPSHOT_DATA_VERSION = 2;

/**
 * The kv state at one applied index, written out a part at a time while the kvstore goes on
 * applying later entries (so a large state never holds the event loop for its whole length).
 */
export interface KvStateReader {
  /** Bytes the whole state takes (known at the start). */
  readonly bytes: number;
  /** Set once the kvstore replaced its state (a snapshot from the leader): the rest cannot be written. */
  readonly cancelled: boolean;
  /**
   * Write the next pieces (head, pairs, tail; a piece is never split) into `into` from
   * `offset` while they fit before `end`. Returns the offset after what it wrote: `offset`
   * itself when the next piece is longer than the room (nextPieceBytes says how long).
   */
  writeNext(into: Uint8Array, offset: number, end: number): number;
  /** Bytes of the next piece writeNext would write; 0 once everything is written. */
  readonly nextPieceBytes: number;
  /** Done with it (finished or not): the kvstore stops keeping the old values it needs. */
  close(): void;
}

/**
 * The data of a snapshot the storage holds only as metadata: its file is durable, and it is
 * read back from there to be sent (RaftNode.snapshotData). Told apart by identity.
 */
export const SNAPSHOT_DATA_ON_DISK: Uint8Array = new Uint8Array(0);

/** `snap` with its data left in its (durable) file. */
export function dataOnDisk(snap: Snapshot): Snapshot {
  return { metadata: snap.metadata, data: SNAPSHOT_DATA_ON_DISK };
}

export function encodeSnapshotData(m: Membership, kv: Uint8Array): Uint8Array {
  const w = new BinaryWriter(1024 + kv.length);
  w.raw(encodeSnapshotDataMembers(m));
  w.bytes(kv);
  return w.view();
}

/** The data's first bytes: the version and the member table (the kv state follows, framed by kvStateLength). */
export function encodeSnapshotDataMembers(m: Membership): Uint8Array {
  const w = new BinaryWriter(1024);
  w.u8(SNAPSHOT_DATA_VERSION);
  m.write(w);
  return w.copy();
}

/** The bytes between the member table and a kv state of `kvBytes`: its length. */
export function kvStateLength(kvBytes: number): Uint8Array {
  return new BinaryWriter(8).varint(kvBytes).copy();
}

export function decodeSnapshotData(data: Uint8Array): { membership: Membership; kv: Uint8Array } {
  const r = new BinaryReader(data);
  const v = r.u8('snapshot data version');
  if (v !== SNAPSHOT_DATA_VERSION && v !== SNAPSHOT_DATA_VERSION_WITHOUT_CLIENT_URLS) r.fail(`unsupported snapshot data version ${v}`);
  const membership = Membership.read(r, v === SNAPSHOT_DATA_VERSION);
  const kv = r.bytes(Number.MAX_SAFE_INTEGER, 'kv state');
  r.expectEnd('snapshot data');
  return { membership, kv };
}
