// Overload on a real 3-node cluster: floods of small PUTs over more sockets than the leader
// serves at once, more uploads near the body limit than it buffers at once, and pipelined
// linearizable GETs, all at the leader at once. The leader sheds with 503
// (ERR_OVERLOADED) instead of queueing without bound, keeps its leadership and term, keeps
// answering /-/health, and loses nothing it acknowledged.

import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { ErrorTable } from '../../src/errors.ts';
import { clientBodyBytesInFlightMax, clientRequestsInFlightMax, requestBytesDefault } from '../../src/limits.ts';
import { clusterTest, http, until, within, type TestCluster, type TestNode } from './cluster.ts';

/** What one load saw: answers by status and by error body, how many were shed as overloaded, and requests that got no answer. */
interface Tally {
  byStatus: Map<number, number>;
  bodies: Map<string, number>;
  overloaded: number;
  failures: string[];
}

const newTally = (): Tally => ({ byStatus: new Map(), bodies: new Map(), overloaded: 0, failures: [] });

function count(t: Tally, status: number, body: string): void {
  t.byStatus.set(status, (t.byStatus.get(status) ?? 0) + 1);
  const error = `${status} ${body.trim()}`;
  if (status >= 300) t.bodies.set(error, (t.bodies.get(error) ?? 0) + 1);
  if (status === 503 && body.startsWith(ErrorTable.ERR_OVERLOADED.message)) t.overloaded++;
}

