// A member added after the last snapshot, when every node has compacted its log: the leader
// can only catch it up by snapshot, and that snapshot must already include the new member
// (its core refuses a snapshot whose membership leaves it out). Regression for simulator
// seeds 141/195.

import assert from 'node:assert/strict';
import { clusterTest, http, until, type TestNode } from './cluster.ts';

const SNAPSHOT_COUNT = 20;

/** Index of the last snapshot `node` logged taking (any kind), with what it compacted to; null if none yet. */
function lastSnapshot(node: TestNode): { index: number; compactedTo: number } | null {
  let last: { index: number; compactedTo: number } | null = null;
  for (const line of node.log.split('\n')) {
    if (!line.includes('"snapshot ')) continue;
    try {
      const o = JSON.parse(line) as { msg?: string; index?: number; compactedTo?: number };
      if (typeof o.msg === 'string' && o.msg.startsWith('snapshot ') && typeof o.index === 'number') {
        last = { index: o.index, compactedTo: o.compactedTo ?? 0 };
      }
    } catch {
      // a partial line at the end of the buffer
    }
  }
  return last;
}

clusterTest('a member added after every node compacted its log catches up from a snapshot that includes it', 3, {
    extraArgs: ['--snapshot-count', String(SNAPSHOT_COUNT), '--snapshot-catchup-entries', '5'],
  }, async (c) => {
  const [n1, n2, n3] = [c.node(1), c.node(2), c.node(3)];
  const keys = new Map<string, string>();
  const write = async (i: number): Promise<void> => {
    await c.putAcked(c.nodes[i % 3]!, `/k${i}`, `v${i}`);
    keys.set(`/k${i}`, `v${i}`);
  };
  let i = 0;
  for (; i < 70; i++) await write(i);

  // Every node has snapshotted and compacted past the start of the log.
  await until('every node to have snapshotted and compacted', async () =>
    [n1, n2, n3].every((n) => (lastSnapshot(n)?.compactedTo ?? 0) > 1) ? true : undefined,
  );
  // The AddNode entry must not itself reach --snapshot-count (that would hide the bug): keep
  // writing until the leader is well short of its next scheduled snapshot.
  for (;;) {
    const leader = c.node(await c.waitLeader());
    const st = await c.status(leader);
    const snap = lastSnapshot(leader);
    if (st !== undefined && snap !== null && st.applied - snap.index <= SNAPSHOT_COUNT - 5) break;
    await write(i++);
  }

  // Add node 4 (and write nothing more), then start it with --join.
  const n4 = await c.allocate();
  assert.equal((await http('POST', `${n1.url}/4`, n4.peerUrl)).status, 204);
  c.spawn(n4, c.clusterArg(4), true);

  await until('node 4 to serve every key', async () => {
    for (const [k, v] of keys) {
      const r = await c.get(n4, k, '?serializable');
      if (r.status !== 200 || r.body !== v) return undefined;
    }
    return true;
  }, 30_000);
  assert.match(n4.log, /applied snapshot from leader/);

  // With node 4 up, a write still commits and reaches it, even when node 4 is needed for
  // the quorum (3 of 4): stop one of the original followers first.
  const leaderId = await c.waitLeader();
  await c.kill(c.nodes.find((n) => n.id !== leaderId && n.id !== 4)!);
  await c.putAcked(c.node(leaderId), '/after-4', 'four');
  await until('node 4 to see the write after it joined', async () => {
    const r = await c.get(n4, '/after-4', '?serializable');
    return r.status === 200 && r.body === 'four' ? true : undefined;
  });
});
