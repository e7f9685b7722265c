// Durable storage: the write-ahead log (raftexample-<id>/) and snapshot files
// (raftexample-<id>-snap/). Layout and the torn-tail rule: docs/storage.md.
//
// Start-up (the order matters):
//
//   if (!(await Wal.exists(walDir))) {
//     wal = await Wal.create(walDir, { nodeId, clusterId });          // new member
//   } else {
//     const markers = await Wal.snapshotMarkers(walDir);               // what the WAL vouches for
//     const snap = await snapshotter.loadNewestAvailable(markers);     // newest intact one, or null
//     const at = snap ? { index: snap.metadata.index, term: snap.metadata.term } : { index: 0, term: 0 };
//     ({ wal, meta, hardState, entries } = await Wal.open(walDir, at)); // entries after `at`
//   }
//
// Each Ready (persist before sending what depends on it):
//
//   if (ready.snapshot) { await snapshotter.save(snap); await wal.saveSnapshotMarker(md); }
//   await wal.save(ready.hardState, ready.entries, ready.mustSync);    // one write, <= one fdatasync
//
// A marker whose snapshot the log does not hold (a snapshot installed from a leader)
// replaces the log on replay, as the core's restore does; a local snapshot's marker does
// not (its entry is on disk before it).
//
// After taking a local snapshot at index i (its file written by snapshotter.create as the
// state is encoded, or by snapshotter.save): wal.saveSnapshotMarker,
// then wal.releaseTo(i) so old segments can be purged (maxWals of them are kept), then
// snapshotter.retain(wal.newestVouchedMarker()): never before the marker is durable, or
// the only snapshot a restart could use may be gone.
//
// Failures: every error is a StorageError with a stable `code` (see errors.ts) and, when
// it concerns a file, `file` and `offset`. Open refuses damaged data rather than serve
// from it. A failed write or fsync makes the Wal reject every later call with
// ERR_WAL_FAILED: the process must stop (an fsync is never retried). close() always
// releases the directory lock.

export { StorageError, StorageErrorCode, isStorageError } from './errors.ts';
export { Wal, DEFAULT_MAX_WALS, DEFAULT_SEGMENT_BYTES, type WalOpenResult, type WalOptions } from './wal.ts';
export { Snapshotter, SnapshotChecksum, SnapshotFileWriter, snapshotFileName, type SnapshotterOptions } from './snapshotter.ts';
export { CLUSTER_ID_MAX_BYTES, segmentName, type SnapshotMarker, type WalMeta } from './segment.ts';
export { nodeFs, type StorageFileHandle, type StorageFs, type StorageLogger } from './fs.ts';
