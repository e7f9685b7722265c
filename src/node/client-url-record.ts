// "Member <id> serves clients at <URL>": the record a node proposes through Raft once it is
// ready, as etcd's server publishes its attributes. A normal entry whose first byte is
// EntryKind.ClientUrl (a PUT's is EntryKind.Put, so the kvstore never takes it for one).

import { BinaryReader, BinaryWriter } from '../raftpb/index.ts';
import { clientUrlBytesMax } from '../limits.ts';
import { EntryKind } from '../queues.ts';

export interface ClientUrlRecord {
  memberId: number;
  clientUrl: string;
}

/** Bumped if the layout after the kind byte ever changes; a reader skips versions it does not know. */
const RECORD_VERSION = 1;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** kind u8, version u8, member id varint, URL (varint length, UTF-8). */
export function encodeClientUrlRecord(record: ClientUrlRecord): Uint8Array {
  const url = Buffer.from(record.clientUrl, 'utf8');
  if (url.length === 0 || url.length > clientUrlBytesMax) throw new RangeError(`client URL of ${url.length} bytes: must be 1..${clientUrlBytesMax}`);
  return new BinaryWriter(32 + url.length).u8(EntryKind.ClientUrl).u8(RECORD_VERSION).varint(record.memberId).bytes(url).copy();
}

export function isClientUrlRecord(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === EntryKind.ClientUrl;
}

/**
 * The record in `data`, or null if it is not one this node can read (another version,
 * malformed, an empty or over-long URL, not UTF-8). Never throws: every node skips the same
 * entries, so a bad one in the log cannot stop a node.
 */
export function decodeClientUrlRecord(data: Uint8Array): ClientUrlRecord | null {
  if (!isClientUrlRecord(data)) return null;
  try {
    const r = new BinaryReader(data, 1);
    if (r.u8('client URL record version') !== RECORD_VERSION) return null;
    const memberId = r.varint('member id');
    const url = r.bytes(clientUrlBytesMax, 'client URL');
    r.expectEnd('client URL record');
    if (memberId === 0 || url.length === 0) return null;
    return { memberId, clientUrl: utf8Decoder.decode(url) };
  } catch {
    return null;
  }
}
