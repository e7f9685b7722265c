// The load generator's HTTP client (bench/raw-http.ts): the response parser on generated
// streams of responses cut at any point, its refusals, and the connection against a real
// node http server (keep-alive, a server that closes, one that never answers).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeRequest, RawConnection, RESPONSE_HEAD_BYTES_MAX, ResponseParser, type ParseEvent } from '../../bench/raw-http.ts';

interface Spec {
  status: number;
  framing: 'length' | 'chunked' | 'none';
  body: string;
  chunks: number[];
  upper: boolean;
  close: boolean;
  extra: string[];
  interim: boolean;
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  status: fc.constantFrom(200, 204, 400, 404, 413, 503),
  framing: fc.constantFrom('length' as const, 'chunked' as const),
  body: fc.string({ maxLength: 300 }),
  chunks: fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 6 }),
  upper: fc.boolean(),
  close: fc.boolean(),
  extra: fc.array(fc.constantFrom('Date: Wed, 02 Dec 2026 10:00:00 GMT', 'X-Etcd-Index: 12', 'content-type: text/plain', 'Cache-Control: no-cache', 'Connection: keep-alive'), { maxLength: 3 }),
  interim: fc.boolean(),
});

/** The bytes of one response as a server could send it. */
function render(s: Spec): Buffer {
  const name = (n: string) => (s.upper ? n.toUpperCase() : n);
  const body = s.status === 204 ? '' : s.body;
  let head = s.interim ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  head += `HTTP/1.1 ${s.status} Whatever\r\n${s.extra.map((l) => `${l}\r\n`).join('')}`;
  if (s.close) head += `${name('Connection')}: close\r\n`;
  if (s.status === 204) return Buffer.from(`${head}\r\n`, 'latin1');
  if (s.framing === 'length') return Buffer.from(`${head}${name('Content-Length')}: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`, 'latin1');
  let chunked = '';
  let rest = body;
  for (const n of s.chunks) {
    if (rest.length === 0) break;
    const piece = rest.slice(0, n);
    rest = rest.slice(n);
    chunked += `${piece.length.toString(16)}\r\n${piece}\r\n`;
  }
  if (rest.length > 0) chunked += `${rest.length.toString(16)};ext=1\r\n${rest}\r\n`;
  chunked += s.upper ? '0\r\nX-Trailer: t\r\n\r\n' : '0\r\n\r\n';
  return Buffer.from(`${head}${name('Transfer-Encoding')}: chunked\r\n\r\n${chunked}`, 'latin1');
}

function parseAll(pieces: Buffer[]): ParseEvent[] {
  const events: ParseEvent[] = [];
  const p = new ResponseParser((e) => events.push(e));
  for (const piece of pieces) p.feed(piece);
  return events;
}

