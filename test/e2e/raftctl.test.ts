// raftctl as users run it (node bin/raftctl.js, and npx raftctl): every command on a real
// 3-node cluster with its exit status and --json output; exit 1 when nothing serves, 2 on bad
// usage, 3 when the outcome is unknown; --help on every command; the default endpoints.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { test, type TestContext } from 'node:test';
import { DEFAULT_ENDPOINTS, runRaftctl } from '../../src/client/raftctl.ts';
import { parseProcfile } from '../../scripts/procfile.ts';
import { clusterTest, freePort, REPO_ROOT, until } from './cluster.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/raftctl.js as a process (killed if it outlives the timeout). */
function raftctl(args: string[], command = process.execPath, prefix = ['bin/raftctl.js']): Promise<Run> {
  const env = { ...process.env };
  delete env.RAFTCTL_ENDPOINTS;
  return new Promise((resolve) => {
    execFile(command, [...prefix, ...args], { cwd: REPO_ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

function json(run: Run): Record<string, unknown> {
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** Runs raftctl in this process (same code as the binary), for help and usage checks. */
async function inProcess(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runRaftctl(args, {
    stdout: { write: (s) => void (stdout += String(s)) },
    stderr: { write: (s) => void (stderr += String(s)) },
  });
  return { code, stdout, stderr };
}

clusterTest('raftctl: every command against a 3-node cluster, human and --json, exit 0 on success and 1 on a refusal', 3, {}, async (c) => {
  const endpoints = ['--endpoints', c.nodes.map((n) => n.url).join(',')];
  const run = (...args: string[]) => raftctl([...endpoints, ...args]);
  const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what}: ${r.stderr}`);

  let r = await run('put', 'my-key', 'hello');
  ok(r, 'put');
  assert.equal(r.stdout, 'OK\n');
  r = await run('--json', 'put', 'k2', 'v2');
  ok(r, 'put --json');
  assert.deepEqual(json(r), { ok: true, key: 'k2' });

  r = await run('get', 'my-key');
  ok(r, 'get');
  assert.equal(r.stdout, 'hello\n');
  r = await run('--json', 'get', '/my-key');
  assert.deepEqual(json(r), { key: '/my-key', found: true, value: 'hello' });
  r = await run('get', 'my-key', '--serializable');
  ok(r, 'get --serializable');
  r = await run('get', 'missing');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /key not found: missing/);
  r = await run('--json', 'get', 'missing');
  assert.equal(r.code, 1);
  assert.deepEqual(json(r), { key: 'missing', found: false });

  r = await run('member', 'list');
  ok(r, 'member list');
  for (const n of c.nodes) assert.ok(r.stdout.includes(n.peerUrl), r.stdout);
  assert.match(r.stdout, /ID.*ROLE.*PEER URL.*CLIENT URL/);
  r = await run('--json', 'member', 'list');
  const members = json(r).members as { id: number; role: string }[];
  assert.deepEqual(members.map((m) => [m.id, m.role]), [[1, 'voter'], [2, 'voter'], [3, 'voter']]);

  r = await run('status');
  ok(r, 'status');
  assert.match(r.stdout, /ID.*ROLE.*TERM.*LEADER.*COMMIT.*APPLIED.*CLIENT URL/);
  assert.match(r.stdout, /leader/);
  r = await run('--json', 'status');
  ok(r, 'status --json');
  const rows = json(r).members as { id: number; role: string; term: number; leader: number; commit: number; applied: number; clientURL: string }[];
  assert.deepEqual(rows.map((row) => row.id), [1, 2, 3]);
  const leader = rows[0]!.leader;
  for (const row of rows) {
    assert.equal(row.leader, leader);
    assert.equal(row.clientURL, c.node(row.id).url);
    assert.ok(row.term > 0 && row.commit > 0 && row.applied > 0, JSON.stringify(row));
    assert.equal(row.role, row.id === leader ? 'leader' : 'follower');
  }

  r = await run('endpoint', 'health');
  ok(r, 'endpoint health');
  for (const n of c.nodes) assert.ok(r.stdout.includes(`${n.url} is healthy`), r.stdout);
  r = await run('--json', 'endpoint', 'health');
  const health = json(r).endpoints as { endpoint: string; health: boolean }[];
  assert.deepEqual(health.map((h) => [h.endpoint, h.health]), c.nodes.map((n) => [n.url, true]));

  const follower = c.nodes.find((n) => n.id !== leader)!.id;
  r = await run('--json', 'transfer-leader', String(follower));
  ok(r, 'transfer-leader');
  assert.deepEqual(json(r), { leader: follower });
  r = await run('transfer-leader', String(leader));
  ok(r, 'transfer-leader back');
  assert.equal(r.stdout, `Leader is now member ${leader}\n`);

  const n4 = await c.allocate();
  r = await run('--json', 'member', 'add', '4', n4.peerUrl, '--learner');
  ok(r, 'member add --learner');
  assert.deepEqual(json(r), { ok: true, id: 4, peerURL: n4.peerUrl, role: 'learner' });
  r = await run('--json', 'member', 'promote', '4'); // not started: it has not caught up
  assert.equal(r.code, 1);
  assert.deepEqual(json(r).error, { type: 'ClientError', status: 409, code: 'ERR_LEARNER_NOT_READY', message: (json(r).error as { message: string }).message });
  r = await run('member', 'add', '4', n4.peerUrl);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^raftctl: member already exists/);
  c.spawn(n4, c.clusterArg(4), true);
  await until('member 4 promoted', async () => ((await run('member', 'promote', '4')).code === 0 ? true : undefined), 60_000);
  r = await run('--json', 'member', 'list');
  assert.deepEqual((json(r).members as { id: number; role: string }[]).map((m) => [m.id, m.role]).at(-1), [4, 'voter']);
  r = await run('member', 'remove', '4');
  ok(r, 'member remove');
  assert.equal(r.stdout, 'Member 4 removed\n');
  r = await run('--json', 'member', 'remove', '4');
  assert.equal(r.code, 1);
  assert.equal((json(r).error as { status: number }).status, 404);
});

test('raftctl: exit 1 with every endpoint down; exit 3 when a PUT\'s outcome is unknown (504)', async (t: TestContext) => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  let r = await raftctl(['--endpoints', closed, '--timeout-ms', '500', 'get', 'k']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no endpoint served the request.*ECONNREFUSED/);
  r = await raftctl(['--endpoints', closed, '--timeout-ms', '500', '--json', 'member', 'list']);
  assert.equal(r.code, 1);
  assert.equal((json(r).error as { type: string }).type, 'UnavailableError');

  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(504).end('request timed out; outcome unknown, it may still be applied\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const unsure = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  r = await raftctl(['--endpoints', unsure, 'put', 'k', 'v']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^raftctl: outcome unknown: /);
  r = await raftctl(['--endpoints', unsure, '--json', 'put', 'k', 'v']);
  assert.equal(r.code, 3);
  assert.equal((json(r).error as { type: string }).type, 'UnknownOutcomeError');
});

test('raftctl: bad usage exits 2 with a line saying why (binary and in process)', async () => {
  const bin = await raftctl(['member', 'add', 'x', 'http://127.0.0.1:1']);
  assert.equal(bin.code, 2);
  assert.match(bin.stderr, /invalid for argument 'id'/);
  const cases: [string[], RegExp][] = [
    [[], /Usage: raftctl/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['put', 'k'], /missing required argument 'value'/],
    [['get'], /missing required argument 'key'/],
    [['member'], /Usage: raftctl member/],
    [['member', 'remove', '0'], /want a positive integer/],
    [['transfer-leader', '1.5'], /want a positive integer/],
    [['--timeout-ms', 'soon', 'get', 'k'], /--timeout-ms wants a positive integer/],
    [['--endpoints', '127.0.0.1:12380', 'get', 'k'], /bad endpoint/],
    [['--endpoints', 'http://h:1/x', 'get', 'k'], /no path/],
    [['--cert', 'c.pem', 'get', 'k'], /--cert and --key go together/],
    [['--cacert', '/nonexistent/ca.pem', 'get', 'k'], /--cacert: cannot read/],
    [['get', 'k', '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, why] of cases) {
    const r = await inProcess(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why, args.join(' '));
  }
});

test('raftctl: --help on every command, exit 0', async () => {
  const commands = [[], ['put'], ['get'], ['member'], ['member', 'list'], ['member', 'add'], ['member', 'remove'], ['member', 'promote'], ['transfer-leader'], ['status'], ['endpoint'], ['endpoint', 'health']];
  for (const command of commands) {
    const r = await inProcess([...command, '--help']);
    assert.equal(r.code, 0, command.join(' '));
    assert.match(r.stdout, new RegExp(`^Usage: raftctl ${command.join(' ')}`), command.join(' '));
  }
});

test('raftctl runs as `npx raftctl` from the repo (package.json bin)', async () => {
  const r = await raftctl(['--offline', '--no', 'raftctl', 'get', '--help'], 'npx', []);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: raftctl get/);
});

test('--endpoints defaults to the Procfile cluster\'s client URLs', async () => {
  const ports = parseProcfile(await readFile(`${REPO_ROOT}/Procfile`, 'utf8')).map((e) => /--port (\d+)/.exec(e.command)![1]);
  assert.equal(DEFAULT_ENDPOINTS, ports.map((p) => `http://127.0.0.1:${p}`).join(','));
});
