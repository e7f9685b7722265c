// The README walkthrough with curl through a gateway process in front of a real 3-node
// cluster: PUT, GET, add node 4 (--join), remove node 3; then SIGKILL node 1, and the PUTs
// and GETs keep working through the gateway, which skips the dead endpoints.

import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { clusterTest, freePort, nodeMain, REPO_ROOT, until, within, type TestCluster } from './cluster.ts';

interface CurlResult {
  status: number;
  body: string;
}

/** One curl, as in the walkthrough: a fresh connection each. Rejects if curl itself fails (no answer). */
function curl(method: string, url: string, body?: string): Promise<CurlResult> {
  const args = ['-sS', '-L', '--max-time', '30', '-X', method, '-o', '-', '-w', '\n%{http_code}', url, ...(body === undefined ? [] : ['-d', body])];
  return new Promise((resolve, reject) => {
    execFile('curl', args, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`curl -X ${method} ${url}: ${stderr.trim() || err.message}`));
      const cut = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) });
    });
  });
}

/**
 * curl until the answer is not 503 or 504 (no leader for a moment, or an outcome not yet
 * known: repeating the walkthrough's requests is harmless). A curl that gets no answer at all
 * fails the test at once: through the gateway every connection must reach a live node.
 */
async function answered(method: string, url: string, body?: string, timeoutMs = 60_000): Promise<CurlResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await curl(method, url, body);
    if ((r.status !== 503 && r.status !== 504) || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface GatewayProcess {
  url: string;
  proc: ChildProcess;
  /** The tail of its log (JSON lines on stderr). */
  log: string;
}

/** A gateway process on a free port, SIGKILLed after the test if still running. */
async function startGateway(t: TestContext, endpoints: string[]): Promise<GatewayProcess> {
  const port = await freePort();
  const args = [...nodeMain(), 'gateway', 'start', '--endpoints', endpoints.join(','), '--listen-addr', `127.0.0.1:${port}`, '--retry-delay-ms', '200'];
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const gateway: GatewayProcess = { url: `http://127.0.0.1:${port}`, proc, log: '' };
  proc.stderr.on('data', (d: Buffer) => (gateway.log = (gateway.log + d.toString()).slice(-200_000)));
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  await until('the gateway to start', async () => (gateway.log.includes('"msg":"started"') ? true : undefined), 60_000);
  return gateway;
}

clusterTest('the walkthrough with curl through a gateway, and with a node SIGKILLed', 3, {}, async (c, t) => {
  const [n1, n2, n3] = [c.node(1), c.node(2), c.node(3)];
  const n4 = await c.allocate(); // its ports now, so the gateway lists it from the start
  const gw = await startGateway(t, [n1.url, n2.url, n3.url, n4.url]);
  try {
    await walkthroughVia(c, gw);
  } catch (e) {
    console.error(`--- gateway\n${gw.log}`);
    throw e;
  }
});

async function walkthroughVia(c: TestCluster, gw: GatewayProcess): Promise<void> {
  const [n1, n2, n3, n4] = [c.node(1), c.node(2), c.node(3), c.node(4)];

  assert.equal((await answered('PUT', `${gw.url}/my-key`, 'hello')).status, 204);
  for (let i = 0; i < 4; i++) assert.deepEqual(await answered('GET', `${gw.url}/my-key`), { status: 200, body: 'hello' });
  // Node 4 has not started: the gateway found it refusing and went on.
  assert.match(gw.log, new RegExp(`"endpoint":"${n4.url}".*"msg":"endpoint down"`));

  // add node 4, then start it with --join and the 4-URL cluster list
  assert.equal((await answered('POST', `${gw.url}/4`, n4.peerUrl)).status, 204);
  c.spawn(n4, c.clusterArg(4), true);
  await until('node 4 to serve my-key', async () => ((await c.get(n4, '/my-key')).body === 'hello' ? true : undefined), 60_000);
  // Past the retry delay the gateway sends node 4 its turn again, and finds it back.
  await until('the gateway to find node 4 back', async () => {
    assert.deepEqual(await answered('GET', `${gw.url}/my-key`), { status: 200, body: 'hello' });
    return gw.log.includes(`"endpoint":"${n4.url}","msg":"endpoint back"`) ? true : undefined;
  }, 60_000);

  // remove node 3 (it shuts itself down, exit status 0)
  assert.equal((await answered('DELETE', `${gw.url}/3`)).status, 204);
  assert.equal(await within(n3.exit, 30_000, 'still running'), 0);

  // SIGKILL node 1: node 2 and node 4 are a quorum of {1, 2, 4}, and the gateway skips 1 and 3.
  await c.kill(n1);
  for (let i = 0; i < 8; i++) {
    assert.equal((await answered('PUT', `${gw.url}/after-kill-${i}`, `value-${i}`)).status, 204);
    assert.deepEqual(await answered('GET', `${gw.url}/after-kill-${i}`), { status: 200, body: `value-${i}` });
  }
  assert.match(gw.log, new RegExp(`"endpoint":"${n1.url}".*"msg":"endpoint down"`));
  assert.match(gw.log, new RegExp(`"endpoint":"${n3.url}".*"msg":"endpoint down"`));
  assert.equal((await c.getAnswer(n2, '/after-kill-7')).body, 'value-7');
  assert.equal((await c.getAnswer(n4, '/my-key')).body, 'hello');
}
