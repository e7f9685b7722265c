// A leader cut off with writes only it has, a snapshot from the new leader installed over
// that divergent log, then SIGKILL: the old leader must restart from its WAL and serve
// every acknowledged write (it used to refuse, calling the superseded entries corruption).

import assert from 'node:assert/strict';
import { clusterTest, http, until, type TestCluster, type TestNode } from './cluster.ts';

const DIVERGENT_PUTS = 80;
const FOLLOWER_PUTS = 45; // past two snapshots of 20: the snapshot index lands inside the divergent range

/** Send PUTs that can never commit (the followers are stopped); resolves once every one is answered or gave up. */
async function putsThatCannotCommit(leader: TestNode): Promise<number> {
  const answers = await Promise.all(
    Array.from({ length: DIVERGENT_PUTS }, (_, i) => http('PUT', `${leader.url}/divergent${i}`, `lost-${i}`, 15_000).then((r) => r.status, () => 0)),
  );
  return answers.filter((s) => s === 204).length;
}

/** Fails as soon as the node exits, instead of waiting out a timeout. */
function exitFails(node: TestNode): Promise<never> {
  return node.exit.then((code) => {
    throw new Error(`node ${node.id} exited with ${code}`);
  });
}

async function snapshotIndexes(c: TestCluster, node: TestNode, msg: string): Promise<number[]> {
  return c.logRecords(node, msg).map((r) => r.index as number);
}

clusterTest(
  'an old leader that installed a snapshot over its divergent log restarts after SIGKILL and serves every acknowledged write',
  3,
  { extraArgs: ['--snapshot-count', '20', '--snapshot-catchup-entries', '0', '--election-ticks', '40'] },
  async (c) => {
    const acked = new Map<string, string>();
    const leaderId = await c.waitLeader();
    const leader = c.node(leaderId);
    const followers = c.nodes.filter((n) => n.id !== leaderId);
    for (let i = 0; i < 5; i++) {
      await c.putAcked(leader, `/base${i}`, `base-${i}`);
      acked.set(`/base${i}`, `base-${i}`);
    }
    const commitBefore = (await c.status(leader))!.commit;

    // The old leader appends writes nobody else gets, at its term. (The followers are
    // killed rather than stopped: a stopped process's sockets still take the leader's
    // appends into their buffers and deliver them once it resumes.)
    for (const f of followers) await c.kill(f);
    assert.equal(await putsThatCannotCommit(leader), 0, 'nothing commits without a quorum');
    leader.proc!.kill('SIGSTOP');

    // The others elect a new leader and snapshot and compact past the old leader's log.
    for (const f of followers) c.restart(f);
    const newLeader = c.node(await c.waitLeader(30_000, followers));
    assert.notEqual(newLeader.id, leaderId);
    for (let i = 0; i < FOLLOWER_PUTS; i++) {
      await c.putAcked(newLeader, `/after${i}`, `after-${i}`);
      acked.set(`/after${i}`, `after-${i}`);
    }
    const taken = await until('the new leader snapshots', async () => {
      const idx = await snapshotIndexes(c, newLeader, 'snapshot taken');
      return idx.length >= 2 ? idx : undefined;
    });
    const newest = Math.max(...taken);
    assert.ok(newest > commitBefore && newest <= commitBefore + DIVERGENT_PUTS, `snapshot ${newest} inside the divergent range after ${commitBefore}`);

    // The old leader comes back, gets the snapshot, and is killed right after installing it.
    leader.proc!.kill('SIGCONT');
    const installed = await until('the old leader installs the snapshot', async () => {
      const idx = await snapshotIndexes(c, leader, 'applied snapshot from leader');
      return idx.length > 0 ? idx[0] : undefined;
    });
    assert.ok(installed > commitBefore && installed <= commitBefore + DIVERGENT_PUTS, `installed ${installed} inside the divergent range`);
    await c.kill(leader);

    // It restarts from the same data dir and serves linearizable reads of every acknowledged write.
    leader.log = '';
    c.restart(leader);
    await Promise.race([
      exitFails(leader),
      (async () => {
        await c.waitLeader(30_000, c.nodes);
        for (const [key, value] of acked) {
          const r = await c.getAnswer(leader, key);
          assert.equal(r.status, 200, `${key} after the restart`);
          assert.equal(r.body, value);
        }
        const r = await c.getAnswer(leader, '/divergent0');
        assert.equal(r.status, 404, 'a write that never committed is not there');
      })(),
    ]);
    await c.putAcked(leader, '/after-restart', 'yes');
    assert.equal((await c.getAnswer(newLeader, '/after-restart')).body, 'yes');
  },
);
