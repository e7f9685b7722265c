import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Chan } from '../src/chan.ts';
import { ServiceError } from '../src/errors.ts';
import { buildApp } from '../src/httpapi.ts';
import { ConfChangeType } from '../src/raftpb/types.ts';
import type { ConfChangeRequest } from '../src/queues.ts';
import type { KvApi } from '../src/kvstore.ts';
import { fakeNodeInfo } from './fake-node-info.ts';

class FakeKv implements KvApi {
  readonly map = new Map<string, Uint8Array>();
  failWith: ServiceError | null = null;
  reads: boolean[] = [];
  async put(key: string, value: Uint8Array): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.map.set(key, Uint8Array.from(value));
  }
  async get(key: string, serializable: boolean): Promise<Uint8Array | undefined> {
    if (this.failWith) throw this.failWith;
    this.reads.push(serializable);
    return this.map.get(key);
  }
}

function setup(maxRequestBytes = 64) {
  const kv = new FakeKv();
  const confChangeC = new Chan<ConfChangeRequest>(8);
  let leader = 1;
  const readiness = { listenersOpen: true };
  const transfers: number[] = [];
  let transferOutcome: ServiceError | null = null;
  const members = [
    { id: 1, peerURL: 'http://127.0.0.1:12379', role: 'voter' as const },
    { id: 4, peerURL: 'http://127.0.0.1:42379', role: 'learner' as const },
  ];
  const node = fakeNodeInfo({
    status: async () => ({
      id: 1, leader, term: 2, commit: 7, applied: 7, raftState: 'StateLeader',
      snapshotIndex: 5, walBytes: 1000, snapshotBytes: 200, members,
      lastIndex: 7, recentLogTerms: { firstIndex: 6, terms: [2, 2] }, links: [],
      progress: [{ id: 4, match: 7, next: 8, state: 'replicate', msSinceHeard: 12 }],
    }),
    members: () => members,
    unhealthyReason: async () => (leader === 0 ? 'no leader' : null),
    transferLeader: async (to) => {
      transfers.push(to);
      if (transferOutcome !== null) throw transferOutcome;
      return to;
    },
  });
  const app = buildApp({ kv, confChangeC, maxRequestBytes, node, readiness });
  return {
    app, kv, confChangeC, readiness, transfers,
    setLeader: (l: number) => (leader = l),
    failTransfersWith: (e: ServiceError | null) => (transferOutcome = e),
  };
}