/** Cut `buf` at the given offsets (sorted, deduplicated, inside it). */
function cut(buf: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((a) => a % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out.filter((b) => b.length > 0);
}

test('every response of a stream is reported once, with its status and close, however the bytes are cut', () => {
  fc.assert(
    fc.property(fc.array(specArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (specs, cuts) => {
      const stream = Buffer.concat(specs.map(render));
      const events = parseAll(cut(stream, cuts));
      assert.deepEqual(events, specs.map((s) => ({ kind: 'response', status: s.status, close: s.close })));
    }),
    { numRuns: 500 },
  );
});

test('a response with neither a length nor chunks runs until the connection closes', () => {
  const events: ParseEvent[] = [];
  const p = new ResponseParser((e) => events.push(e));
  p.feed(Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome bo'));
  p.feed(Buffer.from('dy'));
  assert.deepEqual(events, []);
  assert.equal(p.readsUntilClose, true);
  assert.equal(p.end(), true);
  assert.deepEqual(events, [{ kind: 'response', status: 200, close: true }]);

  const cutOff = new ResponseParser(() => assert.fail('nothing is whole'));
  cutOff.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  assert.equal(cutOff.end(), false, 'a body cut short is no answer');
  const midHead = new ResponseParser(() => assert.fail('nothing is whole'));
  midHead.feed(Buffer.from('HTTP/1.1 200 OK\r\nConte'));
  assert.equal(midHead.end(), false, 'nor is half a head');
});

test('what the parser does not understand is an error, never a guessed status', () => {
  const cases: [string, RegExp][] = [
    ['HTTP/2 200 OK\r\n\r\n', /status line/],
    ['HTTP/1.1 20 OK\r\n\r\n', /status line/],
    ['HTTP/1.1 2000 OK\r\n\r\n', /status line/],
    ['http/1.1 200 OK\r\n\r\n', /status line/],
    ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /header line/],
    ['HTTP/1.1 200 OK\r\n: empty name\r\n\r\n', /header line/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n', /Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', /Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /both/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', /Transfer-Encoding/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk size/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n', /chunk data/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\n', /CRLF/],
    [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(RESPONSE_HEAD_BYTES_MAX)}\r\n\r\n`, /too large/],
  ];
  for (const [bytes, why] of cases) {
    const events = parseAll([Buffer.from(bytes, 'latin1')]);
    assert.equal(events.length, 1, bytes.slice(0, 60));
    assert.equal(events[0]!.kind, 'error', bytes.slice(0, 60));
    assert.match((events[0] as { why: string }).why, why, bytes.slice(0, 60));
  }
  // A head that never ends is refused once it passes the bound, even fed a byte at a time.
  const events: ParseEvent[] = [];
  const p = new ResponseParser((e) => events.push(e));
  const endless = Buffer.from(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(RESPONSE_HEAD_BYTES_MAX + 10)}`);
  for (let i = 0; i < endless.length && events.length === 0; i += 97) p.feed(endless.subarray(i, i + 97));
  assert.deepEqual(events.map((e) => e.kind), ['error']);
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

test('a request as encoded reaches a node server whole: method, target, host, headers and body', { timeout: 30_000 }, async () => {
  const seen: { method?: string; url?: string; host?: string; type?: string; body: string }[] = [];
  const { server, port } = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, host: req.headers.host, type: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
      res.statusCode = req.method === 'PUT' ? 204 : 200;
      res.end(req.method === 'PUT' ? undefined : 'value');
    });
  });
  const c = new RawConnection('127.0.0.1', port);
  try {
    const host = `127.0.0.1:${port}`;
    assert.equal(await c.send(encodeRequest(host, { method: 'PUT', path: '/k1', body: Buffer.from('hello'), headers: { 'content-type': 'application/octet-stream' } }), 5_000), 204);
    assert.equal(await c.send(encodeRequest(host, { method: 'GET', path: '/k1?serializable' }), 5_000), 200);
    assert.deepEqual(seen, [
      { method: 'PUT', url: '/k1', host, type: 'application/octet-stream', body: 'hello' },
      { method: 'GET', url: '/k1?serializable', host, type: undefined, body: '' },
    ]);
  } finally {
    c.destroy();
    server.closeAllConnections();
    server.close();
  }
});

test('a connection is kept alive across requests, reopened after the server closes it, and gives 0 when no answer comes', { timeout: 30_000 }, async () => {
  let connections = 0;
  const { server, port, sockets } = await listen((req, res) => {
    if (req.url === '/silent') return; // never answered
    if (req.url === '/reset') {
      req.socket.destroy();
      return;
    }
    if (req.url === '/close') res.setHeader('connection', 'close');
    res.statusCode = 200;
    res.end('ok');
  });
  server.on('connection', () => connections++);
  const c = new RawConnection('127.0.0.1', port);
  const get = (path: string, timeoutMs = 5_000) => c.send(encodeRequest(`127.0.0.1:${port}`, { method: 'GET', path }), timeoutMs);
  try {
    for (let i = 0; i < 5; i++) assert.equal(await get('/a'), 200);
    assert.equal(connections, 1, 'five requests, one connection');
    assert.equal(await get('/close'), 200);
    assert.equal(await get('/a'), 200);
    assert.equal(connections, 2, 'a new connection after the server said close');
    assert.equal(await get('/reset'), 0, 'reset before an answer');
    assert.equal(await get('/a'), 200);
    assert.equal(connections, 3);
    const silent = get('/silent', 50);
    // The generator's sweep ends what waited past its deadline.
    await new Promise((r) => setTimeout(r, 80));
    c.expire(performance.now());
    const hung = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5_000).unref());
    assert.equal(await Promise.race([silent, hung]), 0, 'no answer: 0 once past the deadline');
    assert.equal(await get('/a'), 200);
    assert.equal(connections, 4);
    assert.throws(() => {
      void get('/a');
      void get('/a');
    }, /one request at a time/);
  } finally {
    c.destroy();
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('nothing listening: the request gives 0', { timeout: 30_000 }, async () => {
  const { server, port } = await listen(() => undefined);
  server.close();
  await once(server, 'close');
  const c = new RawConnection('127.0.0.1', port);
  assert.equal(await c.send(encodeRequest(`127.0.0.1:${port}`, { method: 'GET', path: '/' }), 5_000), 0);
  c.destroy();
});

test('a second answer to one request closes the connection; the next request gets a new one', { timeout: 30_000 }, async () => {
  let connections = 0;
  const server = createTcpServer((socket) => {
    connections++;
    socket.on('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n'));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const c = new RawConnection('127.0.0.1', port);
  try {
    const get = () => c.send(encodeRequest(`127.0.0.1:${port}`, { method: 'GET', path: '/' }), 5_000);
    assert.equal(await get(), 200);
    assert.equal(await get(), 200, 'not the stray 500');
    assert.equal(connections, 2);
  } finally {
    c.destroy();
    server.close();
  }
});
