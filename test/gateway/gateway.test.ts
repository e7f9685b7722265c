// The gateway in one process against throwaway TCP servers: round-robin, a refused endpoint
// skipped for the retry delay (on a clock the test moves) and tried again after it, every
// endpoint down, byte-exact piping both ways with backpressure and half-close, errors on
// either side, and the connection limit.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import pino from 'pino';
import { parseEndpoints, type GatewayEndpoint } from '../../src/gateway/flags.ts';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.ts';
import { freePort, until } from '../e2e/cluster.ts';

const MiB = 1024 * 1024;

interface TestServer {
  endpoint: GatewayEndpoint;
  server: Server;
  /** Connections it has accepted so far. */
  accepted: number;
  sockets: Set<Socket>;
}

/** A TCP server on 127.0.0.1 (on `port`, or any free one), closed after the test. */
async function startServer(t: TestContext, handler: (socket: Socket) => void, opts: { port?: number; pauseOnConnect?: boolean } = {}): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: opts.pauseOnConnect ?? false });
  const result: TestServer = { endpoint: null as unknown as GatewayEndpoint, server, accepted: 0, sockets };
  server.on('connection', (socket) => {
    result.accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    handler(socket);
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  result.endpoint = endpointAt((server.address() as { port: number }).port);
  t.after(() => stopServer(result));
  return result;
}

function stopServer(s: TestServer): Promise<void> {
  for (const socket of s.sockets) socket.destroy();
  return new Promise((resolve) => s.server.close(() => resolve()));
}

function endpointAt(port: number): GatewayEndpoint {
  return parseEndpoints(`http://127.0.0.1:${port}`)[0]!;
}

/** Answers `<name>:<what the client sent>` once the client has ended its side. */
function namedReply(name: string): (socket: Socket) => void {
  return (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => socket.end(`${name}:${Buffer.concat(chunks).toString()}`));
  };
}

interface TestGateway {
  gateway: Gateway;
  port: number;
  /** Every log line, parsed. */
  logs: Record<string, unknown>[];
}

async function startGateway(t: TestContext, endpoints: GatewayEndpoint[], opts: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const gateway = new Gateway({ endpoints, retryDelayMs: 1000, maxConnections: 100, log, ...opts });
  const address = await gateway.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => gateway.close(0));
  return { gateway, port: address.port, logs };
}

function logged(gw: TestGateway, msg: string): Record<string, unknown>[] {
  return gw.logs.filter((l) => l.msg === msg);
}

/**
 * Connect to `port`, send `data` and end, and collect everything until the other side closes
 * (a reset counts as closing: a socket closed with the request unread sends one).
 */
function exchange(port: number, data: Buffer | string = 'ping'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.end(data);
  });
}

async function names(port: number, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push((await exchange(port)).toString());
  return out;
}

