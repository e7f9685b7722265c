// The client library against real nodes and against fake servers: failover when the node it
// talks to dies, quorum backoff with every node down, unknown outcomes (504, a connection cut
// after the body was read, a stopped leader) reported as such and never retried for a PUT,
// keep-alive connections, and auto-sync picking up a new member's client URL.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { test, type TestContext } from 'node:test';
import { Client, UnavailableError, UnknownOutcomeError, type Attempt } from '../../src/client/index.ts';
import { clusterTest, freePort, until } from './cluster.ts';

/** A loopback HTTP server for one test (closed afterwards) that counts requests and connections. */
async function fakeServer(t: TestContext, handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen = { requests: 0, connections: 0 };
  const server: Server = createServer((req, res) => {
    seen.requests++;
    handle(req, res);
  });
  server.on('connection', () => seen.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())).then(() => server.closeAllConnections()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

/** Reads the whole request, then answers with `status` (and `body`). */
function answering(status: number, body = ''): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'text/plain' }).end(body));
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => assert.fail('resolved'), (e: unknown) => e);
}

clusterTest('failover: the node the client talks to is killed, the next request succeeds through another; then all down: quorum backoff and UnavailableError', 3, {}, async (c) => {
  const attempts: Attempt[] = [];
  let events = ''; // `a` per attempt, `w` per wait, in order
  const env = { onAttempt: (a: Attempt) => ((events += 'a'), attempts.push(a)), onBackoff: () => (events += 'w') };
  const client = new Client({ endpoints: c.nodes.map((n) => n.url), requestTimeoutMs: 30_000, env });
  try {
    await client.put('failover', 'before');
    const victim = c.nodes.find((n) => n.url === client.nextEndpoint)!;
    await c.kill(victim);
    attempts.length = 0;
    await client.put('failover', 'after'); // possibly through an election: 503s are retried
    assert.equal(attempts[0]!.endpoint, victim.url, 'the first attempt went to the killed node');
    assert.match(attempts[0]!.result, /ECONNREFUSED/);
    assert.notEqual(attempts.at(-1)!.endpoint, victim.url, 'it succeeded through another');
    assert.equal((await client.get('failover'))?.toString(), 'after');

    await Promise.all(c.nodes.map((n) => c.kill(n)));
    attempts.length = 0;
    events = '';
    const short = new Client({ endpoints: c.nodes.map((n) => n.url), requestTimeoutMs: 3_000, env });
    const err = await rejection(short.get('failover'));
    await short.close();
    assert.ok(err instanceof UnavailableError, String(err));
    assert.match(err.message, /no endpoint served the request .*ECONNREFUSED/);
    // Round-robin; two attempts (a quorum of three) between waits; at least two rounds waited.
    const urls = c.nodes.map((n) => n.url);
    const first = urls.indexOf(attempts[0]!.endpoint);
    attempts.forEach((a, i) => assert.equal(a.endpoint, urls[(first + i) % 3], `attempt ${i}`));
    assert.match(events, /^(aaw){2,}a{0,2}$/);
  } finally {
    await client.close();
  }
});

clusterTest('a PUT to a stopped (SIGSTOP) node times out after it was sent: UnknownOutcomeError, not retried; a GET moves on', 3, {}, async (c) => {
  const stopped = c.node(1);
  const others = c.nodes.filter((n) => n !== stopped).map((n) => n.url);
  const client = new Client({ endpoints: [stopped.url, ...others], requestTimeoutMs: 20_000, attemptTimeoutMs: 1_000 });
  try {
    await client.put('k', 'v1');
    stopped.proc!.kill('SIGSTOP');
    const attempts: Attempt[] = [];
    const watched = new Client({ endpoints: [stopped.url, ...others], requestTimeoutMs: 20_000, attemptTimeoutMs: 1_000, env: { onAttempt: (a) => attempts.push(a) } });
    const err = await rejection(watched.put('k', 'v2'));
    assert.ok(err instanceof UnknownOutcomeError, String(err));
    assert.match(err.message, /timed out .* after sending/);
    assert.deepEqual(attempts.map((a) => a.endpoint), [stopped.url], 'never sent anywhere else');
    // A read has no effect to be unsure about: the same client moves on and answers.
    attempts.length = 0;
    const value = (await watched.get('k'))?.toString();
    assert.ok(value === 'v1' || value === 'v2', value);
    assert.equal(attempts[0]!.endpoint, others[0], 'round-robin: the next request starts at the next endpoint');
    await watched.close();
  } finally {
    stopped.proc!.kill('SIGCONT');
    await client.close();
  }
});

