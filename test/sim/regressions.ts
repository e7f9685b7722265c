// Seeds that once found a real bug (in the core or in the simulator). seeds.test.ts runs
// them all; add one whenever a failure is fixed, with what it found.

export interface RegressionSeed {
  seed: number;
  nodes: 3 | 5;
  found: string;
}

export const REGRESSION_SEEDS: RegressionSeed[] = [];