test('PUT then GET: curl -d form content type is stored as raw bytes', async (t) => {
  const { app, kv } = setup();
  t.after(() => app.close());
  const put = await app.inject({
    method: 'PUT', url: '/my-key', payload: 'a=1&b=2',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(put.statusCode, 204);
  assert.equal(Buffer.from(kv.map.get('/my-key')!).toString(), 'a=1&b=2');
  for (const ct of ['application/json', 'text/plain', 'multipart/form-data; boundary=x', '']) {
    const r = await app.inject({ method: 'PUT', url: '/k', payload: '{not json', headers: { 'content-type': ct } });
    assert.equal(r.statusCode, 204, ct);
  }
  const get = await app.inject({ method: 'GET', url: '/my-key' });
  assert.equal(get.statusCode, 200);
  assert.equal(get.body, 'a=1&b=2');
  assert.deepEqual(kv.reads, [false]);
});

test('binary values round-trip; the query string is not part of the key', async (t) => {
  const { app, kv } = setup();
  t.after(() => app.close());
  const bytes = Buffer.from([0, 255, 1, 254, 10, 13]);
  assert.equal((await app.inject({ method: 'PUT', url: '/bin?x=1', payload: bytes })).statusCode, 204);
  const r = await app.inject({ method: 'GET', url: '/bin?serializable' });
  assert.deepEqual(r.rawPayload, bytes);
  assert.deepEqual(kv.reads, [true]);
});

test('missing key → 404 with a short text body', async (t) => {
  const { app } = setup();
  t.after(() => app.close());
  const r = await app.inject({ method: 'GET', url: '/nope' });
  assert.equal(r.statusCode, 404);
  assert.ok(r.body.length > 0 && r.body.length < 100);
});

test('other methods → 405 with Allow: PUT, GET, POST, DELETE', async (t) => {
  const { app } = setup();
  t.after(() => app.close());
  for (const method of ['HEAD', 'PATCH', 'OPTIONS'] as const) {
    const r = await app.inject({ method, url: '/k' });
    assert.equal(r.statusCode, 405, method);
    assert.equal(r.headers.allow, 'PUT, GET, POST, DELETE');
  }
});

test('a body over the limit → 413, and the store is untouched', async (t) => {
  const { app, kv } = setup(64);
  t.after(() => app.close());
  const r = await app.inject({ method: 'PUT', url: '/big', payload: Buffer.alloc(65, 1) });
  assert.equal(r.statusCode, 413);
  assert.equal(kv.map.has('/big'), false);
  assert.equal((await app.inject({ method: 'PUT', url: '/ok', payload: Buffer.alloc(64, 1) })).statusCode, 204);
});

test('bad node id or URL → 400; good ones go to confChangeC', async (t) => {
  const { app, confChangeC } = setup();
  t.after(() => app.close());
  for (const [method, url, payload] of [
    ['POST', '/abc', 'http://127.0.0.1:42379'],
    ['DELETE', '/abc', ''],
    ['DELETE', '/0', ''],
    ['POST', '/-1', 'http://127.0.0.1:42379'],
    ['POST', '/4', 'not a url'],
    ['POST', '/4', 'http://127.0.0.1:42379/path'],
  ] as const) {
    const r = await app.inject({ method, url, payload });
    assert.equal(r.statusCode, 400, `${method} ${url} ${payload}`);
  }
  assert.equal(confChangeC.length, 0);

  const add = app.inject({ method: 'POST', url: '/4', payload: 'http://127.0.0.1:42379\n' });
  const req = (await confChangeC.recv()).value!;
  assert.deepEqual(req.change, { kind: 'addVoter', type: ConfChangeType.AddNode, nodeId: 4, peerUrl: 'http://127.0.0.1:42379' });
  req.resolve();
  assert.equal((await add).statusCode, 204);

  const del = app.inject({ method: 'DELETE', url: '/3' });
  const req2 = (await confChangeC.recv()).value!;
  assert.deepEqual(req2.change, { kind: 'remove', type: ConfChangeType.RemoveNode, nodeId: 3, peerUrl: '' });
  req2.reject(new ServiceError('ERR_TIMEOUT'));
  const r = await del;
  assert.equal(r.statusCode, 504);
  assert.match(r.body, /outcome unknown/);
});

test('membership refusals answer as the error table says: 409 conflicts, 404 non-member', async (t) => {
  const { app, confChangeC } = setup();
  t.after(() => app.close());
  for (const [code, status, pattern] of [
    ['ERR_MEMBER_EXISTS', 409, /already exists/],
    ['ERR_PEER_URL_EXISTS', 409, /peer URL already used/],
    ['ERR_MEMBER_ID_REMOVED', 409, /single-use/],
    ['ERR_LAST_VOTER', 409, /last voter/],
    ['ERR_MEMBER_NOT_FOUND', 404, /no such member/],
  ] as const) {
    const answer = app.inject({ method: 'POST', url: '/4', payload: 'http://127.0.0.1:42379' });
    (await confChangeC.recv()).value!.reject(new ServiceError(code));
    const r = await answer;
    assert.equal(r.statusCode, status, code);
    assert.match(r.body, pattern);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  }
});

test('a path with malformed percent-encoding answers 400 from the error table, as text', async (t) => {
  const { app, kv, confChangeC } = setup();
  t.after(() => app.close());
  for (const [method, url] of [['GET', '/%zz'], ['PUT', '/%zz'], ['POST', '/%zz'], ['DELETE', '/a%2'], ['GET', '/%E0%A4%A']] as const) {
    const r = await app.inject({ method, url, payload: method === 'PUT' || method === 'POST' ? 'x' : undefined });
    assert.equal(r.statusCode, 400, `${method} ${url}`);
    assert.equal(r.body, 'bad path: malformed percent-encoding\n');
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  }
  assert.equal(kv.map.size, 0);
  assert.equal(confChangeC.length, 0);
  // A well-formed escape is an ordinary key, taken raw as raftexample does.
  assert.equal((await app.inject({ method: 'PUT', url: '/%41', payload: 'v' })).statusCode, 204);
  assert.deepEqual([...kv.map.keys()], ['/%41']);
});

test('certainly not applied → 503 with Retry-After; outcome unknown → 504; never a hang', async (t) => {
  const { app, kv } = setup();
  t.after(() => app.close());
  for (const code of ['ERR_NO_LEADER', 'ERR_NOT_PROPOSED', 'ERR_STOPPING', 'ERR_OVERLOADED'] as const) {
    kv.failWith = new ServiceError(code);
    for (const method of ['PUT', 'GET'] as const) {
      const r = await app.inject({ method, url: '/k', payload: method === 'PUT' ? 'v' : undefined });
      assert.equal(r.statusCode, 503, code);
      assert.equal(r.headers['retry-after'], '1');
      assert.match(r.body, /not applied/);
    }
  }
  for (const code of ['ERR_TIMEOUT', 'ERR_STOPPING_IN_FLIGHT'] as const) {
    kv.failWith = new ServiceError(code);
    const r = await app.inject({ method: 'PUT', url: '/k', payload: 'v' });
    assert.equal(r.statusCode, 504, code);
    assert.equal(r.headers['retry-after'], undefined);
    assert.match(r.body, /outcome unknown/);
  }
  kv.failWith = new ServiceError('ERR_READ_TIMEOUT');
  assert.equal((await app.inject({ method: 'GET', url: '/k' })).statusCode, 504);
});

test('reserved paths: health, status, members; writes under /-/ refused', async (t) => {
  const { app, setLeader } = setup();
  t.after(() => app.close());
  const health = await app.inject({ method: 'GET', url: '/-/health' });
  assert.equal(health.statusCode, 200);
  assert.deepEqual(health.json(), { health: true });
  const st = (await app.inject({ method: 'GET', url: '/-/status' })).json();
  assert.deepEqual(Object.keys(st).sort(), [
    'applied', 'commit', 'id', 'lastIndex', 'leader', 'links', 'members', 'progress', 'raftState', 'recentLogTerms',
    'snapshotBytes', 'snapshotIndex', 'term', 'version', 'walBytes',
  ]);
  assert.equal(st.version, JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  assert.deepEqual(st.progress, [{ id: 4, match: 7, next: 8, state: 'replicate', msSinceHeard: 12 }]);
  const members = (await app.inject({ method: 'GET', url: '/-/members' })).json();
  assert.deepEqual(members, {
    members: [{ id: 1, peerURL: 'http://127.0.0.1:12379', role: 'voter' }, { id: 4, peerURL: 'http://127.0.0.1:42379', role: 'learner' }],
  });
  assert.equal((await app.inject({ method: 'PUT', url: '/-/health', payload: 'x' })).statusCode, 400);
  assert.equal((await app.inject({ method: 'GET', url: '/-/nothing' })).statusCode, 404);
  setLeader(0);
  const h = await app.inject({ method: 'GET', url: '/-/health' });
  assert.equal(h.statusCode, 503);
  assert.equal(h.headers['retry-after'], '1');
  assert.deepEqual(h.json(), { health: false, reason: 'no leader' });
});

test('/-/ready: 503 until main says both listeners are open, 200 then', async () => {
  const { app, readiness } = setup();
  readiness.listenersOpen = false;
  const before = await app.inject({ method: 'GET', url: '/-/ready' });
  assert.equal(before.statusCode, 503);
  assert.deepEqual(before.json(), { ready: false, reason: 'listeners not open yet' });
  readiness.listenersOpen = true;
  const open = await app.inject({ method: 'GET', url: '/-/ready' });
  assert.equal(open.statusCode, 200);
  assert.deepEqual(open.json(), { ready: true });
  await app.close();
});

test('/-/ready answers 503 when the node says it is stopping', async (t) => {
  const kv = new FakeKv();
  const app = buildApp({
    kv, confChangeC: new Chan<ConfChangeRequest>(1), maxRequestBytes: 64, readiness: { listenersOpen: true },
    node: fakeNodeInfo({ notReadyReason: () => 'stopping' }),
  });
  t.after(() => app.close());
  const r = await app.inject({ method: 'GET', url: '/-/ready' });
  assert.equal(r.statusCode, 503);
  assert.deepEqual(r.json(), { ready: false, reason: 'stopping' });
});

test('POST /<id>?learner=true asks for a learner; ?learner=false and no flag for a voter', async (t) => {
  const { app, confChangeC } = setup();
  t.after(() => app.close());
  for (const [query, kind, type] of [
    ['?learner=true', 'addLearner', ConfChangeType.AddLearnerNode],
    ['?learner', 'addLearner', ConfChangeType.AddLearnerNode],
    ['?learner=false', 'addVoter', ConfChangeType.AddNode],
    ['', 'addVoter', ConfChangeType.AddNode],
  ] as const) {
    const add = app.inject({ method: 'POST', url: `/5${query}`, payload: 'http://127.0.0.1:52379' });
    const req = (await confChangeC.recv()).value!;
    assert.deepEqual(req.change, { kind, type, nodeId: 5, peerUrl: 'http://127.0.0.1:52379' }, query);
    req.resolve();
    assert.equal((await add).statusCode, 204);
  }
});

test('POST /-/members/<id>/promote asks for a promotion; refusals as the error table says', async (t) => {
  const { app, confChangeC } = setup();
  t.after(() => app.close());
  const ok = app.inject({ method: 'POST', url: '/-/members/4/promote' });
  const req = (await confChangeC.recv()).value!;
  assert.deepEqual(req.change, { kind: 'promote', type: ConfChangeType.AddNode, nodeId: 4, peerUrl: '' });
  req.resolve();
  assert.equal((await ok).statusCode, 204);
  for (const [code, status, pattern] of [
    ['ERR_LEARNER_NOT_READY', 409, /not caught up/],
    ['ERR_MEMBER_IS_VOTER', 409, /already a voter/],
    ['ERR_MEMBER_NOT_FOUND', 404, /no such member/],
    ['ERR_NOT_LEADER', 503, /send it to the leader/],
  ] as const) {
    const answer = app.inject({ method: 'POST', url: '/-/members/4/promote' });
    (await confChangeC.recv()).value!.reject(new ServiceError(code));
    const r = await answer;
    assert.equal(r.statusCode, status, code);
    assert.match(r.body, pattern);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  }
  for (const url of ['/-/members/0/promote', '/-/members/x/promote', '/-/members//promote']) {
    const r = await app.inject({ method: 'POST', url });
    assert.equal(r.statusCode, 400, url);
    assert.match(r.body, /bad node id/);
  }
  assert.equal((await app.inject({ method: 'GET', url: '/-/members/4/promote' })).statusCode, 400);
  assert.equal(confChangeC.length, 0);
});

test('POST /-/transfer-leader?to=<id>: 200 with the new leader; bad targets 400; refusals as tabled', async (t) => {
  const { app, transfers, failTransfersWith } = setup();
  t.after(() => app.close());
  const r = await app.inject({ method: 'POST', url: '/-/transfer-leader?to=2' });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), { leader: 2 });
  for (const url of ['/-/transfer-leader', '/-/transfer-leader?to=', '/-/transfer-leader?to=0', '/-/transfer-leader?to=abc', '/-/transfer-leader?from=2']) {
    const bad = await app.inject({ method: 'POST', url });
    assert.equal(bad.statusCode, 400, url);
    assert.match(bad.body, /bad transfer target/);
  }
  assert.deepEqual(transfers, [2]);
  for (const [code, status, pattern] of [
    ['ERR_BAD_TRANSFER_TARGET', 400, /bad transfer target/],
    ['ERR_TRANSFER_TO_LEARNER', 409, /learner/],
    ['ERR_NO_LEADER', 503, /no leader/],
    ['ERR_TRANSFER_REFUSED', 503, /refused/],
    ['ERR_TRANSFER_TIMEOUT', 504, /timed out/],
  ] as const) {
    failTransfersWith(new ServiceError(code));
    const res = await app.inject({ method: 'POST', url: '/-/transfer-leader?to=3' });
    assert.equal(res.statusCode, status, code);
    assert.match(res.body, pattern);
  }
  assert.equal((await app.inject({ method: 'GET', url: '/-/transfer-leader?to=2' })).statusCode, 400);
});

test('a closed confChangeC (shutting down) → 503', async (t) => {
  const { app, confChangeC } = setup();
  t.after(() => app.close());
  confChangeC.close();
  const r = await app.inject({ method: 'DELETE', url: '/2' });
  assert.equal(r.statusCode, 503);
});

test('a value is taken as bytes whatever media type it claims, even a malformed one', async (t) => {
  const { app, kv } = setup();
  t.after(() => app.close());
  for (const [i, type] of [';;;', 'application/json', 'multipart/form-data; boundary=', 'text/plain; charset=nope', 'a'.repeat(300)].entries()) {
    const r = await app.inject({ method: 'PUT', url: `/k${i}`, headers: { 'content-type': type }, payload: '{' });
    assert.equal(r.statusCode, 204, type);
    assert.equal(Buffer.from(kv.map.get(`/k${i}`)!).toString(), '{');
  }
});
