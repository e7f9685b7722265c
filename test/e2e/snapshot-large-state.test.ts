// A snapshot of a large state (1 million keys) is taken off the Ready loop: three real node
// processes restart from a state built directly on their disks, a client keeps writing until
// every node has taken a snapshot, and meanwhile nothing moves (same leader, same term
// everywhere, followers heard within an election timeout), every write is acknowledged, and
// each node applied later entries while its snapshot was being written.

import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { http, TestCluster, until, type TestNode } from './cluster.ts';
import { seedDisks, seededKey, seededValue, type SeededState } from './seeded-state.ts';

const KEYS = 1_000_000;
const VALUE_BYTES = 16;
/** The index and term of the snapshot every node restarts from. */
const SEEDED_INDEX = 10;
const SEEDED_TERM = 1;
const TICK_MS = 100;
const ELECTION_TICKS = 20;
const SNAPSHOT_COUNT = 600;
const WRITERS = 8;

const SEEDED: SeededState = { keys: KEYS, valueBytes: VALUE_BYTES, index: SEEDED_INDEX, term: SEEDED_TERM };

interface Status {
  leader: number;
  term: number;
  snapshotIndex: number;
  progress?: { id: number; msSinceHeard: number | null }[];
}

async function status(n: TestNode): Promise<Status> {
  const r = await http('GET', `${n.url}/-/status`, undefined, 10_000);
  assert.equal(r.status, 200, `status of node ${n.id}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as Status;
}

test('a snapshot of 1 million keys costs no election and no leader change, and writes flow while it is taken', async (t) => {
  const flags = ['--election-ticks', String(ELECTION_TICKS), '--heartbeat-ticks', '1', '--snapshot-count', String(SNAPSHOT_COUNT)];
  const c = new TestCluster({ tickMs: TICK_MS, extraArgs: flags });
  c.dir = await mkdtemp(join(tmpdir(), 'raftexample-e2e-'));
  t.after(() => c.destroy());
  for (let i = 0; i < 3; i++) await c.allocate();
  const argsOf = (n: TestNode) => ['--id', String(n.id), '--cluster', c.clusterArg(), '--port', String(n.clientPort), '--data-dir', c.dir, ...flags];
  try {
    await seedDisks(SEEDED, c.nodes.map(argsOf));
    for (const n of c.nodes) c.spawn(n, c.clusterArg(), false);
    const leaderId = await c.waitLeader(60_000);
    const leader = c.node(leaderId);
    const before = await Promise.all(c.nodes.map(status));
    const term = before[0]!.term;
    assert.ok(before.every((s) => s.snapshotIndex === SEEDED_INDEX && s.term === term && s.leader === leaderId));

    // Write until every node has taken its snapshot (and a little beyond), watching the cluster.
    let writing = true;
    let acked = 0;
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const r = await c.put(leader, `/w${w}/${i}`, `value-${i}`);
        assert.equal(r.status, 204, `PUT /w${w}/${i}: ${r.status} ${r.body}`);
        acked++;
      }
    });
    const electionMs = ELECTION_TICKS * TICK_MS;
    const seen: Status[][] = [];
    let heardMsMax = 0;
    await until('every node has taken a snapshot', async () => {
      const all = await Promise.all(c.nodes.map(status));
      seen.push(all);
      for (const p of all[leaderId - 1]!.progress ?? []) heardMsMax = Math.max(heardMsMax, p.msSinceHeard ?? Infinity);
      return all.every((s) => s.snapshotIndex > SEEDED_INDEX) ? true : undefined;
    }, 60_000);
    const ackedAtSnapshots = acked;
    await until('more writes after the snapshots', async () => (acked >= ackedAtSnapshots + 100 ? true : undefined), 30_000);
    writing = false;
    await Promise.all(writers);

    t.diagnostic(`${acked} writes acknowledged; the leader heard from its followers at most ${Math.round(heardMsMax)} ms apart`);
    for (const all of seen) {
      for (const s of all) {
        assert.equal(s.term, term, 'no election anywhere');
        assert.equal(s.leader, leaderId, 'no leader change anywhere');
      }
    }
    // Heartbeats kept going: the leader heard from each follower well within an election timeout.
    assert.ok(heardMsMax < electionMs, `the leader went ${heardMsMax} ms without hearing from a follower (election timeout ${electionMs} ms)`);
    for (const n of c.nodes) {
      const taken = c.logRecords(n, 'snapshot taken')[0];
      assert.ok(taken !== undefined, `node ${n.id} logged its snapshot`);
      // Later entries applied while the snapshot was being written: it did not hold the loop.
      assert.ok((taken.applied as number) > (taken.index as number), `node ${n.id} applied nothing while taking its snapshot at ${String(taken.index)}`);
    }
    // The state came through: a seeded key and a written one, on a follower.
    const follower = c.nodes.find((n) => n.id !== leaderId)!;
    assert.equal((await c.getAnswer(follower, seededKey(KEYS - 1))).body, seededValue(KEYS - 1, VALUE_BYTES).toString());
    assert.equal((await c.getAnswer(follower, '/w0/0')).body, 'value-0');
  } catch (e) {
    console.error(c.dumpLogs());
    throw e;
  }
});
