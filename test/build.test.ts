// scripts/build.ts: when dist/ counts as built from the sources, and what the build puts in it.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DIGEST_FILE, DIST_DIR, DIST_MAIN, ensureBuilt, isBuilt, REPO_ROOT, sourceDigest } from '../scripts/build.ts';

/** A tree shaped as the repository is, as far as the digest reads it. */
function fakeRepo(): string {
  const root = mkdtempSync(join(tmpdir(), 'build-digest-'));
  mkdirSync(join(root, 'scripts'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.ts']) writeFileSync(join(root, f), '{}');
  mkdirSync(join(root, 'src', 'node'), { recursive: true });
  writeFileSync(join(root, 'src', 'main.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'src', 'node', 'x.ts'), 'export const x = 2;\n');
  return root;
}

test('dist/ counts as built only from the sources exactly as they are', (t) => {
  const root = fakeRepo();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.equal(isBuilt(root), false, 'no dist/ at all');
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'dist', DIGEST_FILE), sourceDigest(root));
  assert.equal(isBuilt(root), true);

  const changes: [string, () => void, () => void][] = [
    ['a source edited', () => writeFileSync(join(root, 'src', 'node', 'x.ts'), 'export const x = 3;\n'), () => writeFileSync(join(root, 'src', 'node', 'x.ts'), 'export const x = 2;\n')],
    ['a source added', () => writeFileSync(join(root, 'src', 'y.ts'), ''), () => rmSync(join(root, 'src', 'y.ts'))],
    ['a source renamed', () => renameSync(join(root, 'src', 'main.ts'), join(root, 'src', 'main2.ts')), () => renameSync(join(root, 'src', 'main2.ts'), join(root, 'src', 'main.ts'))],
    ['the build config edited', () => writeFileSync(join(root, 'tsconfig.build.json'), '{"x":1}'), () => writeFileSync(join(root, 'tsconfig.build.json'), '{}')],
    ['package.json edited', () => writeFileSync(join(root, 'package.json'), '{"version":"2"}'), () => writeFileSync(join(root, 'package.json'), '{}')],
    ['the build script edited', () => writeFileSync(join(root, 'scripts', 'build.ts'), '//'), () => writeFileSync(join(root, 'scripts', 'build.ts'), '{}')],
  ];
  for (const [what, change, undo] of changes) {
    change();
    assert.equal(isBuilt(root), false, what);
    undo();
    assert.equal(isBuilt(root), true, `${what}, undone`);
  }
});

test('the build holds the entry point, the dashboard assets and the digest of the sources', () => {
  ensureBuilt();
  assert.equal(isBuilt(), true);
  assert.ok(existsSync(DIST_MAIN));
  for (const f of ['index.html', 'app.js', 'style.css']) {
    assert.equal(readFileSync(join(DIST_DIR, 'ui', 'assets', f), 'utf8'), readFileSync(join(REPO_ROOT, 'src', 'ui', 'assets', f), 'utf8'), f);
  }
  // Imports of .ts files are rewritten to the .js beside them.
  assert.match(readFileSync(DIST_MAIN, 'utf8'), /from "\.\/config\.js"/);
  assert.doesNotMatch(readFileSync(DIST_MAIN, 'utf8'), /from ["'][^"']*\.ts["']/);
});
