// The simulator must catch each planted bug in the core within a small seed budget: proof
// that its fault mix and checks can see the mistakes they claim to guard against.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlantedBugs } from '../../src/raft/index.ts';
import { runSimulation } from './simulator.ts';

/** Seeds tried per bug; each must be caught within this many. */
export const BUG_BUDGETS: Record<keyof PlantedBugs, { nodes: 3 | 5; budget: number }> = {
  commitOldTermByCount: { nodes: 5, budget: 40 },
  grantTwoVotesPerTerm: { nodes: 5, budget: 40 },
  readWithoutReadIndex: { nodes: 3, budget: 40 },
};

for (const [bug, { nodes, budget }] of Object.entries(BUG_BUDGETS) as [keyof PlantedBugs, { nodes: 3 | 5; budget: number }][]) {
  test(`planted bug ${bug} is caught within ${budget} seeds`, () => {
    for (let seed = 1; seed <= budget; seed++) {
      const r = runSimulation({ seed, nodes, bug });
      if (!r.ok) {
        assert.notEqual(r.invariant, 'Exception', `seed ${seed}: the core threw instead: ${r.detail}`);
        return;
      }
    }
    assert.fail(`${bug} not caught in seeds 1..${budget}`);
  });
}

test('an application that sends before its fsync completes is caught within 40 seeds', () => {
  // Not a core bug: proof that the fake disk's crash model bites (acks of lost writes).
  for (let seed = 1; seed <= 40; seed++) {
    if (!runSimulation({ seed, nodes: 3, appSendsBeforeFsync: true }).ok) return;
  }
  assert.fail('sending before fsync not caught in seeds 1..40');
});