function show(t: Tally): string {
  const statuses = [...t.byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ');
  return `${[...t.bodies].map(([b, n]) => `[${b}]×${n}`).join(' ')} ${statuses || 'none'} (503 overloaded ×${t.overloaded}, errors ×${t.failures.length}${t.failures.length > 0 ? ': ' + t.failures[0] : ''})`;
}

/** Run `total` requests through `pool`, at most `concurrency` at once; `make(i)` says what the i-th is, `onAnswer` hears how it went. */
async function flood(
  pool: Pool,
  total: number,
  concurrency: number,
  make: (i: number) => { method: 'PUT' | 'GET'; path: string; body?: Buffer | string },
  onAnswer: (i: number, status: number, body: string) => void,
  tally: Tally,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const req = make(i);
      try {
        const res = await pool.request({ ...req, headersTimeout: 60_000, bodyTimeout: 60_000 });
        const body = await res.body.text();
        count(tally, res.statusCode, body);
        onAnswer(i, res.statusCode, body);
      } catch (e) {
        tally.failures.push(`${req.method} ${req.path}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** leader_changes_seen_total of a node. */
async function leaderChanges(node: TestNode): Promise<number> {
  const r = await http('GET', `${node.url}/-/metrics`, undefined, 30_000);
  const line = r.body.split('\n').find((l) => l.startsWith('raftexample_leader_changes_seen_total '));
  assert.ok(line !== undefined, 'no raftexample_leader_changes_seen_total in /-/metrics');
  return Number(line.split(' ')[1]);
}

/** Poll every node's /-/status and the leader's /-/health until stopped: every leader/term seen, and every health answer. */
function watch(c: TestCluster, leader: TestNode) {
  const seen = new Set<string>();
  const health: { status: number | 'no answer'; ms: number }[] = [];
  let stopped = false;
  const statusLoop = async (n: TestNode) => {
    while (!stopped) {
      const s = await c.status(n).catch(() => undefined);
      if (s !== undefined) seen.add(`node ${n.id}: leader ${s.leader} term ${s.term}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const healthLoop = async () => {
    while (!stopped) {
      const started = Date.now();
      const r = await within(http('GET', `${leader.url}/-/health`, undefined, 60_000).catch(() => null), 20_000, null);
      health.push({ status: r?.status ?? 'no answer', ms: Date.now() - started });
      await new Promise((res) => setTimeout(res, 200));
    }
  };
  // For the report, not asserted: each node's worst event-loop lag and resident memory.
  const worst = new Map<number, { lagS: number; rssMiB: number }>();
  const sampleLoop = async () => {
    while (!stopped) {
      for (const n of c.nodes) {
        const r = await http('GET', `${n.url}/-/metrics`, undefined, 30_000).catch(() => null);
        const value = (name: string) => Number(r?.body.split('\n').find((l) => l.startsWith(name + ' '))?.split(' ')[1] ?? 0);
        const w = worst.get(n.id) ?? { lagS: 0, rssMiB: 0 };
        worst.set(n.id, { lagS: Math.max(w.lagS, value('nodejs_eventloop_lag_max_seconds')), rssMiB: Math.max(w.rssMiB, value('process_resident_memory_bytes') / 2 ** 20) });
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  };
  const loops = [...c.nodes.map(statusLoop), healthLoop(), sampleLoop()];
  return {
    worst,
    seen,
    health,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Every acknowledged write, read back from `node` (serializable: its own state), that is missing or differs. */
async function lostOn(node: TestNode, acked: Map<string, Buffer>): Promise<string[]> {
  const pool = new Pool(node.url, { connections: 32 });
  const lost: string[] = [];
  try {
    const keys = [...acked.keys()];
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        const res = await pool.request({ method: 'GET', path: key + '?serializable', headersTimeout: 60_000, bodyTimeout: 60_000 });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode !== 200 || !body.equals(acked.get(key)!)) lost.push(`${key}: ${res.statusCode}, ${body.length} bytes`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
  } finally {
    await pool.close();
  }
  return lost;
}

/** More sockets than the client listener serves at once (clientRequestsInFlightMax), so some are shed at the door. */
const SMALL_SOCKETS = clientRequestsInFlightMax + 512;
/** Uploads near the body limit: together more than the client listener buffers at once (clientBodyBytesInFlightMax). */
const LARGE_SOCKETS = Math.ceil((1.25 * clientBodyBytesInFlightMax) / requestBytesDefault);

clusterTest('under a flood of writes and reads the leader sheds with 503, keeps its leadership and loses nothing acknowledged', 3, { tickMs: 100, extraArgs: ['--election-ticks', '30', '--snapshot-count', '100000'] }, async (c) => {
  const leaderId = await c.waitLeader();
  const leader = c.node(leaderId);
  const before = await c.status(leader);
  assert.ok(before !== undefined);
  const changesBefore = await Promise.all(c.nodes.map(leaderChanges));
  await c.putAcked(leader, '/warm', 'up');

  const watcher = watch(c, leader);
  const acked = new Map<string, Buffer>();
  const small = newTally();
  const large = newTally();
  const reads = newTally();
  const smallPool = new Pool(leader.url, { connections: SMALL_SOCKETS });
  const largePool = new Pool(leader.url, { connections: LARGE_SOCKETS });
  const readPool = new Pool(leader.url, { connections: 128, pipelining: 32 });
  try {
    const bigValue = (i: number) => Buffer.alloc(requestBytesDefault - 16, i % 251);
    const started = Date.now();
    await Promise.all([
      flood(smallPool, 4000, SMALL_SOCKETS, (i) => ({ method: 'PUT', path: `/s${i}`, body: `v${i}` }), (i, status) => {
        if (status === 204) acked.set(`/s${i}`, Buffer.from(`v${i}`));
      }, small),
      flood(largePool, LARGE_SOCKETS, LARGE_SOCKETS, (i) => ({ method: 'PUT', path: `/l${i}`, body: bigValue(i) }), (i, status) => {
        if (status === 204) acked.set(`/l${i}`, bigValue(i));
      }, large),
      flood(readPool, 4000, 128 * 32, () => ({ method: 'GET', path: '/warm' }), (_i, status, body) => {
        if (status === 200 && body !== 'up') reads.failures.push(`GET /warm read ${JSON.stringify(body)}`);
      }, reads),
    ]);
    console.log(`flood took ${Date.now() - started} ms`);
  } finally {
    await watcher.stop();
    await Promise.all([smallPool.close(), largePool.close(), readPool.close()]);
  }
  const report = `small PUTs: ${show(small)}\nlarge PUTs: ${show(large)}\nGETs: ${show(reads)}\nseen: ${[...watcher.seen].join('; ')}`;
  console.log(report);
  console.log([...watcher.worst].map(([id, w]) => `node ${id}: worst event-loop lag ${w.lagS.toFixed(2)} s, RSS ${Math.round(w.rssMiB)} MiB`).join('\n'));
  const slowest = Math.max(...watcher.health.map((h) => h.ms));
  console.log(`health: ${watcher.health.length} checks, statuses ${[...new Set(watcher.health.map((h) => h.status))].join(',')}, slowest ${slowest} ms`);

  // It shed: some requests were refused at once as overloaded, and every answer was an answer.
  // No 503 says "no leader": there was one all along, just busy.
  assert.ok(small.overloaded + large.overloaded + reads.overloaded > 0, `nothing was shed as overloaded:\n${report}`);
  for (const t of [small, large, reads]) {
    assert.deepEqual(t.failures, [], report);
    assert.deepEqual([...t.bodies.keys()].filter((b) => b.startsWith(`503 ${ErrorTable.ERR_NO_LEADER.message}`)), [], report);
  }
  // Leadership held: one leader and one term, on every node, before, during and after.
  assert.deepEqual([...watcher.seen].sort(), c.nodes.map((n) => `node ${n.id}: leader ${leaderId} term ${before.term}`), report);
  assert.deepEqual(await Promise.all(c.nodes.map(leaderChanges)), changesBefore, 'leader_changes_seen_total moved');
  // It kept serving: every health check got an answer, and it serves a write and a read now.
  assert.ok(watcher.health.length > 0 && watcher.health.every((h) => h.status !== 'no answer'), JSON.stringify(watcher.health));
  assert.equal((await c.put(leader, '/after', 'flood')).status, 204);
  assert.equal((await c.get(leader, '/after')).body, 'flood');
  // Nothing acknowledged was lost, on any node.
  const commit = (await c.status(leader))!.commit;
  for (const n of c.nodes) {
    await until(`node ${n.id} applied ${commit}`, async () => (((await c.status(n))?.applied ?? 0) >= commit ? true : undefined));
    assert.deepEqual(await lostOn(n, acked), [], `node ${n.id} lost acknowledged writes`);
  }
});
