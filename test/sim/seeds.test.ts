// A fixed set of seeds, against the real core: every fault kind on its own with 3 and 5
// nodes, a few mixed runs, and the regression list. Also: a seed replays identically.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { KNOWN_CORE_FAILURES, REGRESSION_SEEDS } from './regressions.ts';
import { FAULT_KINDS, type FaultKind } from './scenario.ts';
import { runSimulation, type SimOptions, type SimResult } from './simulator.ts';

function expectOk(r: SimResult): void {
  assert.ok(r.ok, `seed ${r.seed} (${r.nodes} nodes) failed at tick ${r.tick}: ${r.invariant}: ${r.detail}\nreproduce: npm run sim -- --seed ${r.seed} --nodes ${r.nodes} --verbose`);
}

function traceHash(opts: SimOptions): { hash: string; result: SimResult } {
  const h = createHash('sha256');
  const result = runSimulation({ ...opts, log: (line) => h.update(line) });
  return { hash: h.digest('hex'), result };
}

test('one seed replays exactly', () => {
  const a = traceHash({ seed: 1234, nodes: 5 });
  const b = traceHash({ seed: 1234, nodes: 5 });
  assert.equal(a.hash, b.hash);
  assert.deepEqual(a.result, b.result);
});

for (const nodes of [3, 5] as const) {
  for (const [i, kind] of FAULT_KINDS.entries()) {
    if (kind === 'heal') continue;
    const faults: FaultKind[] = [kind];
    test(`${nodes} nodes, ${kind} only`, () => {
      for (const seed of [100 + i, 200 + i]) expectOk(runSimulation({ seed, nodes, onlyFaults: faults }));
    });
  }
  test(`${nodes} nodes, mixed faults`, () => {
    for (let seed = 1; seed <= 12; seed++) expectOk(runSimulation({ seed: 5000 + seed, nodes }));
  });
}

// One voter with learners, and two voters with a learner (demotions and self-removals).
for (const nodes of ['1+2', '2+1'] as const) {
  test(`${nodes} (voters+learners), mixed faults`, () => {
    for (let seed = 1; seed <= 12; seed++) expectOk(runSimulation({ seed: 5000 + seed, nodes }));
  });
  test(`${nodes} (voters+learners), membership and crashes`, () => {
    const faults: FaultKind[] = ['membership', 'crash', 'crashLeader', 'links'];
    for (let seed = 1; seed <= 8; seed++) expectOk(runSimulation({ seed: 6000 + seed, nodes, onlyFaults: faults }));
  });
}

test('regression seeds', () => {
  for (const r of REGRESSION_SEEDS) {
    if (r.bug !== undefined) {
      const res = runSimulation({ seed: r.seed, nodes: r.nodes, bug: r.bug, onlyFaults: r.faults });
      assert.notEqual(res.invariant, r.wrongly, `seed ${r.seed} with ${r.bug}: ${res.detail}`);
    }
    expectOk(runSimulation({ seed: r.seed, nodes: r.nodes, onlyFaults: r.faults }));
  }
});

for (const k of KNOWN_CORE_FAILURES) {
  test(`known core failure: seed ${k.seed} (${k.nodes} nodes), ${k.invariant}`, { todo: k.found }, () => {
    expectOk(runSimulation({ seed: k.seed, nodes: k.nodes, onlyFaults: k.faults }));
  });
}
