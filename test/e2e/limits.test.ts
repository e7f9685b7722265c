// End to end at the limits of src/limits.ts: the largest PUT the flag allows replicates,
// survives a restart of every node and travels in a snapshot; the flag one byte over is
// refused; large writes forwarded by a follower all commit.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { keyBytesMax, putValueBytesMax, requestBytesDefault } from '../../src/limits.ts';
import { clusterTest, freePort, nodeMain, REPO_ROOT, until, within, type TestCluster, type TestNode } from './cluster.ts';

const sha = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function putBytes(node: TestNode, key: string, value: Buffer, timeoutMs = 60_000): Promise<{ status: number; body: string }> {
  const res = await request(node.url + key, { method: 'PUT', body: value, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  return { status: res.statusCode, body: await res.body.text() };
}

/** The sha256 of a serializable GET on that node, or undefined while it does not have the key. */
async function localSha(node: TestNode, key: string): Promise<string | undefined> {
  const res = await request(node.url + key + '?serializable', { headersTimeout: 30_000, bodyTimeout: 30_000 });
  const body = Buffer.from(await res.body.arrayBuffer());
  return res.statusCode === 200 ? sha(body) : undefined;
}

async function waitLocal(c: TestCluster, node: TestNode, key: string, want: string, timeoutMs = 60_000): Promise<void> {
  await until(`node ${node.id} has ${key.slice(0, 20)}…`, async () => ((await localSha(node, key)) === want ? true : undefined), timeoutMs);
}

test('--max-request-bytes one byte over the largest PUT body: exit 2 and one line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'limits-flag-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const args = ['--cluster', `http://127.0.0.1:${await freePort()}`, '--port', String(await freePort()), '--data-dir', dir];
  const proc = spawn(process.execPath, [...nodeMain(), ...args, '--max-request-bytes', String(putValueBytesMax + 1)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  t.after(() => {
    proc.kill('SIGKILL'); // a node that took the flag would run on
    return exited;
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await within(exited, 30_000, 'still running');
  assert.equal(code, 2, stderr);
  assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
  assert.match(stderr, new RegExp(`--max-request-bytes must be between 1 and ${putValueBytesMax}`));
});

const maxArgs = ['--max-request-bytes', String(putValueBytesMax), '--snapshot-count', '4', '--snapshot-catchup-entries', '1', '--request-timeout-ms', '30000'];

clusterTest('a PUT of the largest allowed size replicates, survives a restart of every node, and is sent in a snapshot', 3, { extraArgs: maxArgs }, async (c) => {
  const key = '/' + 'k'.repeat(keyBytesMax - 1); // the longest key too: the entry is at its max
  const value = Buffer.alloc(putValueBytesMax);
  for (let i = 0; i < value.length; i += 4096) value[i] = i % 251;
  const want = sha(value);
  const leader = c.node(await c.waitLeader());
  const follower = c.nodes.find((n) => n !== leader)!;
  const res = await putBytes(follower, key, value);
  assert.equal(res.status, 204, res.body);
  for (const n of c.nodes) await waitLocal(c, n, key, want);

  // Node 3 goes down; the others write on and compact past it.
  const [n1, n2, n3] = [c.node(1), c.node(2), c.node(3)];
  await c.kill(n3);
  await c.waitLeader();
  for (let i = 0; i < 10; i++) await c.putAcked(n1, `/small-${i}`, `v${i}`);
  await until('node 1 and 2 compacted', async () => (/"snapshot taken"/.test(n1.log) && /"snapshot taken"/.test(n2.log) ? true : undefined));

  // Every node that was up restarts from its disk.
  await c.kill(n1);
  await c.kill(n2);
  c.restart(n1, maxArgs);
  c.restart(n2, maxArgs);
  await c.waitLeader();
  for (const n of [n1, n2]) await waitLocal(c, n, key, want);

  // Node 3 can only catch up from a snapshot that carries the large value.
  c.restart(n3, maxArgs);
  await waitLocal(c, n3, key, want, 90_000);
  await until('node 3 has the last small write', async () => ((await c.get(n3, '/small-9', '?serializable')).body === 'v9' ? true : undefined));
  // The log line comes once the snapshot's old segments are released, a moment after the value is visible.
  await until('node 3 logs that it installed the snapshot', async () => (/applied snapshot from leader/.test(n3.log) ? true : undefined));
});

/**
 * PUT, retrying an honest 503 (no leader for a moment, proposal dropped: certainly not applied)
 * but not a timeout, which is what a write silently lost on its way to the leader ends in.
 */
async function putRetrying(node: TestNode, key: string, value: Buffer): Promise<{ status: number; body: string }> {
  for (;;) {
    const r = await putBytes(node, key, value);
    if (r.status !== 503 || /timed out/.test(r.body)) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

// Ticks and request timeout at their defaults' scale: 60 MiB through three WALs on a loaded
// two-core test machine takes seconds, and this test is about size, not speed.
clusterTest('40 concurrent PUTs of 1.5 MiB sent to a follower all succeed and are readable', 3, { tickMs: 100, extraArgs: ['--request-timeout-ms', '30000'] }, async (c) => {
  const leader = await c.waitLeader();
  const follower = c.nodes.find((n) => n.id !== leader)!;
  const values = Array.from({ length: 40 }, (_, i) => Buffer.alloc(requestBytesDefault, i + 1));
  const results = await Promise.all(values.map((v, i) => putRetrying(follower, `/big-${i}`, v)));
  assert.deepEqual(results.map((r) => r.status), values.map(() => 204), JSON.stringify(results.filter((r) => r.status !== 204)));
  for (let i = 0; i < values.length; i++) {
    const res = await request(`${follower.url}/big-${i}`, { headersTimeout: 30_000, bodyTimeout: 30_000 });
    const body = Buffer.from(await res.body.arrayBuffer());
    assert.equal(res.statusCode, 200);
    assert.equal(sha(body), sha(values[i]!));
  }
});
