// Message batches (POST /raft) are served before fastify on a listening peer server. Over real
// sockets, that path must answer every request exactly as the fastify route does (the same
// statuses, types and bodies, the same messages delivered), share its bounds on requests in
// flight, and close the connection rather than read a body over the bound.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { Client, request } from 'undici';
import { encodeMessages } from '../../src/raftpb/index.ts';
import type { Message } from '../../src/raftpb/types.ts';
import { MessageType } from '../../src/raftpb/types.ts';
import { PATH_MESSAGES, PATH_SNAPSHOT, peerHeaders } from '../../src/transport/headers.ts';
import { PeerAdmission, httpPeerApp, leanMessages } from '../../src/transport/http-network.ts';
import type { PeerResponse, PeerService } from '../../src/transport/network.ts';
import { createPeerService } from '../../src/transport/server.ts';
import { freePort, until } from '../e2e/cluster.ts';

const MAX_BATCH_BYTES = 4096;

function msg(type: MessageType, from: number, to: number): Message {
  return {
    type, from, to, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, snapshot: null,
    reject: false, rejectHint: 0, context: new Uint8Array(0),
  };
}

async function serve(t: TestContext, service: PeerService, lean: boolean, requestsInFlightMax = 16, front = true): Promise<string> {
  const app = httpPeerApp(service, null, { requestReceiveTimeoutMs: 10_000, requestsInFlightMax, snapshotsInFlightMax: 1 }, lean, front);
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  t.after(() => app.close());
  return `http://127.0.0.1:${port}`;
}

/** A node's peer service that records what it is handed; member 3 was removed. */
function recordingService() {
  const delivered: MessageType[][] = [];
  const service = createPeerService({
    identity: { clusterId: 'c1', localId: 2, isRemoved: (id) => id === 3 },
    deliver: (msgs) => delivered.push(msgs.map((m) => m.type)),
    cluster: () => ({ clusterId: 'c1', members: [{ id: 2, peerURL: 'http://127.0.0.1:2' }] }),
    maxBatchBytes: MAX_BATCH_BYTES,
    maxSnapshotBytes: 1 << 20,
  });
  return { service, delivered };
}

interface Answer {
  status: number;
  type: string | undefined;
  body: string;
  connection: string | undefined;
}

async function send(url: string, o: { path?: string; method?: 'POST' | 'GET'; headers?: Record<string, string>; body?: Buffer | (() => Readable) }): Promise<Answer> {
  const body = typeof o.body === 'function' ? o.body() : o.body;
  const r = await request(url + (o.path ?? PATH_MESSAGES), { method: o.method ?? 'POST', headers: o.headers ?? peerHeaders('c1', 1, 2), body });
  const type = r.headers['content-type'];
  const connection = r.headers['connection'];
  return { status: r.statusCode, type: typeof type === 'string' ? type : undefined, body: await r.body.text(), connection: typeof connection === 'string' ? connection : undefined };
}

const good = Buffer.from(encodeMessages([msg(MessageType.MsgHeartbeat, 1, 2), msg(MessageType.MsgApp, 1, 2)]));
const { 'content-type': _type, ...untyped } = peerHeaders('c1', 1, 2);

