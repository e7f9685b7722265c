// The client's retry policy on a scripted network and a fake clock: round-robin, moving on
// at once after a refusal, quorum backoff between rounds, refusals returned at once, and
// unknown outcomes never retried for a write unless asked.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, ClientError, UnavailableError, UnknownOutcomeError } from '../../src/client/index.ts';
import { quorumOf } from '../../src/client/endpoints.ts';
import { backoffMs, runWithRetry, type RetryPolicy } from '../../src/client/retry.ts';
import { answer, FakeNetwork, lost, refused, type Script } from './fake-transport.ts';

const E1 = 'http://127.0.0.1:1';
const E2 = 'http://127.0.0.1:2';
const E3 = 'http://127.0.0.1:3';
const THREE = [E1, E2, E3];
const policy: RetryPolicy = { requestTimeoutMs: 10_000, attemptTimeoutMs: 1_000, backoffBaseMs: 100, backoffMaxMs: 800 };
const put = { request: { method: 'PUT' as const, path: '/k', body: Buffer.from('v') }, effect: 'write' as const, retryUnknown: false };
const read = { request: { method: 'GET' as const, path: '/k' }, effect: 'read' as const, retryUnknown: false };

function run(script: Script, job: typeof put | typeof read, opts: { start?: number; endpoints?: string[]; random?: number } = {}) {
  const net = new FakeNetwork(script);
  const result = runWithRetry(net, opts.endpoints ?? THREE, opts.start ?? 0, job, policy, net.env(opts.random));
  return { net, result };
}

test('quorum of the endpoints: a majority', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 7].map(quorumOf), [1, 2, 2, 3, 3, 4]);
});

test('a refused or 503 attempt moves to the next endpoint at once; the first answer is returned', async () => {
  const { net, result } = run({ [E1]: [refused], [E2]: [answer(503, 'no leader; not applied')], [E3]: [answer(204)] }, put);
  const got = await result;
  assert.equal(got.status, 204);
  assert.equal(got.endpoint, E3);
  assert.equal(net.shape(), '1 2 | 3', 'one wait, after a quorum (2) of attempts');
});

test('all endpoints down: rounds of a quorum of attempts, each followed by a longer jittered wait, then UnavailableError', async () => {
  const { net, result } = run({}, read, { start: 1 });
  const err = await result.then(() => assert.fail('resolved'), (e: unknown) => e);
  assert.ok(err instanceof UnavailableError, String(err));
  assert.match(err.message, /no endpoint served the request .*ECONNREFUSED/);
  // Round-robin from the start index, two attempts a round.
  assert.deepEqual(net.attempts().slice(0, 6), [E2, E3, E1, E2, E3, E1]);
  assert.match(net.shape(), /^2 3 \| 1 2 \| 3 1 \| 2 3 \|/);
  const waits = net.log.flatMap((e) => ('backoffMs' in e ? [e.backoffMs] : []));
  // random = 0.5: three quarters of base·2^(round-1), capped at the max.
  assert.deepEqual(waits.slice(0, 5), [75, 150, 300, 600, 600]);
  assert.ok(net.nowMs <= policy.requestTimeoutMs, 'it stops within the request timeout');
  assert.equal(err.attempts.length, net.attempts().length);
});

test('backoff jitter stays within [half, whole) of the round\'s wait', () => {
  for (const round of [1, 2, 3, 10, 1000]) {
    const full = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (round - 1));
    assert.equal(backoffMs(policy, round, 0), full / 2);
    assert.ok(backoffMs(policy, round, 0.999999) < full);
  }
});

test('a 4xx comes back at once, after one attempt', async () => {
  const { net, result } = run({ [E1]: [answer(409, 'member already exists')] }, put);
  assert.equal((await result).status, 409);
  assert.equal(net.attempts().length, 1);
});

test('a write whose outcome is unknown (504, or lost after sending) is not retried: UnknownOutcomeError', async () => {
  for (const unknown of [answer(504, 'request timed out; outcome unknown, it may still be applied'), lost, answer(500, 'internal error')]) {
    const { net, result } = run({ [E1]: [unknown], [E2]: [answer(204)] }, put);
    const err = await result.then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof UnknownOutcomeError, String(err));
    assert.equal(err.endpoint, E1);
    assert.deepEqual(net.attempts(), [E1], 'never sent again');
  }
});

test('with retryUnknown a write goes on, and stays unknown if nothing later answers', async () => {
  const again = { ...put, retryUnknown: true };
  const ok = run({ [E1]: [answer(504)], [E2]: [answer(204)] }, again);
  assert.equal((await ok.result).status, 204);
  const down = run({ [E1]: [lost], [E2]: [refused], [E3]: [refused] }, again);
  const err = await down.result.then(() => assert.fail('resolved'), (e: unknown) => e);
  assert.ok(err instanceof UnknownOutcomeError, 'a write that may have been applied is never reported as failed');
  assert.ok(down.net.attempts().length > 3);
});

