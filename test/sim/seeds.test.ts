// Whole nodes under the simulator: a seed replays exactly; the regression seeds pass; and a
// few hundred seeds of every cluster shape and fault mix find nothing.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { REGRESSION_SEEDS } from './regressions.ts';
import { CLUSTER_SHAPES, nodesForSeed } from './scenario.ts';
import { runSimulation, type SimOptions, type SimResult } from './simulator.ts';

/** Mixed seeds in npm test (the CLI runs thousands: npm run sim -- --seeds 10000). */
const MIXED_SEEDS = Number(process.env.SIM_SEEDS ?? 80);

function expectOk(r: SimResult): void {
  assert.ok(r.ok, `seed ${r.seed} (${r.nodes}) failed at ${r.atMs} ms: ${r.invariant}: ${r.detail}\nreproduce: npm run sim -- --seed ${r.seed} --nodes ${r.nodes} --verbose`);
}

async function traceHash(opts: SimOptions): Promise<{ hash: string; lines: number; result: SimResult }> {
  const h = createHash('sha256');
  let lines = 0;
  const result = await runSimulation({
    ...opts,
    log: (line) => {
      lines++;
      h.update(line);
    },
  });
  return { hash: h.digest('hex'), lines, result };
}

test('one seed replays exactly, trace and all (the nodes\' own log lines included)', async () => {
  const a = await traceHash({ seed: 1234, nodes: '5', logLevel: 'debug' });
  const b = await traceHash({ seed: 1234, nodes: '5', logLevel: 'debug' });
  assert.ok(a.lines > 1000, `${a.lines} trace lines`);
  assert.equal(a.hash, b.hash);
  assert.deepEqual(a.result, b.result);
  // The trace does not change the run.
  assert.deepEqual((await runSimulation({ seed: 1234, nodes: '5' })).stats, a.result.stats);
});

test('regression seeds', async () => {
  for (const r of REGRESSION_SEEDS) {
    if (r.bug !== undefined) {
      const res = await runSimulation({ seed: r.seed, nodes: r.nodes, bug: r.bug, onlyFaults: r.faults });
      assert.notEqual(res.invariant, r.wrongly, `seed ${r.seed} with ${r.bug}: ${res.detail}`);
    }
    expectOk(await runSimulation({ seed: r.seed, nodes: r.nodes, onlyFaults: r.faults }));
  }
});

test(`${MIXED_SEEDS} seeds of every shape (${CLUSTER_SHAPES.join(', ')}) and the whole fault mix`, async () => {
  let crashes = 0;
  let membershipChanges = 0;
  let snapshotsInstalled = 0;
  for (let seed = 20_001; seed < 20_001 + MIXED_SEEDS; seed++) {
    const r = await runSimulation({ seed, nodes: nodesForSeed(seed, 'all') });
    expectOk(r);
    crashes += r.stats.crashes;
    membershipChanges += r.stats.membershipChanges;
    snapshotsInstalled += r.stats.snapshotsInstalled;
  }
  // The mix must keep doing what it claims to.
  assert.ok(crashes >= MIXED_SEEDS, `${crashes} crashes`);
  assert.ok(membershipChanges >= MIXED_SEEDS / 3, `${membershipChanges} membership changes`);
  assert.ok(snapshotsInstalled >= MIXED_SEEDS, `${snapshotsInstalled} snapshots installed from a leader`);
});

test('the read lease: where a lease too long serves stale reads from a leader cut off, the real one does not', async () => {
  // Seeds 5, 6 and 59 catch the planted bug leaseTooLong with this fault (planted_bugs.test.ts).
  for (const seed of [5, 6, 59]) {
    const opts = { seed, nodes: nodesForSeed(seed, 'all'), onlyFaults: ['isolateLeaderReads' as const] };
    const planted = await runSimulation({ ...opts, bug: 'leaseTooLong' });
    assert.equal(planted.invariant, 'Linearizability', `seed ${seed}: the fault no longer reaches the lease's bound`);
    expectOk(await runSimulation(opts));
  }
});
