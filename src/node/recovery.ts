// Start-up: what the data dir holds. Restart from the newest snapshot the WAL vouches for
// plus the WAL after it, or create a new member's WAL (learning the cluster id from a peer
// when joining).

import { createHash } from 'node:crypto';
import { Membership } from './membership.ts';
import { dataOnDisk, decodeSnapshotData } from './snapshot-data.ts';
import { MemoryStorage, type Snapshot } from '../raft/index.ts';
import type { RaftNodeOptions } from './raft-node.ts';
import type { NodeWorld } from './world.ts';
import { Snapshotter, Wal } from '../storage/index.ts';
import { fetchClusterInfo } from '../transport/index.ts';

/** What the disk gave back at start-up. */
export interface Recovered {
  wal: Wal;
  clusterId: string;
  storage: MemoryStorage;
  snapshot: Snapshot | null;
  membership: Membership;
  kvState: Uint8Array | null;
  bootstrap: boolean;
}

export async function recover(o: RaftNodeOptions, world: NodeWorld, snapshotter: Snapshotter): Promise<Recovered> {
  const { config: cfg, log } = o;
  const fs = world.fs;
  const markers = await Wal.snapshotMarkers(cfg.walDir, { logger: log, fs });
  const snapshot = await snapshotter.loadNewestAvailable(markers);
  const at = snapshot === null ? { index: 0, term: 0 } : { index: snapshot.metadata.index, term: snapshot.metadata.term };
  const { wal, meta, hardState, packedEntries: entries, repaired } = await Wal.open(cfg.walDir, at, {
    maxWals: cfg.maxWals,
    logger: log,
    fs,
    segmentBytes: o.walSegmentBytes,
    keepSupersededEntries: o.plantedBugs?.replayKeepsSuperseded === true,
  });
  if (meta.nodeId !== cfg.id) {
    await wal.close();
    throw new Error(`the WAL in ${cfg.walDir} belongs to member ${meta.nodeId}, not ${cfg.id}`);
  }
  const storage = new MemoryStorage();
  let membership = new Membership();
  let kvState: Uint8Array | null = null;
  if (snapshot !== null) {
    storage.applySnapshot(dataOnDisk(snapshot));
    ({ membership, kv: kvState } = decodeSnapshotData(snapshot.data));
  } else {
    // No snapshot yet: the log replays every membership change from the bootstrap on; the
    // flag's URLs only let us talk before that replay is applied.
    cfg.peerUrls.forEach((url, i) => membership.urls.set(i + 1, url));
  }
  storage.setHardState(hardState);
  storage.appendPacked(entries); // packed: a replayed log of a million entries is not a million objects
  // A crash between creating the WAL and persisting the bootstrap entries leaves it empty: such a
  // new-cluster member bootstraps again. Only if the WAL was made for this very cluster list: a
  // member that joined (its cluster id came from a peer) must never invent a log of its own.
  const bootstrap =
    !cfg.join &&
    snapshot === null &&
    entries.length === 0 &&
    hardState.term === 0 &&
    meta.clusterId === deriveClusterId(cfg.clusterToken, cfg.peerUrls);
  log.info(
    { snapshotIndex: at.index, entries: entries.length, term: hardState.term, commit: hardState.commit, repaired, clusterId: meta.clusterId },
    'replayed snapshot and WAL',
  );
  return { wal, clusterId: meta.clusterId, storage, snapshot, membership, kvState, bootstrap };
}

export async function createNew(o: RaftNodeOptions, world: NodeWorld): Promise<Recovered> {
  const { config: cfg, log } = o;
  const membership = new Membership();
  cfg.peerUrls.forEach((url, i) => membership.urls.set(i + 1, url));
  let clusterId: string;
  if (cfg.join) {
    const others = cfg.peerUrls.filter((_, i) => i + 1 !== cfg.id);
    const info = await fetchClusterInfo(world.network, others, cfg.requestTimeoutMs);
    clusterId = info.clusterId;
    for (const m of info.members) if (m.id !== cfg.id) membership.urls.set(m.id, m.peerURL);
    log.info({ clusterId, members: info.members.length }, 'joining existing cluster');
  } else {
    clusterId = deriveClusterId(cfg.clusterToken, cfg.peerUrls);
  }
  const wal = await Wal.create(cfg.walDir, { nodeId: cfg.id, clusterId }, { maxWals: cfg.maxWals, logger: log, fs: world.fs, segmentBytes: o.walSegmentBytes });
  return { wal, clusterId, storage: new MemoryStorage(), snapshot: null, membership, kvState: null, bootstrap: !cfg.join };
}

/** A new cluster's id: from the token and the initial URLs, so two clusters never mix by accident. */
export function deriveClusterId(token: string, peerUrls: readonly string[]): string {
  return createHash('sha256').update(token).update('\n').update(peerUrls.join(',')).digest('hex').slice(0, 16);
}
