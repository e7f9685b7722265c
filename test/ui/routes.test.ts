// The dashboard's routes on the client port (buildApp with `ui`): the page and its assets
// from a fixed table, /-/ui/cluster answering 200 with unreachable members as data (one
// refusing connections, one that never answers), and /-/events: backlog, live events, a bound
// on streams, and a close that does not wait for open streams.

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import { Chan } from '../../src/chan.ts';
import { buildApp } from '../../src/httpapi.ts';
import type { KvApi } from '../../src/kvstore.ts';
import { uiEventClientsMax } from '../../src/limits.ts';
import type { MemberWithRole } from '../../src/node/status.ts';
import type { ConfChangeRequest } from '../../src/queues.ts';
import { ClusterWatch, type ClusterView } from '../../src/ui/cluster-watch.ts';
import { EventRing } from '../../src/ui/event-ring.ts';
import { freePort, until, within } from '../e2e/cluster.ts';
import { fakeNodeInfo } from '../fake-node-info.ts';

const kv: KvApi = { put: async () => undefined, get: async () => undefined };

/** A TCP server that takes connections and never says a word (a member hung, or partitioned). */
async function silentServer(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

async function setup(t: TestContext, members: MemberWithRole[]) {
  const node = fakeNodeInfo({ members: () => members });
  const events = new EventRing(1, 100);
  const watch = new ClusterWatch({
    self: { id: 1, status: () => node.status(), members: () => node.members(), metricsText: () => null },
    events,
    clientScheme: 'http:',
  });
  const app = buildApp({ kv, node, confChangeC: new Chan<ConfChangeRequest>(1), maxRequestBytes: 64, ui: { watch, events } });
  t.after(() => app.close());
  return { app, events, watch };
}

test('the page and its assets come from a fixed table; nothing else under /-/ui reaches the disk', async (t) => {
  const { app } = await setup(t, []);
  const page = await app.inject({ method: 'GET', url: '/-/ui' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
  assert.match(page.body, /<script src="\/-\/ui\/app.js"/);
  for (const [asset, type] of [['app.js', /javascript/], ['style.css', /css/], ['uplot.js', /javascript/], ['uplot.css', /css/]] as const) {
    const r = await app.inject({ method: 'GET', url: `/-/ui/${asset}` });
    assert.equal(r.statusCode, 200, asset);
    assert.match(String(r.headers['content-type']), type, asset);
  }
  assert.match((await app.inject({ method: 'GET', url: '/-/ui/uplot.js' })).body, /uPlot/);
  for (const url of ['/-/ui/nope.js', '/-/ui/..%2F..%2Fpackage.json', '/-/ui/%2e%2e', '/-/ui/a/b']) {
    assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404, url);
  }
  assert.equal((await app.inject({ method: 'PUT', url: '/-/ui', body: 'x' })).statusCode, 400, 'reserved for writes');
  assert.equal((await app.inject({ method: 'POST', url: '/-/events' })).statusCode, 400, 'reserved for writes');
});

test('/-/ui/cluster answers 200; members refusing connections, never answering, or not yet published are shown unreachable', async (t) => {
  const refusing = await freePort(); // nothing listens there
  const silent = await silentServer(t);
  const { app, events } = await setup(t, [
    { id: 1, peerURL: 'http://127.0.0.1:1', role: 'voter' },
    { id: 2, peerURL: 'http://127.0.0.1:2', role: 'voter', clientURL: `http://127.0.0.1:${refusing}` },
    { id: 3, peerURL: 'http://127.0.0.1:3', role: 'learner', clientURL: `http://127.0.0.1:${silent}` },
    // No clientURL yet: tried at the peer port + 1, where nothing listens either.
    { id: 4, peerURL: `http://127.0.0.1:${refusing - 1}`, role: 'voter' },
  ]);
  const view = await until('both others unreachable', async () => {
    const r = await app.inject({ method: 'GET', url: '/-/ui/cluster' });
    assert.equal(r.statusCode, 200);
    const v = r.json() as ClusterView;
    return v.members.length === 4 && v.members.slice(1).every((m) => m.state === 'unreachable') ? v : undefined;
  });
  const [self, refused, hung, unpublished] = view.members;
  assert.equal(self!.state, 'leader');
  assert.equal(self!.status?.term, 1);
  assert.equal(refused!.problem, 'connection refused');
  assert.equal(refused!.lastSeenMsAgo, null);
  assert.equal(hung!.problem, 'no answer in time');
  assert.equal(hung!.membership, 'learner');
  assert.equal(unpublished!.clientURL, `http://127.0.0.1:${refusing}`);
  assert.match(unpublished!.problem ?? '', /^connection refused \(no client URL published yet/);
  // Member 4 has most likely not started yet: no "down" on the timeline for it.
  const observed = events.since(0).filter((e) => e.kind === 'reachability');
  assert.deepEqual(observed.map((e) => e.kind === 'reachability' && [e.member, e.up]).sort(), [[2, false], [3, false]]);
});

/** Everything an SSE stream has sent so far (read as it comes: leaving a for-await loop would destroy it). */
function collect(body: NodeJS.ReadableStream): { text: string } {
  const seen = { text: '' };
  body.on('data', (chunk: Buffer) => (seen.text += chunk.toString('utf8')));
  return seen;
}

async function sent(seen: { text: string }, pattern: RegExp): Promise<string> {
  return until(`the stream to send ${pattern}`, async () => (pattern.test(seen.text) ? seen.text : undefined));
}

test('/-/events: kept events (after Last-Event-ID), then live ones; at most uiEventClientsMax streams; close ends them', { timeout: 60_000 }, async (t) => {
  const { app, events } = await setup(t, [{ id: 1, peerURL: 'http://127.0.0.1:1', role: 'voter' }]);
  events.event({ kind: 'leader', leader: 1, term: 1 });
  events.event({ kind: 'snapshot', how: 'taken', index: 9 });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });

  const first = await request(`${address}/-/events`, { headers: { 'last-event-id': '1' } });
  assert.equal(first.statusCode, 200);
  assert.match(String(first.headers['content-type']), /^text\/event-stream/);
  const stream = collect(first.body);
  const backlog = await sent(stream, /"kind":"snapshot"/);
  assert.doesNotMatch(backlog, /"kind":"leader"/, 'event 1 was before Last-Event-ID');
  assert.match(backlog, /id: 2\nevent: raft\ndata: \{/);
  events.observed({ kind: 'reachability', member: 2, up: false });
  assert.match(await sent(stream, /"kind":"reachability"/), /"member":2/);

  const others = [];
  for (let i = 1; i < uiEventClientsMax; i++) {
    const r = await request(`${address}/-/events`);
    assert.equal(r.statusCode, 200);
    others.push(r);
  }
  const refused = await request(`${address}/-/events`);
  assert.equal(refused.statusCode, 503, 'one stream too many');
  assert.equal(refused.headers['retry-after'], '5');
  await refused.body.dump();

  // Every stream still open: close must end them itself, or it waits forever.
  const closed = await within(app.close().then(() => 'closed'), 20_000, 'still open');
  if (closed !== 'closed') for (const r of [first, ...others]) r.body.destroy(); // let the test end
  assert.equal(closed, 'closed', 'app.close() ended the open /-/events streams');
  for (const r of others) await r.body.dump();
  await until('the first stream ended', async () => (first.body.readableEnded || first.body.destroyed ? true : undefined));
});