/** An open client connection, for tests that hold it. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

test('connections go round-robin over the endpoints, with the bytes the client sent first', async (t) => {
  const servers = await Promise.all(['a', 'b', 'c'].map((n) => startServer(t, namedReply(n))));
  const gw = await startGateway(t, servers.map((s) => s.endpoint));
  assert.deepEqual(await names(gw.port, 6), ['a:ping', 'b:ping', 'c:ping', 'a:ping', 'b:ping', 'c:ping']);
});

test('an endpoint that refuses is skipped for the retry delay, and tried again after it', async (t) => {
  const clock = { nowMs: 0 };
  const deadPort = await freePort();
  const b = await startServer(t, namedReply('b'));
  const gw = await startGateway(t, [endpointAt(deadPort), b.endpoint], { retryDelayMs: 1000, now: () => clock.nowMs });

  // The first connection goes to the refusing endpoint, then on to b, with its bytes intact.
  assert.equal((await exchange(gw.port, 'first')).toString(), 'b:first');
  assert.deepEqual(logged(gw, 'endpoint down').map((l) => l.endpoint), [`http://127.0.0.1:${deadPort}`]);

  // It comes back, but within the delay nothing is sent its way.
  const a = await startServer(t, namedReply('a'), { port: deadPort });
  clock.nowMs = 999;
  assert.deepEqual(await names(gw.port, 4), ['b:ping', 'b:ping', 'b:ping', 'b:ping']);
  assert.equal(a.accepted, 0);

  // Once the delay is over it takes its turn again.
  clock.nowMs = 1000;
  assert.deepEqual(new Set(await names(gw.port, 2)), new Set(['a:ping', 'b:ping']));
  assert.equal(a.accepted, 1);
  assert.deepEqual(logged(gw, 'endpoint back').map((l) => l.endpoint), [`http://127.0.0.1:${deadPort}`]);
});

test('with every endpoint refusing, the client connection is closed', async (t) => {
  const ports = [await freePort(), await freePort()];
  const gw = await startGateway(t, ports.map(endpointAt));
  assert.equal((await exchange(gw.port)).length, 0);
  assert.equal(logged(gw, 'endpoint down').length, 2);
  // Both are skipped now: closed at once, and nothing new is logged as down.
  assert.equal((await exchange(gw.port)).length, 0);
  assert.equal(logged(gw, 'endpoint down').length, 2);
  await until('no connection left open', async () => (gw.gateway.connectionCount === 0 ? true : undefined));
});

test('a large body is piped byte for byte both ways, and its end passes through (half-close)', async (t) => {
  const echo = await startServer(t, (socket) => socket.pipe(socket)); // ends its side when the client's ends
  const gw = await startGateway(t, [echo.endpoint]);
  const body = randomBytes(32 * MiB);
  let bufferedMax = 0;
  const sampler = setInterval(() => (bufferedMax = Math.max(bufferedMax, gw.gateway.bufferedBytes())), 5);
  const back = await exchange(gw.port, body).finally(() => clearInterval(sampler));
  assert.equal(back.length, body.length);
  assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(body).digest('hex'));
  assert.ok(bufferedMax < MiB, `the gateway held ${bufferedMax} bytes at once`);
});

test('an upstream that answers after the client ended its request gets the answer through', async (t) => {
  // The request's end is the client's FIN: the gateway must pass it on and keep the way back open.
  const counter = await startServer(t, (socket) => {
    let bytes = 0;
    socket.on('data', (d: Buffer) => (bytes += d.length));
    socket.on('end', () => socket.end(`got ${bytes} bytes`));
  });
  const gw = await startGateway(t, [counter.endpoint]);
  assert.equal((await exchange(gw.port, randomBytes(MiB))).toString(), `got ${MiB} bytes`);
});

test('a slow reader holds the writer back: the gateway buffers no more than its sockets do', async (t) => {
  const stalled = await startServer(t, () => {}, { pauseOnConnect: true }); // never reads
  const gw = await startGateway(t, [stalled.endpoint]);
  const client = await open(gw.port);
  t.after(() => client.destroy());
  client.write(randomBytes(64 * MiB)); // more than the kernel's buffers on both hops take
  // Wait until no more of it is taken: the pipe is stalled.
  let last = -1;
  let unchanged = 0;
  await until('the client to stall', async () => {
    const pending = client.writableLength;
    unchanged = pending === last ? unchanged + 1 : 0;
    last = pending;
    return unchanged >= 10 ? true : undefined;
  }, 60_000);
  assert.ok(client.writableLength > 0, 'the client still holds most of its body');
  assert.ok(gw.gateway.bufferedBytes() < MiB, `the gateway holds ${gw.gateway.bufferedBytes()} bytes`);
});

test('an upstream that resets closes the client connection, and a client that resets closes the upstream one', async (t) => {
  const resetter = await startServer(t, (socket) => socket.once('data', () => socket.resetAndDestroy()));
  const gw1 = await startGateway(t, [resetter.endpoint]);
  const cut = await open(gw1.port);
  const cutClosed = new Promise((resolve) => cut.once('close', resolve));
  cut.on('error', () => {});
  cut.write('x');
  await cutClosed;
  await until('the gateway to drop the connection', async () => (gw1.gateway.connectionCount === 0 ? true : undefined));

  const upstreamClosed: Promise<unknown>[] = [];
  const holder = await startServer(t, (socket) => {
    upstreamClosed.push(new Promise((resolve) => socket.once('close', resolve)));
    socket.resume(); // reads, so it sees the gateway's end
    socket.on('end', () => socket.end());
  });
  const gw2 = await startGateway(t, [holder.endpoint]);
  const client = await open(gw2.port);
  await until('the upstream connection', async () => (upstreamClosed.length === 1 ? true : undefined));
  client.resetAndDestroy();
  await upstreamClosed[0];
  await until('the gateway to drop the connection', async () => (gw2.gateway.connectionCount === 0 ? true : undefined));
});

test('past --max-connections a new connection is closed at once; a freed slot is used again', async (t) => {
  const holder = await startServer(t, (socket) => {
    socket.write('hi'); // and holds the connection open until the client ends it
    socket.resume();
    socket.on('end', () => socket.end());
  });
  const gw = await startGateway(t, [holder.endpoint], { maxConnections: 2 });
  const first = await open(gw.port);
  const second = await open(gw.port);
  t.after(() => {
    first.destroy();
    second.destroy();
  });
  await until('two upstream connections', async () => (holder.accepted === 2 ? true : undefined));
  assert.equal((await exchange(gw.port)).length, 0, 'the third connection is closed without an answer');
  assert.equal(holder.accepted, 2);
  assert.equal(logged(gw, 'too many connections: closing new ones').length, 1);

  first.destroy();
  await until('the slot to be free', async () => (gw.gateway.connectionCount === 1 ? true : undefined));
  const again = await open(gw.port);
  t.after(() => again.destroy());
  const greeting = await new Promise<string>((resolve) => again.once('data', (d: Buffer) => resolve(d.toString())));
  assert.equal(greeting, 'hi');
  assert.equal(holder.accepted, 3);
});
