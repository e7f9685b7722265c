// The hand-written HTTP/1.1 reader in front of node's server: what it takes is a strict subset
// of what node parses the same way; everything else, and the rest of that connection, reaches
// node untouched and in order; slow, idle and closing connections are cut as node cuts them.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { installFront, parseHead, type FrontExchange, type FrontOptions } from '../src/http-front.ts';
import { until } from './e2e/cluster.ts';

const head = (text: string) => {
  const buf = Buffer.from(text, 'latin1');
  return parseHead(buf, buf.indexOf('\r\n\r\n'));
};

test('a head in the plain shape is read: method, target, declared length, close', () => {
  const put = 'PUT /k?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n';
  assert.deepEqual(head(put), { method: 'PUT', url: '/k?x=1', contentLength: 12, headers: {}, close: false, bytes: put.length });
  const get = 'GET /k HTTP/1.1\r\nhost: a\r\nconnection: Close\r\nuser-agent: x y\t z\r\n\r\n';
  assert.deepEqual(head(get), { method: 'GET', url: '/k', contentLength: 0, headers: {}, close: true, bytes: get.length });
  assert.equal(head('GET /k HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n')?.contentLength, 0);
  // The headers asked for are kept, trimmed; one of them repeated is not ours.
  const post = Buffer.from('POST /raft HTTP/1.1\r\nHost: a\r\nX-Raft-From:  2 \r\ncontent-type: a/b\r\nContent-Length: 3\r\n\r\n', 'latin1');
  assert.deepEqual(parseHead(post, post.indexOf('\r\n\r\n'), ['x-raft-from', 'content-type', 'x-raft-to'])?.headers, { 'x-raft-from': '2', 'content-type': 'a/b' });
  const twice = Buffer.from('POST /raft HTTP/1.1\r\nHost: a\r\nX-Raft-From: 2\r\nx-raft-from: 3\r\nContent-Length: 3\r\n\r\n', 'latin1');
  assert.equal(parseHead(twice, twice.indexOf('\r\n\r\n'), ['x-raft-from']), null);
  assert.notEqual(parseHead(twice, twice.indexOf('\r\n\r\n')), null);
});

test('any other head is not ours (node parses it)', () => {
  const bad = [
    'GET /k HTTP/1.0\r\nHost: a\r\n\r\n',
    'get /k HTTP/1.1\r\nHost: a\r\n\r\n',
    'DELETE /k HTTP/1.1\r\nHost: a\r\n\r\n',
    'POST /k HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET  /k HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /k\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /k HTTP/1.1\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'PUT /k HTTP/1.1\r\nHost: a\r\n\r\n',
    'PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n',
    'PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n',
    'PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n',
    'PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 1234567890123456\r\n\r\n',
    'PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nbad name: x\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nbad_name: x\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nx: a\u0001b\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nx: caf\u00e9\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nx: a\r\n folded\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nx: a\nHost: b\r\n\r\n',
    'GET /k HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n',
    `GET /k HTTP/1.1\r\nHost: a\r\n${'x: y\r\n'.repeat(65)}\r\n`,
  ];
  for (const h of bad) assert.equal(head(h), null, JSON.stringify(h));
});

