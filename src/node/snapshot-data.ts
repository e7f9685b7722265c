// What a snapshot's data holds, as the service lays it out: a version byte, the member
// table (peer URLs, removed ids and, since version 2, client URLs: node/membership.ts), then
// the kv state (kvstore.ts). Version 1 data is still read, as a table without client URLs.

import { BinaryReader, BinaryWriter } from '../raftpb/index.ts';
import { Membership } from './membership.ts';

const SNAPSHOT_DATA_VERSION_WITHOUT_CLIENT_URLS = 1;
const SNAPSHOT_DATA_VERSION = 2;

export function encodeSnapshotData(m: Membership, kv: Uint8Array): Uint8Array {
  const w = new BinaryWriter(1024 + kv.length);
  w.u8(SNAPSHOT_DATA_VERSION);
  m.write(w);
  w.bytes(kv);
  return w.view();
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
