// The lean path (src/lean-http.ts) answers PUT and GET of a key exactly as fastify's routes
// do: the same sequences of requests, sent over sockets to one app with the lean path and to
// one without (fastify's routes), get the same statuses, media types, Retry-After and bodies,
// and leave the same state. And the lean path is the one that served them.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { Client } from 'undici';
import { Chan } from '../src/chan.ts';
import { ErrorTable, ServiceError } from '../src/errors.ts';
import { buildApp } from '../src/httpapi.ts';
import type { KvApi } from '../src/kvstore.ts';
import { ServiceMetrics } from '../src/metrics.ts';
import type { ConfChangeRequest } from '../src/queues.ts';
import { until } from './e2e/cluster.ts';
import { fakeNodeInfo } from './fake-node-info.ts';

const MAX_REQUEST_BYTES = 64;

/** A map with the store's refusals: keys named after an error fail with it, "/boom" with a plain Error. */
function fakeKv(): { kv: KvApi; map: Map<string, string>; reads: string[] } {
  const map = new Map<string, string>();
  const reads: string[] = [];
  const refuse = (key: string): Error | null => {
    if (key === '/boom') return new Error('not a service error');
    if (key.startsWith('/ERR_OVERLOADED')) return new ServiceError('ERR_OVERLOADED');
    if (key.startsWith('/ERR_TIMEOUT')) return new ServiceError('ERR_TIMEOUT');
    if (key.length > 40) return new ServiceError('ERR_KEY_TOO_LONG', `${key.length} bytes`);
    return null;
  };
  const kv: KvApi = {
    put: async (key, value) => {
      const err = refuse(key);
      if (err !== null) throw err;
      map.set(key, Buffer.from(value).toString('latin1'));
    },
    get: async (key, serializable) => {
      reads.push(`${key} ${serializable}`);
      const err = refuse(key);
      if (err !== null) throw err;
      const v = map.get(key);
      return v === undefined ? undefined : Buffer.from(v, 'latin1');
    },
  };
  return { kv, map, reads };
}

interface Req {
  method: 'PUT' | 'GET';
  path: string;
  body?: Buffer;
  chunked?: boolean;
}

interface Answer {
  status: number;
  type: string | undefined;
  retryAfter: string | undefined;
  body: string;
}

/** An app listening on a free port, with or without the lean path (and its reader in front of node's, http-front.ts), and a client to it. */
async function overSocket(t: TestContext, kv: KvApi, { metrics, leanPath = true, front = true }: { metrics?: ServiceMetrics; leanPath?: boolean; front?: boolean } = {}) {
  const a = buildApp({ kv, node: fakeNodeInfo(), confChangeC: new Chan<ConfChangeRequest>(1), maxRequestBytes: MAX_REQUEST_BYTES, metrics, leanPath, front });
  t.after(() => a.close());
  let fastifyRequests = 0;
  a.addHook('onRequest', (_req, _reply, done) => {
    fastifyRequests++;
    done();
  });
  await a.listen({ host: '127.0.0.1', port: 0 });
  let nodeRequests = 0;
  a.server.on('request', () => nodeRequests++);
  const { port } = a.server.address() as { port: number };
  const client = new Client(`http://127.0.0.1:${port}`);
  t.after(() => client.close());
  const send = async (r: Req): Promise<Answer> => {
    const body = r.body === undefined ? undefined : r.chunked ? Readable.from([r.body]) : r.body;
    const res = await client.request({ method: r.method, path: r.path, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    return { status: res.statusCode, type: header(res.headers['content-type']), retryAfter: header(res.headers['retry-after']), body: text };
  };
  return { send, fastifyRequests: () => fastifyRequests, nodeRequests: () => nodeRequests };
}

function header(v: string | string[] | number | undefined): string | undefined {
  return v === undefined ? undefined : String(v);
}

const CASES: Req[] = [
  { method: 'PUT', path: '/k', body: Buffer.from('v1') },
  { method: 'GET', path: '/k' },
  { method: 'GET', path: '/k?serializable' },
  { method: 'GET', path: '/k?serializable=false' },
  { method: 'GET', path: '/k?serializable=1&x=2' },
  { method: 'GET', path: '/missing' },
  { method: 'PUT', path: '/empty', body: Buffer.alloc(0) },
  { method: 'PUT', path: '/nobody' },
  { method: 'GET', path: '/empty' },
  { method: 'PUT', path: '/max', body: Buffer.alloc(MAX_REQUEST_BYTES, 0x61) },
  { method: 'PUT', path: '/over', body: Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x61) },
  { method: 'PUT', path: '/chunked', body: Buffer.from('in chunks'), chunked: true },
  { method: 'PUT', path: '/chunked-over', body: Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x62), chunked: true },
  { method: 'GET', path: '/over' },
  { method: 'PUT', path: '/ERR_OVERLOADED', body: Buffer.from('x') },
  { method: 'GET', path: '/ERR_TIMEOUT' },
  { method: 'PUT', path: '/boom', body: Buffer.from('x') },
  { method: 'PUT', path: '/' + 'a'.repeat(60), body: Buffer.from('long key') },
  { method: 'PUT', path: '/a/b/c', body: Buffer.from('nested') },
  { method: 'GET', path: '/a/b/c' },
  { method: 'PUT', path: '/%7e', body: Buffer.from('escaped') },
  { method: 'GET', path: '/%zz' },
  { method: 'GET', path: '/-/health' },
];

