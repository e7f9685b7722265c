// A node's own snapshot is written off the Ready loop: while its file write is held, writes
// still commit and the WAL gets no marker; the marker comes once the file is durable. A
// stop() during the write waits for it, and closes the WAL only after.

import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { test } from 'node:test';
import { nodeFs, Wal, type StorageFs } from '../../src/storage/index.ts';
import { worldWith } from '../../src/node/world.ts';
import { until } from '../e2e/cluster.ts';
import { startInProcess } from './in-process.ts';
import { startOneNode } from './one-node.ts';

const SNAPSHOT_COUNT = 5;

/** A file system that logs every write, sync, close and rename, and holds the first write of a snapshot file until released. */
function heldSnapshotFs() {
  const ops: string[] = [];
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const writeReached = new Promise<void>((r) => (reached = r));
  let holding = true;
  const fs: StorageFs = {
    ...nodeFs,
    rename: async (from, to) => {
      ops.push(`rename ${basename(to)}`);
      return nodeFs.rename(from, to);
    },
    open: async (path, flags) => {
      const fh = await nodeFs.open(path, flags);
      const name = basename(path);
      return {
        read: (b, o, l, p) => fh.read(b, o, l, p),
        truncate: (n) => fh.truncate(n),
        stat: () => fh.stat(),
        async write(b, o, l, p) {
          ops.push(`write ${name}`);
          if (holding && name.endsWith('.snap.tmp')) {
            holding = false;
            reached();
            await released;
          }
          return fh.write(b, o, l, p);
        },
        datasync: () => (ops.push(`datasync ${name}`), fh.datasync()),
        sync: () => (ops.push(`sync ${name}`), fh.sync()),
        close: () => (ops.push(`close ${name}`), fh.close()),
      };
    },
  };
  return { fs, ops, release, writeReached };
}

test('writes commit while a snapshot file is being written; its marker and compaction come once it is durable', async (t) => {
  const held = heldSnapshotFs();
  t.after(held.release); // before the node's own stop: a failing test must not leave a write held
  const { node, kv, config, stop } = await startOneNode(t, { fs: held.fs, args: ['--snapshot-count', String(SNAPSHOT_COUNT)] });
  for (let i = 0; i < SNAPSHOT_COUNT; i++) await kv.put(`/before/${i}`, Buffer.from('x'));
  await held.writeReached;
  const appliedWhenHeld = kv.applied;
  // The file's write is held: the Ready loop is not, so these commit and are applied.
  for (let i = 0; i < 20; i++) await kv.put(`/during/${i}`, Buffer.from('y'));
  assert.ok(kv.applied >= appliedWhenHeld + 20);
  assert.equal((await node.status()).snapshotIndex, 0, 'no snapshot is in use before its file is durable');
  held.release();
  const status = await until('the snapshot is taken', async () => {
    const s = await node.status();
    return s.snapshotIndex > 0 ? s : undefined;
  });
  assert.ok(status.snapshotIndex >= SNAPSHOT_COUNT);
  // The first snapshot is of the state when it started, not of the writes made while it was written.
  const renamed = held.ops.findIndex((op) => /^rename .*\.snap$/.test(op));
  const firstIndex = Number.parseInt(/-([0-9a-f]{16})\.snap$/.exec(held.ops[renamed]!)![1]!, 16);
  assert.ok(firstIndex <= appliedWhenHeld, `first snapshot at ${firstIndex}, ${appliedWhenHeld} applied when its write began`);
  const synced = held.ops.indexOf(`sync ${held.ops[renamed]!.slice('rename '.length)}.tmp`);
  assert.ok(synced >= 0 && synced < renamed, 'synced, then renamed');
  await stop();
  const markers = await Wal.snapshotMarkers(config.walDir);
  assert.ok(markers.some((m) => m.index === firstIndex), `the WAL vouches for the snapshot at ${firstIndex}`);
});

test('stop() during a snapshot waits for the file write in flight and closes the WAL only after it; the node restarts', async (t) => {
  const held = heldSnapshotFs();
  t.after(held.release); // before the node's own stop: a failing test must not leave a write held
  const { kv, config, stop } = await startOneNode(t, { fs: held.fs, args: ['--snapshot-count', String(SNAPSHOT_COUNT)] });
  for (let i = 0; i < SNAPSHOT_COUNT; i++) await kv.put(`/k/${i}`, Buffer.from(String(i)));
  await held.writeReached;
  const walClosed = () => held.ops.findLastIndex((op) => /^close .*\.wal(\.tmp)?$/.test(op));
  const walClosedBefore = walClosed(); // a segment closed earlier (the start-up's), if any
  let stopped = false;
  const stopping = stop().then(() => (stopped = true));
  // A stop that did not wait would close the WAL within moments; this one cannot while the write is held.
  const closedWhileHeld = await until('the WAL to close', async () => (walClosed() > walClosedBefore ? true : undefined), 1500).catch(() => false);
  assert.equal(closedWhileHeld, false, 'the WAL stays open while the snapshot write is in flight');
  assert.equal(stopped, false, 'stop() waits for the snapshot write in flight');
  held.release();
  await stopping;
  const lastSnapshotOp = held.ops.findLastIndex((op) => op.includes('.snap'));
  assert.ok(walClosed() > lastSnapshotOp, `the WAL closed (op ${walClosed()}) after the snapshot's last operation (op ${lastSnapshotOp}): ${held.ops.slice(-12).join(', ')}`);
  // The file has no marker: a restart ignores it and replays the WAL.
  const again = await startInProcess(config, { world: worldWith({ fs: nodeFs }) });
  try {
    await until('the restarted node has applied its log', async () => (again.kv.applied >= SNAPSHOT_COUNT ? true : undefined));
    for (let i = 0; i < SNAPSHOT_COUNT; i++) assert.equal(Buffer.from((await again.kv.get(`/k/${i}`, true))!).toString(), String(i));
  } finally {
    await again.stop();
  }
});
