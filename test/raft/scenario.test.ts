// Runs every scenario in test/raft/testdata/*.txt and compares each block's output with the
// expected output written under its command (see testdata/README.md for the format).
//
// To regenerate the expected outputs after an intended change of behaviour, or to fill in a new
// scenario's, run with REWRITE=1 and review the diff before committing:
//   REWRITE=1 node --import tsx --test test/raft/scenario.test.ts

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Block, formatScenario, parseScenario } from './scenario/datadriven.ts';
import { Scenario } from './scenario/interpreter.ts';

const testdata = join(import.meta.dirname, 'testdata');
const rewrite = process.env.REWRITE === '1';

/** A unified-style diff of two short line lists (expected `-`, actual `+`), by longest common subsequence. */
function lineDiff(expected: string[], actual: string[]): string[] {
  const common: number[][] = Array.from({ length: expected.length + 1 }, () => Array<number>(actual.length + 1).fill(0));
  for (let i = expected.length - 1; i >= 0; i--) {
    for (let j = actual.length - 1; j >= 0; j--) {
      common[i]![j] = expected[i] === actual[j] ? common[i + 1]![j + 1]! + 1 : Math.max(common[i + 1]![j]!, common[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < expected.length || j < actual.length) {
    if (i < expected.length && j < actual.length && expected[i] === actual[j]) {
      out.push(`  ${expected[i++]}`);
      j++;
    } else if (j < actual.length && (i === expected.length || common[i]![j + 1]! >= common[i + 1]![j]!)) {
      out.push(`+ ${actual[j++]}`);
    } else {
      out.push(`- ${expected[i++]}`);
    }
  }
  return out;
}

function mismatch(file: string, block: Block, actual: string[]): string {
  const where = `${file}:${block.command.line}: ${block.command.text}`;
  if (block.expected === null) return `${where}\n  no expected output (run with REWRITE=1 to fill it in)`;
  return `${where}\n${lineDiff(block.expected, actual).join('\n')}`;
}

for (const file of readdirSync(testdata).filter((name) => name.endsWith('.txt')).sort()) {
  test(`scenario ${file}`, () => {
    const path = join(testdata, file);
    const scenario = parseScenario(readFileSync(path, 'utf8'));
    const env = new Scenario();
    const outputs = scenario.blocks.map((block) => env.run(block.command));
    if (rewrite) {
      writeFileSync(path, formatScenario(scenario, outputs));
      return;
    }
    // The first block that differs: later ones usually differ because of it.
    const index = scenario.blocks.findIndex((block, i) => block.expected === null || block.expected.join('\n') !== outputs[i]!.join('\n'));
    if (index >= 0) assert.fail(mismatch(file, scenario.blocks[index]!, outputs[index]!));
  });
}