test('a read has no effect: an unknown outcome is retried at the next endpoint', async () => {
  const { net, result } = run({ [E1]: [answer(504, 'read timed out')], [E2]: [answer(200, 'v')] }, read);
  assert.equal((await result).body.toString(), 'v');
  assert.deepEqual(net.attempts(), [E1, E2]);
});

test('the caller\'s abort ends the request with its reason, during a wait too', async () => {
  const net = new FakeNetwork({});
  const controller = new AbortController();
  const env = { ...net.env(), sleep: async () => controller.abort(new Error('caller gave up')) };
  const job = { ...read, signal: controller.signal };
  await assert.rejects(runWithRetry(net, THREE, 0, job, policy, env), /caller gave up/);
  assert.equal(net.attempts().length, 2);
});

test('Client: requests start round-robin; get maps 404 to null; a refusal is a ClientError with the table code', async () => {
  const net = new FakeNetwork({
    [E1]: [answer(204)],
    [E2]: [answer(404, 'Failed to GET')],
    [E3]: [answer(409, 'member already exists: 2')],
  });
  const client = new Client({ endpoints: THREE, transport: net, env: net.env() });
  assert.equal(client.nextEndpoint, E1);
  await client.put('my-key', 'hello');
  assert.equal(await client.get('/my-key'), null);
  const err = await client.addMember(2, 'http://127.0.0.1:9').then(() => assert.fail('resolved'), (e: unknown) => e);
  assert.ok(err instanceof ClientError);
  assert.equal(err.status, 409);
  assert.equal(err.code, 'ERR_MEMBER_EXISTS');
  assert.equal(err.endpoint, E3);
  assert.deepEqual(net.log.map((e) => ('path' in e ? e.path : '')), ['/my-key', '/my-key', '/2']);
  await assert.rejects(client.removeMember(0), /bad member id/);
  await client.close();
});

test('Client: keys are paths, each segment percent-encoded', async () => {
  const net = new FakeNetwork({ [E1]: [answer(204)] });
  const client = new Client({ endpoints: [E1], transport: net, env: net.env() });
  for (const key of ['a b', '/dir/k?x#y', 'é']) await client.put(key, 'v');
  assert.deepEqual(net.log.map((e) => ('path' in e ? e.path : '')), ['/a%20b', '/dir/k%3Fx%23y', '/%C3%A9']);
});

test('Client: sync takes the voters\' client URLs, and keeps the list when none is published', async () => {
  const members = (list: object[]) => answer(200, JSON.stringify({ members: list }));
  const net = new FakeNetwork({
    [E1]: [
      members([{ id: 1, peerURL: 'http://127.0.0.1:11', role: 'voter' }]),
      members([
        { id: 1, peerURL: 'http://127.0.0.1:11', clientURL: 'http://127.0.0.1:21', role: 'voter' },
        { id: 4, peerURL: 'http://127.0.0.1:14', clientURL: 'http://127.0.0.1:24/', role: 'voter' },
        { id: 5, peerURL: 'http://127.0.0.1:15', clientURL: 'http://127.0.0.1:25', role: 'learner' },
        { id: 6, peerURL: 'http://127.0.0.1:16', clientURL: 'not a url', role: 'voter' },
      ]),
    ],
  });
  const client = new Client({ endpoints: [E1], transport: net, env: net.env() });
  assert.deepEqual(await client.sync(), [E1], 'no client URL published: the list stays');
  assert.deepEqual(await client.sync(), ['http://127.0.0.1:21', 'http://127.0.0.1:24']);
  assert.deepEqual(net.retained, [['http://127.0.0.1:21', 'http://127.0.0.1:24']], 'connections to dropped endpoints are closed');
});

test('Client: endpoints are parsed strictly', () => {
  for (const bad of [[], ['127.0.0.1:12380'], ['ftp://h:1'], ['http://h:1/path'], ['http://u:p@h:1'], ['http://h:1?q'], ['http://' + 'a'.repeat(1100)]]) {
    assert.throws(() => new Client({ endpoints: bad }), TypeError, JSON.stringify(bad));
  }
  const client = new Client({ endpoints: ['http://127.0.0.1:1/', ' http://127.0.0.1:1', 'https://localhost:2'] });
  assert.deepEqual(client.endpoints, ['http://127.0.0.1:1', 'https://localhost:2']);
  void client.close();
});
