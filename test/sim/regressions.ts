// Seeds that once found a real bug, in the service or in the simulator. seeds.test.ts runs
// them all; add one whenever a failure is fixed, with what it found. (The simulator of
// issue 6 and 7 drove a copy of the node; its seeds found the bugs listed in docs/sim.md and
// do not replay on whole nodes, so the list starts again here.)

import type { BugName, ClusterShape, FaultKind } from './scenario.ts';

export interface RegressionSeed {
  seed: number;
  nodes: ClusterShape;
  found: string;
  /** Run with this planted bug: the seed may fail, but never with `wrongly`. */
  bug?: BugName;
  wrongly?: string;
  /** Run with only these fault kinds (npm run sim -- --faults ...). */
  faults?: FaultKind[];
}

export const REGRESSION_SEEDS: RegressionSeed[] = [
  // ready-plan.ts: a committed entry that the same Ready rewrote was judged "on disk" by its
  // index alone and applied before the write that put it there (Apply after persist; 8 of
  // seeds 1..60 without the fix).
  { seed: 2, nodes: '5', found: 'node: applied a committed entry its own Ready was rewriting, before persisting it' },
  { seed: 7, nodes: '3', found: 'node: applied a committed entry its own Ready was rewriting, before persisting it' },
  { seed: 17, nodes: '7', found: 'node: applied a committed entry its own Ready was rewriting, before persisting it' },
  // storage/fs.ts mkdirDurably: Wal.create made --data-dir with mkdir -p and synced only the
  // WAL directory's parent; a power cut lost the data dir's name and the whole WAL with it, and
  // the node bootstrapped anew (Quorum Durability, Log Matching; 10 of seeds 1..60 without it).
  { seed: 4, nodes: '2+1', found: 'storage: a power cut lost a new data dir (mkdir -p not synced), and the WAL in it' },
  { seed: 13, nodes: '5', found: 'storage: a power cut lost a new data dir (mkdir -p not synced), and the WAL in it' },
  { seed: 24, nodes: '4+1', found: 'storage: a power cut lost a new data dir (mkdir -p not synced), and the WAL in it' },
];
