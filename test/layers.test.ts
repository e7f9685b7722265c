// The layer table of DESIGN.md, checked over every import in src/: each arrow must point
// down the table, and only where the table says. The node layer also reads no clock, timer,
// randomness, file system or socket but through the world it is given (src/node/world.ts).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve('src');
/** `import ... from 'x'`, `export ... from 'x'`, `import 'x'` and `import('x')`. */
const IMPORT = /^\s*(?:import|export)\b[^'";]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]/gm;

/** The layer of a file: its folder under src/, or its own name for the top-level modules. */
function layerOf(file: string): string {
  const rel = relative(SRC, file);
  const parts = rel.split('/');
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.ts$/, '');
}

// Top-level leaves every layer below the top may name: bounds, the world's seams, the queues
// and their payloads, the service error table, the flags' types, the logger.
const LEAVES = ['limits', 'world', 'chan', 'queues', 'errors', 'config', 'logger'];
const TOP = ['httpapi', 'lean-http', 'kvstore', 'main', 'metrics', 'node-store', 'tls-files'];

/** What src/client/raftctl.ts alone may import besides the library: the argument parser, tables, its TLS files. */
const RAFTCTL_PACKAGES = ['commander', 'cli-table3', 'node:fs'];

/** Which layers (or top-level modules) each layer may import, and which packages. */
const TABLE: Record<string, { layers: string[]; packages: string[] }> = {
  raftpb: { layers: ['raftpb', 'limits'], packages: [] },
  raft: { layers: ['raft', 'raftpb'], packages: [] },
  storage: { layers: ['storage', 'raftpb', 'limits'], packages: ['node:fs/promises', 'node:path', 'node:zlib'] },
  // node:http(s): the server fastify runs on, made here so message batches are served before fastify's routing.
  transport: { layers: ['transport', 'raftpb', 'limits', 'world', 'http-front'], packages: ['undici', 'fastify', 'node:stream', 'node:http', 'node:https'] },
  // node:crypto for hashing only (the cluster id); its randomness comes from the world.
  node: { layers: ['node', 'raft', 'raftpb', 'storage', 'transport', ...LEAVES], packages: ['node:crypto'] },
  // The client speaks HTTP: only the service's error table and bounds from below; raftctl adds its CLI packages.
  client: { layers: ['client', 'errors', 'limits'], packages: ['undici', ...RAFTCTL_PACKAGES] },
  // The dashboard: the node's status and events types, the transport's TLS type; serves files.
  ui: { layers: ['ui', 'node', 'transport', ...LEAVES], packages: ['undici', 'fastify', 'node:fs/promises', 'node:module', 'node:path'] },
  // The kvstore's exactly-once table: replicated state encoded with raftpb's binary codec.
  'proposal-dedup': { layers: ['raftpb', 'limits'], packages: [] },
  // The kvstore's snapshot at one index, written a chunk at a time: the node's reader type, raftpb's varint.
  'kv-state-capture': { layers: ['node', 'raftpb'], packages: [] },
  // A TCP proxy in front of the client ports: sockets and bounds, nothing of the node.
  gateway: { layers: ['gateway', 'limits', 'config', 'logger'], packages: ['node:net', 'node:stream'] },
  // The hand-written HTTP/1.1 reader in front of node's server: sockets only, nothing of the service.
  'http-front': { layers: [], packages: ['node:http', 'node:https', 'node:net'] },
  // The metrics' per-request histogram: prom-client's registry takes it, nothing of the service.
  histogram: { layers: [], packages: ['prom-client'] },
  limits: { layers: [], packages: [] },
  world: { layers: [], packages: ['node:crypto'] },
  chan: { layers: [], packages: [] },
  queues: { layers: ['raftpb'], packages: [] },
  errors: { layers: [], packages: [] },
  config: { layers: ['limits'], packages: ['node:path', 'node:util'] },
  logger: { layers: ['config', 'raft', 'raftpb'], packages: ['pino', 'pino-pretty'] },
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

test('every import in src/ follows the layer table', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 40, 'the walk must reach the whole tree');
  const wrong: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    if (TOP.includes(from)) continue; // the top may use every layer below it
    const rule = TABLE[from];
    assert.ok(rule !== undefined, `${relative(SRC, file)}: layer ${from} is not in the table`);
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) {
        if (!rule.packages.includes(spec)) wrong.push(`${relative(SRC, file)} imports package ${spec}`);
        continue;
      }
      const to = layerOf(resolve(dirname(file), spec));
      if (to !== from && !rule.layers.includes(to)) wrong.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the client library (all of src/client/ but raftctl.ts) imports none of raftctl\'s packages', () => {
  const files = sourceFiles(join(SRC, 'client')).filter((f) => !f.endsWith('/raftctl.ts'));
  assert.ok(files.length >= 5, 'the walk must reach the client library');
  for (const file of files) {
    for (const spec of importsOf(file)) assert.ok(!RAFTCTL_PACKAGES.includes(spec), `${relative(SRC, file)} imports ${spec}`);
  }
});

test('no layer below the top imports the HTTP API, the kvstore or main', () => {
  for (const file of sourceFiles(SRC)) {
    if (TOP.includes(layerOf(file))) continue;
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const to = layerOf(resolve(dirname(file), spec));
      assert.ok(!TOP.includes(to), `${relative(SRC, file)} imports ${spec}`);
    }
  }
});

test('the node layer reads the clock, timers, randomness, fs and sockets only through its world', () => {
  const ambient = /(?<![.\w])(setTimeout|setInterval|setImmediate|Date\.now|new Date|Math\.random|performance\.now|randomInt|randomBytes|randomUUID)\b/;
  for (const file of sourceFiles(join(SRC, 'node'))) {
    const code = readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    const bad = ambient.exec(code);
    assert.equal(bad, null, `${relative(SRC, file)} uses ${bad?.[0]}`);
  }
});