/** Each request, and the status both paths must give it. */
const CASES: { name: string; status: number; req: Parameters<typeof send>[1] }[] = [
  { name: 'a good batch', status: 204, req: { body: good } },
  { name: 'another cluster', status: 412, req: { headers: peerHeaders('other', 1, 2), body: good } },
  { name: 'another recipient', status: 412, req: { headers: peerHeaders('c1', 1, 5), body: good } },
  { name: 'a removed sender', status: 410, req: { headers: peerHeaders('c1', 3, 2), body: Buffer.from(encodeMessages([msg(MessageType.MsgHeartbeat, 3, 2)])) } },
  { name: 'a sender other than its messages say', status: 400, req: { headers: peerHeaders('c1', 4, 2), body: good } },
  { name: 'garbage', status: 400, req: { body: Buffer.from([1, 200, 7]) } },
  { name: 'an empty body', status: 400, req: { body: Buffer.alloc(0) } },
  { name: 'a body over the bound', status: 413, req: { body: Buffer.alloc(MAX_BATCH_BYTES + 1, 1) } },
  { name: 'another media type', status: 400, req: { headers: { ...untyped, 'content-type': 'text/plain' }, body: good } },
  { name: 'no media type', status: 400, req: { headers: untyped, body: good } },
  { name: 'a good batch, chunked', status: 204, req: { body: () => Readable.from([good.subarray(0, 5), good.subarray(5)]) } },
  { name: 'a good batch with a query', status: 204, req: { path: `${PATH_MESSAGES}?x=1`, body: good } },
  { name: 'GET of the message route', status: 404, req: { method: 'GET' } },
];

test('message batches answer over the lean path exactly as through the fastify route', async (t) => {
  // Read by our own reader in front of node's parser, and by node's.
  for (const front of [true, false]) {
    const lean = recordingService();
    const routed = recordingService();
    const leanUrl = await serve(t, lean.service, true, 16, front);
    const routedUrl = await serve(t, routed.service, false);
    for (const c of CASES) {
      const a = await send(leanUrl, c.req);
      const b = await send(routedUrl, c.req);
      assert.equal(a.status, c.status, `${c.name}: lean path, front ${front}`);
      assert.deepEqual({ status: a.status, type: a.type, body: a.body }, { status: b.status, type: b.type, body: b.body }, `${c.name}, front ${front}`);
    }
    assert.deepEqual(lean.delivered, routed.delivered);
    // The good batches, plain, chunked and with a query: each delivered once, in order.
    assert.deepEqual(lean.delivered, [0, 1, 2].map(() => [MessageType.MsgHeartbeat, MessageType.MsgApp]));
  }
});

test('the lean path closes the connection instead of reading a body over the bound', async (t) => {
  for (const front of [true, false]) {
    const { service, delivered } = recordingService();
    const url = await serve(t, service, true, 16, front);
    const a = await send(url, { body: Buffer.alloc(MAX_BATCH_BYTES + 1, 1) });
    assert.equal(a.status, 413);
    assert.equal(a.connection, 'close', `front ${front}`);
    assert.equal(delivered.length, 0);
    // The next request is served on a new connection.
    assert.equal((await send(url, { body: good })).status, 204);
  }
});

for (const front of [true, false]) test(`messages on the lean path (front ${front}) and snapshots through fastify share the bound of requests at once`, async (t) => {
  const waiting: (() => void)[] = [];
  const held: PeerService = {
    bodyBytesMax: () => MAX_BATCH_BYTES,
    handle: () => new Promise<PeerResponse>((resolve) => waiting.push(() => resolve({ status: 204, body: new Uint8Array(0) }))),
  };
  const url = await serve(t, held, true, 2, front);
  const first = [send(url, { body: good }), send(url, { path: PATH_SNAPSHOT, body: good })];
  await until('a message batch and a snapshot held', async () => (waiting.length === 2 ? true : undefined));
  const shedMessages = await send(url, { body: good });
  const shedSnapshot = await send(url, { path: PATH_SNAPSHOT, body: good });
  assert.deepEqual([shedMessages.status, shedSnapshot.status], [503, 503]);
  assert.match(shedMessages.body, /too many peer requests/);
  waiting.splice(0).forEach((release) => release());
  assert.deepEqual((await Promise.all(first)).map((a) => a.status), [204, 204]);
  // Released once answered: a batch is served again.
  const again = send(url, { body: good });
  await until('the next batch is handled', async () => (waiting.length === 1 ? true : undefined));
  waiting.splice(0).forEach((release) => release());
  assert.equal((await again).status, 204);
});

