// Hostile input on the peer port, generated (fast-check), sent over HTTP to a real node:
// random bytes, truncated batches, hostile length fields, decodable messages with any field
// set to anything, wrong or missing identity headers, unknown routes. Each is answered with
// a 4xx or taken and dropped by the core; the node never stops, and nothing acknowledged is
// lost.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { request } from 'undici';
import { BinaryWriter, encodeMessages, MESSAGES_VERSION } from '../../src/raftpb/index.ts';
import type { Message } from '../../src/raftpb/index.ts';
import { PATH_CLUSTER, PATH_MESSAGES, PATH_PROBE, PATH_SNAPSHOT, peerHeaders } from '../../src/transport/index.ts';
import { startOneNode } from '../node/one-node.ts';

const ALLOWED = new Set([200, 204, 400, 404, 410, 412, 413]);
const PEER = 2; // a member that does not exist: the node answers it all the same

const index = fc.oneof(fc.nat(50), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
const entry = fc.record({ term: index, index, type: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>, data: fc.uint8Array({ maxLength: 40 }) });
const message: fc.Arbitrary<Message> = fc.record({
  type: fc.integer({ min: 0, max: 18 }) as fc.Arbitrary<Message['type']>,
  to: fc.constant(1),
  from: fc.constant(PEER),
  term: index,
  logTerm: index,
  index,
  entries: fc.array(entry, { maxLength: 4 }),
  commit: index,
  snapshot: fc.constant(null),
  reject: fc.boolean(),
  rejectHint: index,
  context: fc.uint8Array({ maxLength: 16 }),
});

/** Bytes that look like a message batch but lie about their lengths and counts. */
const lyingBatch = fc.tuple(fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }), fc.uint8Array({ maxLength: 64 })).map(([n, rest]) => {
  const w = new BinaryWriter(16);
  w.u8(MESSAGES_VERSION).varint(Number(n & ((1n << 53n) - 1n)));
  return Buffer.concat([w.view(), rest]);
});

const body = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.array(message, { minLength: 1, maxLength: 3 }).map((msgs) => Buffer.from(encodeMessages(msgs))),
  fc.array(message, { minLength: 1, maxLength: 3 }).chain((msgs) => {
    const whole = encodeMessages(msgs);
    return fc.nat(whole.length - 1).map((cut) => Buffer.from(whole.subarray(0, cut)));
  }),
  lyingBatch,
);

type Headers = Record<string, string>;
const headers = (clusterId: string): fc.Arbitrary<Headers> =>
  fc.oneof(
    fc.constant(peerHeaders(clusterId, PEER, 1)),
    fc.constant(peerHeaders('another-cluster', PEER, 1)),
    fc.constant(peerHeaders(clusterId, PEER, 9)),
    fc.record({ from: fc.constantFrom('0', '-1', 'x', '', '01', '99999999999999999999'), to: fc.constantFrom('1', '0', 'one') }).map(({ from, to }) => ({
      ...peerHeaders(clusterId, PEER, 1),
      'x-raft-from': from,
      'x-raft-to': to,
    })),
    fc.constant({ 'content-type': 'application/json', 'x-raft-cluster-id': clusterId, 'x-raft-from': String(PEER), 'x-raft-to': '1' }),
    fc.constant({}),
  );

test('thousands of generated hostile requests to the peer port: refused or dropped, the node keeps serving', async (t) => {
  const { node, kv, config } = await startOneNode(t);
  await kv.put('/kept', Buffer.from('acknowledged'));
  let finished: string | null = null;
  void node.finished.then((r) => (finished = r.kind));
  const base = config.peerUrls[0]!;
  const req = fc.record({
    method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE'),
    path: fc.constantFrom(PATH_MESSAGES, PATH_MESSAGES, PATH_SNAPSHOT, PATH_PROBE, PATH_CLUSTER, '/raft/x', '/', '/raft/%zz'),
    headers: headers(node.clusterId),
    body,
  });
  let tried = 0;
  await fc.assert(
    fc.asyncProperty(req, async (r) => {
      tried++;
      const res = await request(base + r.path, {
        method: r.method as 'POST',
        headers: r.headers,
        body: r.method === 'GET' ? undefined : r.body,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await res.body.dump();
      assert.ok(ALLOWED.has(res.statusCode), `${r.method} ${r.path} answered ${res.statusCode}`);
      assert.equal(finished, null, `the node stopped after ${r.method} ${r.path}`);
    }),
    { numRuns: 1500, seed: 20261201 },
  );
  console.log(`# peer port: ${tried} generated requests`);
  assert.ok(tried >= 1500);

  // A body larger than a peer batch may be is refused before it is read whole.
  const huge = await request(base + PATH_MESSAGES, { method: 'POST', headers: peerHeaders(node.clusterId, PEER, 1), body: Buffer.alloc(65 * 1024 * 1024) });
  await huge.body.dump();
  assert.equal(huge.statusCode, 413);

  assert.equal(finished, null, 'the node is still running');
  assert.equal((await node.status()).leader, 1, 'no stranger moved its leadership');
  assert.equal(Buffer.from((await kv.get('/kept', false))!).toString(), 'acknowledged');
  await kv.put('/after', Buffer.from('still serving'));
  assert.equal(Buffer.from((await kv.get('/after', false))!).toString(), 'still serving');
});
