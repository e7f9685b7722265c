// src/raft must stay pure: no I/O, no clock, no timers, no ambient randomness. Checked over the
// core's whole import graph, which reaches the leaf src/raftpb for the types and their encoding.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';

const FORBIDDEN = /\b(setTimeout|setInterval|setImmediate|queueMicrotask|Date\.now|new Date|Math\.random|performance\.now|process\.|require\()/;
const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm;

function importGraph(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const text = readFileSync(file, 'utf8');
    seen.set(file, text);
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1]!;
      assert.ok(spec.startsWith('.'), `${file} imports ${spec}: the core may import only its own pure modules`);
      visit(resolve(dirname(file), spec));
    }
  };
  visit(resolve(entry));
  return seen;
}

test('the Raft core imports no I/O module and uses no clock, timer or Math.random', () => {
  const files = importGraph('src/raft/index.ts');
  assert.ok(files.size >= 5, 'the walk must reach the core modules');
  for (const [file, text] of files) {
    const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    const bad = FORBIDDEN.exec(code);
    assert.equal(bad, null, `${file} uses ${bad?.[0]}`);
  }
});
