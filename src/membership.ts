// Who is in the cluster as the service sees it: each member's peer URL, and the ids that
// were removed (their requests get 410). Raft's ConfState says who votes; this says where
// they live. It is rebuilt by applying ConfChanges and carried inside every snapshot, so
// it survives restarts and compaction.

import type { BinaryReader, BinaryWriter } from './codec/index.ts';
import type { Member } from './httpapi.ts';

const MAX_MEMBERS = 4096;
const MAX_URL_BYTES = 1024;

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

  list(): Member[] {
    return [...this.urls].sort((a, b) => a[0] - b[0]).map(([id, peerURL]) => ({ id, peerURL }));
  }

  write(w: BinaryWriter): void {
    w.varint(this.urls.size);
    for (const [id, url] of this.urls) w.varint(id).bytes(Buffer.from(url, 'utf8'));
    w.varint(this.removed.size);
    for (const id of this.removed) w.varint(id);
  }

  static read(r: BinaryReader): Membership {
    const m = new Membership();
    const n = r.count(MAX_MEMBERS, 2, 'members');
    for (let i = 0; i < n; i++) {
      const id = r.varint('member id');
      m.urls.set(id, Buffer.from(r.bytes(MAX_URL_BYTES, 'member url')).toString('utf8'));
    }
    const k = r.count(Number.MAX_SAFE_INTEGER, 1, 'removed members');
    for (let i = 0; i < k; i++) m.removed.add(r.varint('removed id'));
    return m;
  }
}
