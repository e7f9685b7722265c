// The client listener protects the node: past a bound of requests, or of body bytes, at once,
// more are shed with 503 overloaded before their bodies are read, while the /-/ paths still
// answer; and a client that sends its headers or body too slowly is cut off.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import { Chan } from '../src/chan.ts';
import { ErrorTable } from '../src/errors.ts';
import { buildApp, type ClientListenerLimits } from '../src/httpapi.ts';
import type { KvApi } from '../src/kvstore.ts';
import type { ConfChangeRequest } from '../src/queues.ts';
import { until } from './e2e/cluster.ts';
import { fakeNodeInfo } from './fake-node-info.ts';

/** A store whose writes wait until the test lets them go. */
function heldKv() {
  const waiting: (() => void)[] = [];
  const kv: KvApi = {
    put: () => new Promise<void>((resolve) => waiting.push(resolve)),
    get: async () => undefined,
  };
  return { kv, waiting, releaseAll: () => waiting.splice(0).forEach((r) => r()) };
}

/** Listen on a free port; when the test ends, passed or not, release what is held and close. */
async function listen(t: TestContext, held: ReturnType<typeof heldKv>, limits: ClientListenerLimits, maxRequestBytes = 1024): Promise<string> {
  const app = buildApp({ kv: held.kv, node: fakeNodeInfo(), confChangeC: new Chan<ConfChangeRequest>(1), maxRequestBytes, limits });
  t.after(() => {
    held.releaseAll();
    return app.close();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

async function send(url: string, method: 'PUT' | 'GET', body?: Buffer): Promise<{ status: number; body: string; retryAfter: unknown }> {
  const r = await request(url, { method, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: r.statusCode, body: await r.body.text(), retryAfter: r.headers['retry-after'] };
}

const generous = { requestReceiveTimeoutMs: 10_000, requestsInFlightMax: 1000, bodyBytesInFlightMax: 1 << 30 };

test('past the bound of requests at once, more are shed with 503 overloaded; /-/ paths still answer; then served again', async (t) => {
  const held = heldKv();
  const url = await listen(t, held, { ...generous, requestsInFlightMax: 2 });
  const first = [send(`${url}/a`, 'PUT', Buffer.from('1')), send(`${url}/b`, 'PUT', Buffer.from('2'))];
  await until('two writes held', async () => (held.waiting.length === 2 ? true : undefined));
  const shed = await send(`${url}/c`, 'PUT', Buffer.from('3'));
  assert.equal(shed.status, 503);
  assert.ok(shed.body.startsWith(ErrorTable.ERR_OVERLOADED.message), shed.body);
  assert.equal(shed.retryAfter, '1');
  assert.equal((await send(`${url}/x`, 'GET')).status, 503, 'reads count too');
  assert.equal((await send(`${url}/-/health`, 'GET')).status, 200, 'health is never shed');
  held.releaseAll();
  assert.deepEqual((await Promise.all(first)).map((r) => r.status), [204, 204]);
  const again = send(`${url}/d`, 'PUT', Buffer.from('4'));
  await until('the next write is served', async () => (held.waiting.length === 1 ? true : undefined));
  held.releaseAll();
  assert.equal((await again).status, 204);
});

test('past the bound of body bytes at once, a PUT is shed before its body is read; one alone is always admitted', async (t) => {
  const held = heldKv();
  const url = await listen(t, held, { ...generous, bodyBytesInFlightMax: 1500 }, 1024);
  const first = send(`${url}/a`, 'PUT', Buffer.alloc(1000));
  await until('one write held', async () => (held.waiting.length === 1 ? true : undefined));
  const shed = await send(`${url}/b`, 'PUT', Buffer.alloc(600));
  assert.equal(shed.status, 503);
  assert.ok(shed.body.startsWith(ErrorTable.ERR_OVERLOADED.message), shed.body);
  const small = send(`${url}/c`, 'PUT', Buffer.alloc(400)); // 1000 + 400 fit
  await until('the small write is held too', async () => (held.waiting.length === 2 ? true : undefined));
  held.releaseAll();
  assert.deepEqual([(await first).status, (await small).status], [204, 204]);
});

/** Open a socket to url, write `partial` and nothing more; resolves once the listener has cut it off. */
async function cutOffAfter(url: string, partial: string): Promise<void> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  try {
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    socket.write(partial);
    await until('the listener cuts the slow sender off', async () => (closed ? true : undefined), 10_000);
  } finally {
    socket.destroy(); // before the app closes (it waits for its connections)
  }
}

test('a client that sends its headers or its body too slowly is cut off', async (t) => {
  const url = await listen(t, heldKv(), { ...generous, requestReceiveTimeoutMs: 300 });
  await cutOffAfter(url, 'PUT /slow HTTP/1.1\r\nhost: x\r\n'); // headers never end
  await cutOffAfter(url, 'PUT /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n'); // the body never comes
});
