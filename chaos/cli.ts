// `npm run chaos -- --duration S --seed N --nodes 3|5 [--faults LIST] [--keep]`: one chaos run
// on real node processes; prints the fault schedule, op counts and checks, and exits 1 on any
// violation (2 on bad flags).

import { parseArgs } from 'node:util';
import { FAULT_GROUPS, type FaultGroup } from './nemesis.ts';
import { formatReport, runChaos } from './run.ts';

const USAGE = `usage: npm run chaos -- [--duration S] [--seed N] [--nodes 3|5] [--faults ${Object.keys(FAULT_GROUPS).join(',')}] [--clients N] [--keep]`;

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function intFlag(name: string, raw: string, lo: number, hi: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < lo || Number(raw) > hi) fail(`--${name} must be an integer in ${lo}..${hi}: got ${JSON.stringify(raw)}`);
  return Number(raw);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        duration: { type: 'string', default: '60' },
        seed: { type: 'string', default: String(Date.now() % 1_000_000) },
        nodes: { type: 'string', default: '3' },
        faults: { type: 'string', default: Object.keys(FAULT_GROUPS).join(',') },
        clients: { type: 'string', default: '6' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const nodes = intFlag('nodes', values.nodes, 3, 5);
  if (nodes !== 3 && nodes !== 5) fail('--nodes must be 3 or 5');
  const faults = values.faults === '' ? [] : values.faults.split(',');
  for (const f of faults) if (!(f in FAULT_GROUPS)) fail(`unknown fault group ${JSON.stringify(f)}`);
  const report = await runChaos({
    seed: intFlag('seed', values.seed, 0, Number.MAX_SAFE_INTEGER),
    durationMs: intFlag('duration', values.duration, 5, 3600) * 1000,
    nodes,
    faults: faults as FaultGroup[],
    clients: intFlag('clients', values.clients, 1, 64),
    keepDir: values.keep,
  });
  process.stdout.write(formatReport(report) + '\n');
  if (values.keep) process.stdout.write(`run dir kept: ${report.dir}\n`);
  return report.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`chaos: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
