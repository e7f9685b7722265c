// The chaos suite in npm test: one short run with every fault type must pass, and the same
// suite must catch each of the two test-only broken promises (src/config.ts TestSwitches).
// Without root it runs on loopback without network faults, and says so (never skips).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAULT_GROUPS, type FaultGroup } from '../../chaos/nemesis.ts';
import { formatReport, runChaos, type ChaosReport } from '../../chaos/run.ts';

const lines: string[] = [];
const log = (line: string): void => void lines.push(line);

async function run(seed: number, durationMs: number, faults: FaultGroup[], nodeEnv: Record<string, string> = {}): Promise<ChaosReport> {
  lines.length = 0;
  const report = await runChaos({ seed, durationMs, nodes: 3, faults, nodeEnv, log });
  console.log([...lines, formatReport(report)].join('\n'));
  return report;
}

const failed = (report: ChaosReport, name: string): boolean => report.checks.some((c) => c.name === name && !c.ok);

test('a 30 s run with every fault type on 3 nodes: every check passes', { timeout: 240_000 }, async () => {
  const report = await run(1, 30_000, Object.keys(FAULT_GROUPS) as FaultGroup[]);
  assert.equal(report.failed, 0, formatReport(report));
  assert.ok(report.counts.put.ok > 0 && report.counts.get.ok > 0, 'the clients got answers');
  assert.ok(report.schedule.some((f) => f.what !== undefined && !f.what.startsWith('not run')), 'the nemesis ran faults');
});

test('GET skipping the read index is caught as a linearizability violation', { timeout: 180_000 }, async () => {
  const report = await run(2, 12_000, ['partition', 'kill'], { RAFTEXAMPLE_TEST_GET_SKIPS_READ_INDEX: '1' });
  assert.ok(failed(report, 'linearizable history'), formatReport(report));
});

test('a PUT acknowledged before commit is caught as lost writes', { timeout: 180_000 }, async () => {
  const report = await run(3, 12_000, ['partition', 'kill'], { RAFTEXAMPLE_TEST_ACK_PUT_BEFORE_COMMIT: '1' });
  assert.ok(failed(report, 'every acknowledged write present'), formatReport(report));
});
