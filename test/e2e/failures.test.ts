// Crashes: SIGKILL of every node (nothing acknowledged is lost), SIGKILL of the leader
// (writes resume through the others), a node down long enough to need a snapshot.

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterTest, TestCluster, TestNode, http, until } from './cluster.ts';

/** Write unique keys through the given nodes until stopped; returns every acknowledged key. */
function writer(c: TestCluster, nodes: () => TestNode[]) {
  const acked = new Map<string, string>();
  let stop = false;
  let i = 0;
  const done = (async () => {
    while (!stop) {
      const live = nodes().filter((n) => n.running);
      if (live.length === 0) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const n = live[i % live.length]!;
      const key = `/w${i}`;
      const value = `value-${i}`;
      i++;
      try {
        const r = await http('PUT', n.url + key, value, 3000);
        if (r.status === 204) acked.set(key, value);
      } catch {
        // connection refused or reset by a kill: not acknowledged
      }
    }
  })();
  return { acked, stop: async () => ((stop = true), await done) };
}

async function checkAll(c: TestCluster, acked: Map<string, string>): Promise<void> {
  for (const n of c.nodes.filter((x) => x.running)) {
    for (const [k, v] of acked) {
      const r = await c.getAnswer(n, k);
      assert.equal(r.status, 200, `node ${n.id} lost ${k}`);
      assert.equal(r.body, v);
    }
  }
}

clusterTest('every node SIGKILLed at random moments under load and restarted: no acknowledged write is lost', 3, {}, async (c) => {
  const w = writer(c, () => c.nodes);
  await until('some writes', async () => (w.acked.size >= 20 ? true : undefined));
  // One at a time, then all at once.
  for (const n of c.nodes) {
    await c.kill(n);
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    c.restart(n);
    await c.waitLeader();
    const before = w.acked.size;
    await until('writes to resume', async () => (w.acked.size > before + 5 ? true : undefined));
  }
  await Promise.all(c.nodes.map((n) => c.kill(n)));
  await w.stop();
  assert.ok(w.acked.size > 30, `only ${w.acked.size} writes acknowledged`);
  for (const n of c.nodes) c.restart(n);
  await c.waitLeader();
  await checkAll(c, w.acked);
});

clusterTest('SIGKILL of the leader: writes through the others succeed within a few election timeouts', 3, {}, async (c) => {
  const leader = c.node(await c.waitLeader());
  await c.putAcked(leader, '/before', '1');
  await c.kill(leader);
  const others = c.nodes.filter((n) => n !== leader);
  const killedAt = Date.now();
  await until('a write through a survivor', async () => {
    for (const n of others) {
      const r = await http('PUT', `${n.url}/after`, '2', 2000).catch(() => null);
      if (r?.status === 204) return true;
    }
    return undefined;
  }, 10_000);
  // election timeout here is 10 ticks x 50 ms; allow generous slack for a loaded machine
  assert.ok(Date.now() - killedAt < 10_000);
  for (const n of others) {
    assert.equal((await c.getAnswer(n, '/before')).body, '1');
    assert.equal((await c.getAnswer(n, '/after')).body, '2');
  }
  c.restart(leader);
  await until('the old leader to catch up', async () => {
    const r = await c.get(leader, '/after', '?serializable').catch(() => null);
    return r?.body === '2' ? true : undefined;
  });
});

clusterTest('a node down while many entries are written catches up by snapshot when restarted', 3, { extraArgs: ['--snapshot-count', '20', '--snapshot-catchup-entries', '5'] }, async (c) => {
  const leaderId = await c.waitLeader();
  const down = c.nodes.find((n) => n.id !== leaderId)!;
  const up = c.nodes.filter((n) => n !== down);
  await c.kill(down);
  for (let i = 0; i < 120; i++) {
    await c.putAcked(up[i % 2]!, `/k${i}`, `v${i}`);
  }
  c.restart(down);
  await until('the restarted node to have the last write', async () => {
    const r = await c.get(down, '/k119', '?serializable').catch(() => null);
    return r?.status === 200 ? true : undefined;
  });
  for (let i = 0; i < 120; i += 7) assert.equal((await c.get(down, `/k${i}`, '?serializable')).body, `v${i}`);
  assert.match(down.log, /applied snapshot from leader/);
  const snaps = await readdir(join(c.dir, `raftexample-${down.id}-snap`));
  assert.ok(snaps.some((f) => f.endsWith('.snap')), `snapshot files: ${snaps}`);
  // and it survives its own restart from that snapshot
  await c.kill(down);
  c.restart(down);
  await until('restart from snapshot', async () => {
    const r = await c.get(down, '/k50', '?serializable').catch(() => null);
    return r?.body === 'v50' ? true : undefined;
  });
});

clusterTest('SIGTERM of the leader: it hands over leadership, exits 0, and writes go on', 3, {}, async (c) => {
  const leader = c.node(await c.waitLeader());
  await c.putAcked(leader, '/before', '1');
  const code = await c.kill(leader, 'SIGTERM');
  assert.equal(code, 0);
  assert.match(leader.log, /handing over leadership/);
  const others = c.nodes.filter((n) => n !== leader);
  const newLeader = c.node(await c.waitLeader());
  assert.notEqual(newLeader, leader);
  await c.putAcked(others[0]!, '/after', '2');
  for (const n of others) assert.equal((await c.getAnswer(n, '/before')).body, '1');
  c.restart(leader);
  await until('the old leader to rejoin', async () => {
    const r = await c.get(leader, '/after', '?serializable').catch(() => null);
    return r?.body === '2' ? true : undefined;
  });
});

clusterTest('a node left alone stays up while it asks its unreachable peers whether it is still a member, and serves once they are back', 3, {}, async (c) => {
  const [n1, n2, n3] = c.nodes as [TestNode, TestNode, TestNode];
  await c.putAcked(n1, '/before', 'v');
  await c.kill(n2);
  await c.kill(n3);
  // Leaderless for more than two election timeouts (50 ms ticks, 10 per election timeout), n1
  // probes n2 and n3 every second; their ports refuse the connection. It must stay up.
  const since = Date.now();
  const outcome = await until('n1 leaderless through several probes', async () => {
    if (!n1.running) return `n1 exited with ${n1.exitCode}`;
    await http('GET', `${n1.url}/-/health`); // it answers (503: no leader)
    return Date.now() - since > 4000 ? 'still up' : undefined;
  });
  assert.equal(outcome, 'still up');
  c.restart(n2);
  c.restart(n3);
  await c.waitLeader();
  await c.putAcked(n1, '/after', 'w');
  assert.equal((await c.getAnswer(n3, '/before')).body, 'v');
});
