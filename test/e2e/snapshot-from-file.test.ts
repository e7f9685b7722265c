// A node keeps its snapshots' data in their files, not in memory: a leader reads the file
// back to send a snapshot to a follower that fell behind its compacted log. If that file was
// damaged since, the leader says so, takes a new snapshot at once (even with nothing new
// applied), and the follower catches up from that one without anyone stepping in.

import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { snapshotFileName } from '../../src/storage/index.ts';
import { clusterTest, until } from './cluster.ts';

const SNAPSHOT_COUNT = 20;

clusterTest(
  'a leader sends a snapshot from its file; a damaged file is replaced by a new snapshot and the follower catches up',
  3,
  { extraArgs: ['--snapshot-count', String(SNAPSHOT_COUNT), '--snapshot-catchup-entries', '0'] },
  async (c) => {
    const leader = c.node(await c.waitLeader());
    const behind = c.nodes.find((n) => n.id !== leader.id)!;
    await c.kill(behind);
    const keys = new Map<string, string>();
    for (let i = 0; i < 3 * SNAPSHOT_COUNT; i++) {
      await c.putAcked(leader, `/k${i}`, `v${i}`);
      keys.set(`/k${i}`, `v${i}`);
    }
    // The last snapshot these writes bring (within SNAPSHOT_COUNT of the commit index): none comes after it.
    const commit = (await c.status(leader))!.commit;
    const taken = await until('the leader snapshots past the stopped follower', async () =>
      c.logRecords(leader, 'snapshot taken').find((r) => (r.index as number) > commit - SNAPSHOT_COUNT),
    );
    const index = taken.index as number;
    const file = join(c.dir, `raftexample-${leader.id}-snap`, snapshotFileName(taken.term as number, index));
    // Damage the file's last byte (the data's): its checksum no longer holds.
    const fh = await open(file, 'r+');
    try {
      const { size } = await fh.stat();
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      await fh.write(Buffer.from([last[0]! ^ 0xff]), 0, 1, size - 1);
      await fh.sync();
    } finally {
      await fh.close();
    }

    c.restart(behind);
    const failed = await until('the leader finds the file damaged', async () => c.logRecords(leader, 'could not read our snapshot to send it to a follower; taking a new one')[0]);
    assert.equal(failed.index, index, 'the leader read the snapshot from its file, not from memory');
    const rewritten = await until('the leader replaces it', async () => {
      const recs = [...c.logRecords(leader, 'snapshot file rewritten'), ...c.logRecords(leader, 'snapshot taken').filter((r) => (r.index as number) > index)];
      return recs[0];
    });
    assert.ok((rewritten.index as number) >= index);

    // No new write: the follower catches up from the new file, and serves every key.
    const installed = await until('the follower installs the leader snapshot', async () => c.logRecords(behind, 'applied snapshot from leader')[0], 30_000);
    assert.ok((installed.index as number) >= index);
    for (const [k, v] of keys) {
      const r = await c.getAnswer(behind, k, '?serializable');
      assert.equal(r.status, 200, `${k} on the follower`);
      assert.equal(r.body, v);
    }
  },
);
