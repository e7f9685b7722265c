// `npm run build`: compiles src/ with tsc into dist/ (the same tree, .js for .ts), which is
// what a node runs: `node dist/main.js`. `npm install`, `npm start` and `npm test` build, and
// the tests and the benchmark rebuild when dist/ is stale (ensureBuilt, below).
//
// Why not run the sources through tsx, as in development: tsx's esbuild keeps every function's
// name by wrapping each named closure in a call to Object.defineProperty when it is created.
// The request paths create a few per request; on the benchmark's machine that was 9% of a
// node's CPU while serving reads (perf, stacks under Builtin_ObjectDefineProperty), and the
// built node used 16% less CPU per read and 8% less per write. tsc emits the code as written:
// names are the language's own, nothing is wrapped.
//
// dist/ has the same depth as src/, so a module's paths relative to itself hold in both
// (httpapi.ts reads ../package.json); the dashboard's assets are copied beside it. The digest of
// everything the build reads is kept in dist/, and ensureBuilt() rebuilds when it differs, so a
// test or a benchmark never starts a node from stale output.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
export const DIST_DIR = join(REPO_ROOT, 'dist');
/** The node's entry point, built. */
export const DIST_MAIN = join(DIST_DIR, 'main.js');

const SRC_DIR = join(REPO_ROOT, 'src');
/** What the build reads besides src/, and the build itself. */
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.ts'];
/** The digest of the sources a dist/ was built from, kept inside it. */
export const DIGEST_FILE = '.source-digest';
const ASSETS = join('ui', 'assets');

/** A digest of every file under `root`'s src/ and the configs the build reads: paths and contents. */
export function sourceDigest(root = REPO_ROOT): string {
  const hash = createHash('sha256');
  const files = [...CONFIGS.map((c) => join(root, c)), ...filesUnder(join(root, 'src'))];
  for (const f of files) {
    hash.update(relative(root, f)).update('\0');
    hash.update(readFileSync(f)).update('\0');
  }
  return hash.digest('hex');
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Whether `root`'s dist/ was built from its sources as they are now. */
export function isBuilt(root = REPO_ROOT): boolean {
  try {
    return readFileSync(join(root, 'dist', DIGEST_FILE), 'utf8') === sourceDigest(root);
  } catch {
    return false;
  }
}

/**
 * Builds dist/ from scratch: tsc into a directory of its own, the assets copied, the digest
 * written, then put in place of the old dist/ in two renames (a node already running keeps
 * the modules it loaded). Throws with tsc's output when it fails.
 */
export function build(): void {
  const digest = sourceDigest();
  const partial = join(REPO_ROOT, `dist.partial-${process.pid}`);
  const old = join(REPO_ROOT, `dist.old-${process.pid}`);
  rmSync(partial, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', partial], { cwd: REPO_ROOT, stdio: 'pipe' });
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    const out = e as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`build: tsc failed\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`);
  }
  cpSync(join(SRC_DIR, ASSETS), join(partial, ASSETS), { recursive: true });
  writeFileSync(join(partial, DIGEST_FILE), digest);
  if (existsSync(DIST_DIR)) renameSync(DIST_DIR, old);
  renameSync(partial, DIST_DIR);
  rmSync(old, { recursive: true, force: true });
}

let checked = false;

/** Builds dist/ unless it is already built from the sources as they are (checked once per process). */
export function ensureBuilt(): void {
  if (checked) return;
  if (!isBuilt()) build();
  checked = true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = performance.now();
  try {
    build();
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
  console.log(`built ${relative(process.cwd(), DIST_MAIN) || DIST_MAIN} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
