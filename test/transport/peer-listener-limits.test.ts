// The peer listener protects the node: a slow sender is cut off, and past a bound of requests
// (or of snapshots, each buffered whole) at once, more are shed with 503 before their bodies
// are read.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { request } from 'undici';
import { PATH_MESSAGES, PATH_SNAPSHOT } from '../../src/transport/headers.ts';
import { createHttpNetwork } from '../../src/transport/http-network.ts';
import type { PeerResponse, PeerService } from '../../src/transport/network.ts';
import { freePort, until } from '../e2e/cluster.ts';

/** A service whose answers wait until the test lets them go. */
function heldService() {
  const waiting: (() => void)[] = [];
  const service: PeerService = {
    bodyBytesMax: () => 1024 * 1024,
    handle: () => new Promise<PeerResponse>((resolve) => waiting.push(() => resolve({ status: 204, body: new Uint8Array(0) }))),
  };
  return { service, waiting, releaseAll: () => waiting.splice(0).forEach((r) => r()) };
}

async function listen(t: import('node:test').TestContext, service: PeerService, limits: { requestReceiveTimeoutMs: number; requestsInFlightMax: number; snapshotsInFlightMax: number }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const listener = await createHttpNetwork(null, limits).listen(url, service);
  t.after(() => listener.close());
  return { url, port };
}

const post = (url: string, path: string) =>
  request(url + path, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([1]) }).then(async (r) => {
    await r.body.dump();
    return r.statusCode;
  });

test('a peer that sends its request too slowly is cut off', async (t) => {
  const { service } = heldService();
  const { port } = await listen(t, service, { requestReceiveTimeoutMs: 300, requestsInFlightMax: 8, snapshotsInFlightMax: 1 });
  const socket = connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  // Headers promise a body that never comes.
  socket.write(`POST ${PATH_MESSAGES} HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 100\r\n\r\n`);
  await until('the listener cuts the slow sender off', async () => (closed ? true : undefined), 10_000);
});

test('past the bound of requests at once, more are shed with 503; once they finish, requests are served again', async (t) => {
  const held = heldService();
  const { url } = await listen(t, held.service, { requestReceiveTimeoutMs: 10_000, requestsInFlightMax: 2, snapshotsInFlightMax: 1 });
  const first = [post(url, PATH_MESSAGES), post(url, PATH_MESSAGES)];
  await until('two requests held', async () => (held.waiting.length === 2 ? true : undefined));
  assert.equal(await post(url, PATH_MESSAGES), 503);
  held.releaseAll();
  assert.deepEqual(await Promise.all(first), [204, 204]);
  const again = post(url, PATH_MESSAGES);
  await until('the next request is served', async () => (held.waiting.length === 1 ? true : undefined));
  held.releaseAll();
  assert.equal(await again, 204);
});

test('one snapshot is received at a time: a second one at once is shed with 503', async (t) => {
  const held = heldService();
  const { url } = await listen(t, held.service, { requestReceiveTimeoutMs: 10_000, requestsInFlightMax: 8, snapshotsInFlightMax: 1 });
  const first = post(url, PATH_SNAPSHOT);
  await until('one snapshot held', async () => (held.waiting.length === 1 ? true : undefined));
  assert.equal(await post(url, PATH_SNAPSHOT), 503);
  const messages = post(url, PATH_MESSAGES); // messages are not held back by a snapshot
  await until('messages served meanwhile', async () => (held.waiting.length === 2 ? true : undefined));
  held.releaseAll();
  assert.deepEqual([await first, await messages], [204, 204]);
});
