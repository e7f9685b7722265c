// SimNetwork's fault model: delivery and answers, 413, drops on either path (a dropped
// answer was handled), duplicates, reordering, partitions of every shape, timeouts,
// closing listeners and connections, a dead host; the same seed the same trace.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PATH_MESSAGES, PATH_SNAPSHOT } from '../../../src/transport/headers.ts';
import type { PeerRequest, PeerResponse, PeerService, PeerTimeouts } from '../../../src/transport/network.ts';
import { Prng } from '../prng.ts';
import { Scheduler } from './scheduler.ts';
import { SimNetwork, type SimNetworkOptions } from './sim-network.ts';

const A = 'http://10.0.0.1:2380';
const B = 'http://10.0.0.2:2380';
const C = 'http://10.0.0.3:2380';
const TIMEOUTS: PeerTimeouts = { connectTimeoutMs: 100, requestTimeoutMs: 1000, snapshotTimeoutMs: 5000 };

/** A service that records what it handled and answers 200 with the body reversed (or after `holdMs`). */
function echo(scheduler: Scheduler, holdMs = 0) {
  const handled: { path: string; headers: Record<string, unknown>; body: string }[] = [];
  const service: PeerService = {
    bodyBytesMax: (path) => (path === PATH_SNAPSHOT ? 1000 : 10),
    async handle(req) {
      handled.push({ path: req.path, headers: req.headers, body: Buffer.from(req.body).toString() });
      if (holdMs > 0) await scheduler.sleep(holdMs);
      return { status: 200, body: Buffer.from(Buffer.from(req.body).toString().split('').reverse().join('')) };
    },
  };
  return { handled, service };
}

const post = (body: string | string[], path = PATH_MESSAGES): PeerRequest => ({
  method: 'POST',
  path,
  headers: { 'X-Raft-From': '1' },
  body: typeof body === 'string' ? Buffer.from(body) : body.map((s) => Buffer.from(s)),
});

async function setup(seed = 1, opts: SimNetworkOptions = {}, holdMs = 0) {
  const scheduler = new Scheduler();
  const network = new SimNetwork(scheduler, new Prng(seed), opts);
  const a = network.host(A);
  const b = network.host(B);
  const atB = echo(scheduler, holdMs);
  const atA = echo(scheduler, holdMs);
  await b.listen(B, atB.service);
  await a.listen(A, atA.service);
  return { scheduler, network, a, b, atB, atA };
}

/** Send and note when the answer came. */
async function timed(scheduler: Scheduler, p: Promise<PeerResponse>) {
  const start = scheduler.now;
  const r = await scheduler.complete(p);
  return { status: r.status, body: Buffer.from(r.body).toString(), ms: scheduler.now - start };
}

test('a request reaches the service after a latency, slices concatenated, header names in lower case; the answer comes back', async () => {
  const { scheduler, a, atB } = await setup();
  const r = await timed(scheduler, a.connect(B, TIMEOUTS).request(post(['ab', 'cd'])));
  assert.deepEqual({ status: r.status, body: r.body }, { status: 200, body: 'dcba' });
  assert.ok(r.ms > 0 && r.ms <= 4);
  assert.deepEqual(atB.handled, [{ path: PATH_MESSAGES, headers: { 'x-raft-from': '1' }, body: 'abcd' }]);
});

test("a body over the service's bodyBytesMax(path) is answered 413 without calling the handler", async () => {
  const { scheduler, a, atB } = await setup();
  const connection = a.connect(B, TIMEOUTS);
  assert.equal((await timed(scheduler, connection.request(post('x'.repeat(11))))).status, 413);
  assert.equal((await timed(scheduler, connection.request(post('x'.repeat(11), PATH_SNAPSHOT)))).status, 200);
  assert.equal(atB.handled.length, 1);
});

test('a dropped request is never handled; a dropped answer was: both give status 0 at the timeout', async () => {
  const lostRequest = await setup(1, { request: { dropProbability: 1 } });
  const r1 = await timed(lostRequest.scheduler, lostRequest.a.connect(B, TIMEOUTS).request(post('x')));
  assert.deepEqual([r1.status, r1.ms, lostRequest.atB.handled.length], [0, 1000, 0]);

  // A snapshot waits the request timeout plus its bytes at 1 MiB/s, at most snapshotTimeoutMs.
  const lostAnswer = await setup(1, { response: { dropProbability: 1 } });
  const toB = lostAnswer.a.connect(B, TIMEOUTS);
  const small = await timed(lostAnswer.scheduler, toB.request(post('x', PATH_SNAPSHOT)));
  assert.deepEqual([small.status, small.ms, lostAnswer.atB.handled.length], [0, 1001, 1]);
  const mid = await timed(lostAnswer.scheduler, toB.request({ ...post('', PATH_SNAPSHOT), body: [new Uint8Array(2 * 2 ** 20)] }));
  assert.deepEqual([mid.status, mid.ms], [0, 3000]);
  const large = await timed(lostAnswer.scheduler, toB.request({ ...post('', PATH_SNAPSHOT), body: [new Uint8Array(8 * 2 ** 20)] }));
  assert.deepEqual([large.status, large.ms], [0, 5000]);
});