/** A plain node server (what the front hands over to), recording what it parsed. */
async function nodeServer(t: TestContext, front?: Partial<FrontOptions>) {
  const parsed: string[] = [];
  const served: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      parsed.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString('latin1')}`);
      res.setHeader('content-type', 'text/plain');
      res.end(`node ${req.method} ${req.url}\n`);
    });
  });
  server.keepAliveTimeout = 60_000;
  if (front !== undefined) {
    installFront(server, {
      takes: (_m, url) => !url.startsWith('/-/'),
      serve: (x: FrontExchange) =>
        x.readBody((body) => {
          served.push(`${x.method} ${x.url} ${body.toString('latin1')}`);
          const answer = Buffer.from(`front ${x.method} ${x.url}\n`);
          if (x.url.startsWith('/later')) setTimeout(() => x.respond(200, 'content-type: text/plain\r\n', answer), 20);
          else x.respond(200, 'content-type: text/plain\r\n', answer);
        }),
      requestReceiveTimeoutMs: 10_000,
      keepAliveTimeoutMs: 60_000,
      ...front,
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return { server, port, parsed, served };
}

/** A raw connection collecting what comes back. */
function raw(t: TestContext, port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  let received = '';
  let closed = false;
  socket.setEncoding('latin1').on('data', (d: string) => (received += d));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  const bodies = () => [...received.matchAll(/\r\n\r\n((?:front|node) [A-Z]+ [^\n]+)\n/g)].map((m) => m[1]);
  return { socket, received: () => received, closed: () => closed, bodies };
}

test('pipelined requests are answered in order, by the front until a request it does not take, then by node', async (t) => {
  const s = await nodeServer(t, {});
  const c = raw(t, s.port);
  c.socket.write(
    'PUT /later HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nv1' +
      'GET /a HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /-/status HTTP/1.1\r\nHost: a\r\n\r\n' +
      'PUT /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nv2',
  );
  await until('four answers', async () => (c.bodies().length === 4 ? true : undefined));
  assert.deepEqual(c.bodies(), ['front PUT /later', 'front GET /a', 'node GET /-/status', 'node PUT /b']);
  assert.deepEqual(s.served, ['PUT /later v1', 'GET /a ']);
  assert.deepEqual(s.parsed, ['GET /-/status ', 'PUT /b v2']);
});

test('a request split anywhere across packets is read whole, by the front or, handed over, by node', async (t) => {
  const s = await nodeServer(t, {});
  const text = 'PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' + 'PUT /-/k HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nworld';
  for (const cut of [3, 20, 44, 47, 52, 60, 80, text.length - 2]) {
    const c = raw(t, s.port);
    c.socket.write(text.slice(0, cut));
    await new Promise((r) => setTimeout(r, 20));
    c.socket.write(text.slice(cut));
    await until(`two answers (cut at ${cut})`, async () => (c.bodies().length === 2 ? true : undefined));
    assert.deepEqual(c.bodies(), ['front PUT /k', 'node PUT /-/k'], `cut at ${cut}`);
  }
  assert.deepEqual(new Set(s.served), new Set(['PUT /k hello']));
  assert.deepEqual(new Set(s.parsed), new Set(['PUT /-/k world']));
});

test('what the front takes, node parses the same way (generated heads)', async (t) => {
  const plain = await nodeServer(t);
  const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
  const token = fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/);
  const value = fc.oneof(w(6, fc.stringMatching(/^[ -~\t]{0,20}$/)), w(1, fc.constantFrom('close', 'keep-alive', 'chunked', '1', '01', ' 7 ', '-1', '\u00e9', 'a\u0001')));
  const name = fc.oneof(w(6, token), w(1, fc.constantFrom('Host', 'Content-Length', 'Connection', 'Transfer-Encoding', 'host', 'content-length', 'Bad Name', 'x_y', ' folded')));
  const line = fc.tuple(name, value).map(([n, v]) => `${n}: ${v}`);
  const target = fc.oneof(w(6, fc.stringMatching(/^\/[!-~]{0,20}$/)), w(1, fc.constantFrom('/a b', '*', 'http://x/y', '/caf\u00e9')));
  const request = fc.tuple(
    fc.oneof(w(4, fc.constantFrom('GET', 'PUT')), w(1, fc.constantFrom('POST', 'get'))),
    target,
    fc.oneof(w(6, fc.constant('HTTP/1.1')), w(1, fc.constant('HTTP/1.0'))),
    fc.array(line, { maxLength: 4 }),
    fc.oneof(w(6, fc.constant(true)), w(1, fc.constant(false))),
    fc.oneof(w(4, fc.nat({ max: 40 }).map(String)), w(1, fc.constantFrom(undefined, '0x1', '1, 1'))),
  );
  let taken = 0;
  await fc.assert(
    fc.asyncProperty(request, async ([method, url, version, lines, withHost, length]) => {
      const declared = length === undefined || method === 'GET' ? [] : [`Content-Length: ${length}`];
      const headText = `${method} ${url} ${version}\r\n${withHost ? 'Host: h\r\n' : ''}${[...declared, ...lines].map((l) => l + '\r\n').join('')}\r\n`;
      const ours = head(headText);
      if (ours === null) return;
      taken++;
      const body = 'b'.repeat(ours.contentLength);
      const c = raw(t, plain.port);
      const before = plain.parsed.length;
      c.socket.write(headText + body);
      await until('node answers', async () => (/^HTTP\/1\.1 \d+/.test(c.received()) ? true : undefined));
      assert.match(c.received(), /^HTTP\/1\.1 200/, headText);
      assert.deepEqual(plain.parsed.slice(before), [`${ours.method} ${ours.url} ${body}`], headText);
      c.socket.destroy();
    }),
    { numRuns: 300 },
  );
  assert.ok(taken > 60, `enough generated heads were taken to mean something (${taken})`);
});

test('a head longer than the front reads goes to node', async (t) => {
  const s = await nodeServer(t, {});
  const c = raw(t, s.port);
  c.socket.write(`GET /long HTTP/1.1\r\nHost: a\r\nx-pad: ${'p'.repeat(9000)}\r\n\r\n`);
  await until('an answer', async () => (c.bodies().length === 1 ? true : undefined), 3000).catch((e) => { throw new Error(e.message + JSON.stringify(c.received())); });
  assert.deepEqual(c.bodies(), ['node GET /long']);
});

test('a request that does not arrive whole in time is cut off: silent, or trickling in', async (t) => {
  const s = await nodeServer(t, { requestReceiveTimeoutMs: 400 });
  const silent = raw(t, s.port);
  silent.socket.write('PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc');
  const trickle = raw(t, s.port);
  trickle.socket.write('PUT /k HTTP/1.1\r\nHost: a\r\n');
  const drip = setInterval(() => trickle.socket.write('x-a: b\r\n'), 100);
  t.after(() => clearInterval(drip));
  await until('both cut off', async () => (silent.closed() && trickle.closed() ? true : undefined), 10_000);
  assert.match(trickle.received(), /^HTTP\/1\.1 408/);
  assert.deepEqual(s.served, []);
});

test('Connection: close ends the connection after the answer; an idle one is closed after the keep-alive', async (t) => {
  const s = await nodeServer(t, { keepAliveTimeoutMs: 300 });
  const once = raw(t, s.port);
  once.socket.write('GET /k HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  await until('answered and closed', async () => (once.closed() ? true : undefined));
  assert.match(once.received(), /Connection: close\r\n/);
  const idle = raw(t, s.port);
  idle.socket.write('GET /k HTTP/1.1\r\nHost: a\r\n\r\n');
  await until('answered', async () => (idle.bodies().length === 1 ? true : undefined));
  assert.match(idle.received(), /Connection: keep-alive\r\nKeep-Alive: timeout=0\r\n/);
  await until('closed when idle', async () => (idle.closed() ? true : undefined), 10_000);
});

test('closing the server: idle front connections are closed, one being served is answered first', async (t) => {
  const s = await nodeServer(t, {});
  const idle = raw(t, s.port);
  idle.socket.write('GET /k HTTP/1.1\r\nHost: a\r\n\r\n');
  const busy = raw(t, s.port);
  await until('the idle one answered', async () => (idle.bodies().length === 1 ? true : undefined));
  busy.socket.write('GET /later HTTP/1.1\r\nHost: a\r\n\r\n');
  await until('the busy one is being served', async () => (s.served.length === 2 ? true : undefined));
  s.server.close();
  s.server.closeIdleConnections();
  await until('the idle one closed', async () => (idle.closed() ? true : undefined));
  await until('the busy one answered', async () => (busy.bodies().length === 1 ? true : undefined));
  assert.deepEqual(busy.bodies(), ['front GET /later']);
});

test('a client that pipelines requests and does not read the answers is not served past what its socket holds', async (t) => {
  const big = Buffer.alloc(1024 * 1024, 0x61);
  let served = 0;
  const server = createServer((_req, res) => res.end('node\n'));
  installFront(server, {
    takes: () => true,
    serve: (x) => x.readBody(() => (served++, x.respond(200, '', big))),
    requestReceiveTimeoutMs: 10_000,
    keepAliveTimeoutMs: 60_000,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.pause(); // reads nothing yet
  socket.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(60));
  await until('some served', async () => (served > 0 ? true : undefined));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(served < 30, `served ${served} of 60 pipelined requests while none of their answers were read`);
  let bytes = 0;
  socket.on('data', (d: Buffer) => (bytes += d.length));
  socket.resume();
  await until('all answered once read', async () => (served === 60 && bytes >= 60 * big.length ? true : undefined));
});