test('a 504 and a connection cut after the body was read are unknown outcomes: the PUT is sent once, never to the next endpoint', async (t) => {
  for (const cut of [answering(504, 'request timed out; outcome unknown, it may still be applied\n'), (req: IncomingMessage) => {
    req.resume();
    req.on('end', () => req.socket.destroy());
  }]) {
    const unsure = await fakeServer(t, cut);
    const healthy = await fakeServer(t, answering(204));
    const client = new Client({ endpoints: [unsure.url, healthy.url] });
    const err = await rejection(client.put('k', 'v'));
    await client.close();
    assert.ok(err instanceof UnknownOutcomeError, String(err));
    assert.equal(err.endpoint, unsure.url);
    assert.equal(unsure.seen.requests, 1);
    assert.equal(healthy.seen.requests, 0, 'never retried elsewhere');

    const again = new Client({ endpoints: [unsure.url, healthy.url] });
    await again.put('k', 'v', { retryUnknown: true }); // asked for: it goes on and succeeds
    await again.close();
    assert.equal(healthy.seen.requests, 1);
  }
});

test('closed ports are refused before anything is sent, and a 503 moves on at once; 4xx come back as ClientError', async (t) => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  const busy = await fakeServer(t, answering(503, 'no leader; not applied\n'));
  const refusing = await fakeServer(t, answering(409, 'member already exists: 2\n'));
  const ok = await fakeServer(t, answering(204));
  const attempts: Attempt[] = [];
  const client = new Client({ endpoints: [closed, busy.url, ok.url], env: { onAttempt: (a) => attempts.push(a) } });
  await client.put('k', 'v');
  assert.deepEqual(attempts.map((a) => a.endpoint), [closed, busy.url, ok.url]);
  assert.match(attempts[0]!.result, /ECONNREFUSED.*before sending/);
  await client.close();
  const strict = new Client({ endpoints: [refusing.url, ok.url] });
  await assert.rejects(strict.addMember(2, 'http://127.0.0.1:1'), { name: 'ClientError', status: 409, code: 'ERR_MEMBER_EXISTS' });
  assert.equal(ok.seen.requests, 1, 'the 409 was not retried');
  await strict.close();
});

test('connections are kept alive: twenty requests one after another, over at most two connections', async (t) => {
  const server = await fakeServer(t, answering(204));
  const client = new Client({ endpoints: [server.url] });
  for (let i = 0; i < 20; i++) await client.put(`k${i}`, 'v');
  await client.close();
  assert.equal(server.seen.requests, 20);
  // undici's pool may open a second connection for a request dispatched before the first one's
  // drain event; without keep-alive each request would have its own.
  assert.ok(server.seen.connections <= 2, `${server.seen.connections} connections`);
});

clusterTest('auto-sync: a member added with --join appears in the client\'s endpoints (its published client URL)', 3, {}, async (c) => {
  const client = new Client({ endpoints: [c.node(1).url], autoSyncIntervalMs: 200 });
  try {
    const n4 = await c.allocate();
    await client.addMember(4, n4.peerUrl);
    c.spawn(n4, c.clusterArg(4), true);
    await until('node 4 in the endpoints', async () => {
      const published = (await client.members()).filter((m) => m.clientURL !== undefined).length;
      assert.ok(published > 0, 'no member published a clientURL in /-/members (needs --advertise-client-url publication)');
      return client.endpoints.includes(n4.url) ? true : undefined;
    }, 60_000);
    assert.deepEqual([...client.endpoints].sort(), c.nodes.map((n) => n.url).sort());
    await client.put('via-sync', 'yes');
  } finally {
    await client.close();
  }
});