test('duplicates run the handler twice, the sender takes one answer; random latencies and delays reorder requests', async () => {
  const dup = await setup(1, { request: { duplicateProbability: 1 } });
  const r = await timed(dup.scheduler, dup.a.connect(B, TIMEOUTS).request(post('x')));
  await dup.scheduler.runUntil(dup.scheduler.now + 100);
  assert.equal(r.status, 200);
  assert.equal(dup.atB.handled.length, 2);

  const slow = await setup(2, { latencyMs: { minMs: 1, maxMs: 5 }, request: { delayProbability: 0.3, delayMsMax: 50 } });
  const connection = slow.a.connect(B, TIMEOUTS);
  const sent = Array.from({ length: 20 }, (_, k) => `${k}`);
  await slow.scheduler.complete(Promise.all(sent.map((k) => connection.request(post(k)))));
  const arrived = slow.atB.handled.map((h) => h.body);
  assert.deepEqual([...arrived].sort(), [...sent].sort());
  assert.notDeepEqual(arrived, sent);
});

test('partitions: symmetric, one way (requests across it lost, or their answers), isolation; heal', async () => {
  const { scheduler, network, a, b, atA, atB } = await setup();
  const c = network.host(C);
  const atC = echo(scheduler);
  await c.listen(C, atC.service);
  const status = async (from: typeof a, to: string) => (await timed(scheduler, from.connect(to, TIMEOUTS).request(post('x')))).status;

  network.partition([[A], [B, C]]);
  assert.deepEqual([await status(a, B), await status(b, A), await status(b, C)], [0, 0, 200]);
  network.heal();
  network.cutOneWay([A], [B]);
  const handledBefore = atA.handled.length;
  assert.deepEqual([await status(a, B), await status(b, A)], [0, 0]);
  assert.equal(atA.handled.length, handledBefore + 1); // b's request reached a; a's answer did not reach b
  assert.equal(atB.handled.length, 0); // every request from a to b was lost
  network.heal();
  network.isolate(C);
  assert.deepEqual([await status(a, C), await status(c, B), await status(a, B)], [0, 0, 200]);
  assert.equal(network.canReach(A, C), false);
  network.heal();
  assert.equal(await status(a, C), 200);
});

test('a closed listener refuses at once (status 0 before the timeout); one closed while handling resets; a closed connection answers 0', async () => {
  const { scheduler, network, a } = await setup(1, {}, 50);
  const held = network.host(C);
  const listener = await held.listen(C, echo(scheduler, 50).service);
  const connection = a.connect(C, TIMEOUTS);
  const inFlight = connection.request(post('x'));
  await scheduler.runUntil(scheduler.now + 10); // handled, its answer held for 50 ms
  await listener.close();
  const reset = await timed(scheduler, inFlight);
  assert.ok(reset.status === 0 && reset.ms < 100, `${reset.ms} ms`); // reset, not timed out
  const refused = await timed(scheduler, connection.request(post('x')));
  assert.ok(refused.status === 0 && refused.ms < 10);

  await held.listen(C, echo(scheduler, 500).service); // listening again: the address is free
  const second = a.connect(C, TIMEOUTS);
  const pending = second.request(post('y'));
  await scheduler.runUntil(scheduler.now + 10);
  await second.close();
  const closed = await timed(scheduler, pending);
  assert.deepEqual([closed.status, closed.ms], [0, 0]);
  assert.equal((await timed(scheduler, second.request(post('z')))).status, 0);
});

test('a killed host: its listeners are gone, and nothing it started settles', async () => {
  const { scheduler, a, b } = await setup(1, {}, 20);
  const fromB = b.connect(A, TIMEOUTS).request(post('x'));
  b.kill();
  await assert.rejects(scheduler.complete(fromB), /did not settle/);
  assert.equal((await timed(scheduler, a.connect(B, TIMEOUTS).request(post('x')))).status, 0);
  await assert.rejects(scheduler.complete(b.connect(A, TIMEOUTS).request(post('x'))), /did not settle/);
});

test('the same seed gives the same trace; another seed a different one', async () => {
  const run = async (seed: number) => {
    const lines: string[] = [];
    const { scheduler, a, b } = await setup(seed, { trace: (l) => lines.push(l), request: { dropProbability: 0.2, duplicateProbability: 0.2 }, response: { dropProbability: 0.2, delayProbability: 0.3, delayMsMax: 20 } });
    const ab = a.connect(B, TIMEOUTS);
    const ba = b.connect(A, TIMEOUTS);
    await scheduler.complete(Promise.all(Array.from({ length: 30 }, (_, k) => (k % 2 ? ab : ba).request(post(`${k}`)))));
    return lines;
  };
  const first = await run(21);
  assert.ok(first.some((l) => l.includes('lost')) && first.some((l) => l.includes('duplicate')));
  assert.deepEqual(first, await run(21));
  assert.notDeepEqual(first, await run(22));
});