test('PUT and GET of a key: the lean path answers as fastify does, and leaves the same state', async (t) => {
  // With the front reading the plain requests, and with node's parser reading them all.
  for (const front of [true, false]) {
    const lean = fakeKv();
    const routed = fakeKv();
    const socket = await overSocket(t, lean.kv, { front });
    const fastify = await overSocket(t, routed.kv, { leanPath: false });
    for (const r of CASES) {
      const [a, b] = [await socket.send(r), await fastify.send(r)];
      assert.deepEqual(a, b, `front ${front}: ${r.method} ${r.path}${r.chunked ? ' (chunked)' : ''}`);
    }
    assert.deepEqual([...lean.map], [...routed.map]);
    assert.deepEqual(lean.reads, routed.reads, 'the same reads, serializable alike');
    // Only the reserved path and the escaped one fastify decodes went through its routes (it
    // refuses '/%zz' before any hook).
    assert.equal(socket.fastifyRequests(), 2);
    assert.equal(fastify.fastifyRequests(), CASES.length - 1);
  }
});

test('generated sequences of PUTs and GETs: the same answers on both paths', async (t) => {
  const lean = fakeKv();
  const nodeParsed = fakeKv();
  const routed = fakeKv();
  const socket = await overSocket(t, lean.kv);
  const unfronted = await overSocket(t, nodeParsed.kv, { front: false });
  const fastify = await overSocket(t, routed.kv, { leanPath: false });
  const key = fc.stringMatching(/^\/[a-zA-Z0-9._~!$&'()*+,;=:@/-]{0,50}$/);
  const req: fc.Arbitrary<Req> = fc.oneof(
    fc.record({ method: fc.constant('PUT' as const), path: key, body: fc.uint8Array({ maxLength: MAX_REQUEST_BYTES + 8 }).map((b) => Buffer.from(b)), chunked: fc.boolean() }),
    fc.record({ method: fc.constant('GET' as const), path: fc.tuple(key, fc.constantFrom('', '?serializable', '?serializable=0', '?a=b')).map(([k, q]) => k + q) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(req, { minLength: 1, maxLength: 12 }), async (reqs) => {
      for (const r of reqs) {
        const expected = await fastify.send(r);
        assert.deepEqual(await socket.send(r), expected, `${r.method} ${r.path}`);
        assert.deepEqual(await unfronted.send(r), expected, `${r.method} ${r.path}, parsed by node`);
      }
    }),
    { numRuns: 60 },
  );
  assert.deepEqual([...lean.map], [...routed.map]);
  assert.deepEqual([...nodeParsed.map], [...routed.map]);
});

test('the lean path times every request for the metrics, by route and status', async (t) => {
  const metrics = new ServiceMetrics();
  const socket = await overSocket(t, fakeKv().kv, { metrics });
  await socket.send({ method: 'PUT', path: '/m', body: Buffer.from('1') });
  await socket.send({ method: 'GET', path: '/m' });
  await socket.send({ method: 'GET', path: '/absent' });
  const text = (await metrics.text()).body;
  const count = (route: string, status: number) =>
    Number(new RegExp(`_count\\{route="${route}",status="${status}"\\} (\\d+)`).exec(text)?.[1] ?? 'NaN');
  assert.equal(count('key_put', 204), 1, text);
  assert.equal(count('key_get', 200), 1);
  assert.equal(count('key_get', 404), 1);
  assert.equal(socket.fastifyRequests(), 0);
  // Read by the front (http-front.ts): node's parser saw none of them.
  assert.equal(socket.nodeRequests(), 0);
});

test('once the app is closing, a key request still arriving gets 503 stopping and the socket is closed, on both paths', async (t) => {
  for (const leanPath of [true, false]) {
    const held: (() => void)[] = [];
    const kv: KvApi = { put: () => new Promise<void>((resolve) => held.push(resolve)), get: async () => undefined };
    const a = buildApp({ kv, node: fakeNodeInfo(), confChangeC: new Chan<ConfChangeRequest>(1), maxRequestBytes: MAX_REQUEST_BYTES, leanPath });
    t.after(() => {
      held.splice(0).forEach((r) => r());
      return a.close();
    });
    await a.listen({ host: '127.0.0.1', port: 0 });
    const { port } = a.server.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    let received = '';
    socket.setEncoding('latin1').on('data', (d: string) => (received += d));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('PUT /held HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1');
    await until('the first write is held', async () => (held.length === 1 ? true : undefined));
    const closing = a.close();
    socket.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    held.splice(0).forEach((r) => r());
    await ended;
    await closing;
    const statuses = [...received.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => m[1]);
    assert.deepEqual(statuses, ['204', '503'], `${leanPath ? 'lean' : 'fastify'}: ${received}`);
    assert.match(received, new RegExp(ErrorTable.ERR_STOPPING.message));
  }
});

test("every path writes node's status line, reason phrase included", async (t) => {
  const statusLine = async (port: number, request: string) => {
    const socket = connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    let received = '';
    socket.setEncoding('latin1').on('data', (d: string) => (received += d));
    socket.write(request);
    return until('a status line', async () => (received.includes('\r\n') ? received.slice(0, received.indexOf('\r\n')) : undefined));
  };
  const requests = [
    `PUT /${'a'.repeat(60)} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1`,
    'GET /missing HTTP/1.1\r\nHost: x\r\n\r\n',
    'PUT /ERR_OVERLOADED HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1',
    'GET /ERR_TIMEOUT HTTP/1.1\r\nHost: x\r\n\r\n',
    'PUT /boom HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1',
    `PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${MAX_REQUEST_BYTES + 1}\r\n\r\n`,
  ];
  const ports: number[] = [];
  for (const o of [{ front: true }, { front: false }, { leanPath: false }]) {
    const a = buildApp({ kv: fakeKv().kv, node: fakeNodeInfo(), confChangeC: new Chan<ConfChangeRequest>(1), maxRequestBytes: MAX_REQUEST_BYTES, ...o });
    t.after(() => a.close());
    await a.listen({ host: '127.0.0.1', port: 0 });
    ports.push((a.server.address() as { port: number }).port);
  }
  for (const r of requests) {
    const [front, node, fastify] = [await statusLine(ports[0]!, r), await statusLine(ports[1]!, r), await statusLine(ports[2]!, r)];
    assert.match(fastify, /^HTTP\/1\.1 \d{3} [A-Z]/, r);
    assert.deepEqual([front, node], [fastify, fastify], r);
  }
});
