// A large kv state built straight onto a node's disk, as if it had installed a snapshot from
// its leader: the snapshot file, the WAL marker vouching for it, the HardState committing it.
// Faster than writing a million keys through Raft (the large-state test and bench:snapshot).

import { parseConfig } from '../../src/config.ts';
import { Membership } from '../../src/node/membership.ts';
import { deriveClusterId } from '../../src/node/recovery.ts';
import { encodeSnapshotData } from '../../src/node/snapshot-data.ts';
import { BinaryWriter } from '../../src/raftpb/index.ts';
import { Snapshotter, Wal } from '../../src/storage/index.ts';

export interface SeededState {
  keys: number;
  valueBytes: number;
  /** The snapshot's index and term. */
  index: number;
  term: number;
}

export const seededKey = (i: number): string => `/seed/${String(i).padStart(7, '0')}`;
export const seededValue = (i: number, valueBytes: number): Buffer => Buffer.from(String(i).padStart(valueBytes, 'v'));

/** The kvstore's snapshot layout (kvstore.ts): version 2, pair count, pairs, an empty dedup table. */
function kvState(s: SeededState): Uint8Array {
  const w = new BinaryWriter(s.keys * (seededKey(0).length + s.valueBytes + 4) + 64);
  w.u8(2).varint(s.keys);
  for (let i = 0; i < s.keys; i++) w.bytes(Buffer.from(seededKey(i), 'latin1')).bytes(seededValue(i, s.valueBytes));
  w.u32(0);
  return w.view();
}

/**
 * Seed the disks of every member of a new cluster (one command line each, as the member will
 * be started) with the same state; the members are the cluster's voters.
 */
export async function seedDisks(s: SeededState, argvs: string[][]): Promise<void> {
  const configs = argvs.map((argv) => {
    const parsed = parseConfig(argv, '/');
    if (parsed.help) throw new Error('seedDisks: --help');
    return parsed.config;
  });
  const membership = new Membership();
  configs[0]!.peerUrls.forEach((url, i) => membership.add(i + 1, url));
  const data = encodeSnapshotData(membership, kvState(s));
  const metadata = { index: s.index, term: s.term, confState: { voters: configs.map((c) => c.id), learners: [] } };
  for (const cfg of configs) {
    await new Snapshotter(cfg.snapDir).save({ metadata, data });
    const wal = await Wal.create(cfg.walDir, { nodeId: cfg.id, clusterId: deriveClusterId(cfg.clusterToken, cfg.peerUrls) });
    await wal.saveSnapshotMarker({ index: s.index, term: s.term });
    await wal.save({ term: s.term, vote: 0, commit: s.index }, [], true);
    await wal.close();
  }
}
