// Who is in the cluster as the service sees it: each member's peer URL, and the ids that
// were removed (their requests get 410). Raft's ConfState says who votes; this says where
// they live. It is rebuilt by applying ConfChanges and carried inside every snapshot, so
// it survives restarts and compaction.

import type { BinaryReader, BinaryWriter } from './codec/index.ts';
import type { Member } from './httpapi.ts';
import { membersMax, peerUrlBytesMax, removedMembersMax } from './limits.ts';

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