test('only a plain batch takes the lean path: any other request reaches fastify untouched', async (t) => {
  const { service, delivered } = recordingService();
  const fellBack: string[] = [];
  const listener = leanMessages(service, new PeerAdmission({ requestReceiveTimeoutMs: 10_000, requestsInFlightMax: 16, snapshotsInFlightMax: 1 }), (req, res) => {
    fellBack.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(299).end();
  });
  const server = createServer(listener);
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${port}`;
  assert.equal((await send(url, { body: good })).status, 204);
  assert.equal((await send(url, { headers: peerHeaders('other', 1, 2), body: good })).status, 412);
  assert.equal((await send(url, { body: Buffer.alloc(MAX_BATCH_BYTES + 1, 1) })).status, 413);
  assert.deepEqual(fellBack, []);
  for (const c of CASES.filter((c) => /chunked|query|media type|GET/.test(c.name))) assert.equal((await send(url, c.req)).status, 299, c.name);
  assert.equal((await send(url, { path: PATH_SNAPSHOT, body: good })).status, 299);
  assert.deepEqual(fellBack, ['POST /raft', 'POST /raft', 'POST /raft', 'POST /raft?x=1', 'GET /raft', 'POST /raft/snapshot']);
  assert.equal(delivered.length, 1);
});

test("with the front, plain batches never reach node's parser; other requests on the connection do, after them", async (t) => {
  const { service, delivered } = recordingService();
  const app = httpPeerApp(service, null, { requestReceiveTimeoutMs: 10_000, requestsInFlightMax: 16, snapshotsInFlightMax: 1 });
  const port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  t.after(() => app.close());
  let parsedByNode = 0;
  app.server.on('request', () => parsedByNode++);
  const client = new Client(`http://127.0.0.1:${port}`);
  t.after(() => client.close());
  const post = async (path: string, headers = peerHeaders('c1', 1, 2)) => {
    const r = await client.request({ method: 'POST', path, headers, body: good });
    await r.body.dump();
    return r.statusCode;
  };
  assert.deepEqual([await post(PATH_MESSAGES), await post(PATH_MESSAGES)], [204, 204]);
  assert.equal(parsedByNode, 0);
  assert.equal(await post(PATH_SNAPSHOT), 400); // not a snapshot: refused by the route, through node and fastify
  assert.equal(await post(PATH_MESSAGES), 204); // the same connection, now node's
  assert.equal(parsedByNode, 2);
  assert.equal(delivered.length, 3);
});

test("the front writes node's status line for the peer answers (410, 412, 413, 400)", async (t) => {
  const { service } = recordingService();
  const front = await serve(t, service, true, 16, true);
  const routed = await serve(t, service, false);
  const statusLine = async (url: string, headers: Record<string, string>, body: Buffer) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    t.after(() => socket.destroy());
    let received = '';
    socket.setEncoding('latin1').on('data', (d: string) => (received += d));
    const lines = Object.entries({ host: 'x', ...headers, 'content-length': String(body.length) }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`POST ${PATH_MESSAGES} HTTP/1.1\r\n${lines}\r\n`);
    socket.write(body);
    return until('a status line', async () => (received.includes('\r\n') ? received.slice(0, received.indexOf('\r\n')) : undefined));
  };
  const cases: [Record<string, string>, Buffer][] = [
    [peerHeaders('c1', 3, 2), Buffer.from(encodeMessages([msg(MessageType.MsgHeartbeat, 3, 2)]))],
    [peerHeaders('other', 1, 2), good],
    [peerHeaders('c1', 1, 2), Buffer.alloc(MAX_BATCH_BYTES + 1, 1)],
    [peerHeaders('c1', 1, 2), Buffer.from([1, 200, 7])],
  ];
  const lines: string[] = [];
  for (const [headers, body] of cases) {
    const expected = await statusLine(routed, headers, body);
    assert.equal(await statusLine(front, headers, body), expected);
    lines.push(expected);
  }
  assert.deepEqual(lines, ['HTTP/1.1 410 Gone', 'HTTP/1.1 412 Precondition Failed', 'HTTP/1.1 413 Payload Too Large', 'HTTP/1.1 400 Bad Request']);
});
