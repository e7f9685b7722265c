// Hostile input on the client port, generated (fast-check): malformed ids, peer URLs,
// percent-encodings, methods, query strings, headers and bodies, thrown at the real HTTP API
// of a real one-member node. Every one gets a clear answer from the error table (never a
// 500, never a hang), the node keeps serving, and nothing acknowledged is lost.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildApp } from '../../src/httpapi.ts';
import { startOneNode } from '../node/one-node.ts';

const MAX_REQUEST_BYTES = 4096;
/** Statuses an answer may have; a 5xx other than "no leader" or "unknown outcome" is a bug. */
const ALLOWED = new Set([200, 204, 400, 404, 405, 409, 413, 414, 503, 504]);

const hostileId = fc.oneof(
  fc.constantFrom('0', '-1', '00', '01', '1.5', '1e3', ' 1', '1 ', '+1', '0x10', '١', '9007199254740993', '99999999999999999999', ''),
  fc.string({ maxLength: 12 }).filter((s) => !/^[1-9][0-9]{0,15}$/.test(s)),
);
const hostileUrl = fc.oneof(
  fc.constantFrom('', 'not a url', 'ftp://127.0.0.1:1', 'http://', 'http://:80', 'http://127.0.0.1:0', 'http://127.0.0.1:65536',
    'http://u:p@127.0.0.1:1', 'http://127.0.0.1:1/path', 'http://127.0.0.1:1?q', 'http://127.0.0.1:1#f', 'javascript:alert(1)',
    `http://${'a'.repeat(2000)}:1`, 'http://[::1:1', '\u0000http://127.0.0.1:1'),
  fc.string({ maxLength: 64 }).filter((s) => !/^https?:\/\/[\w.-]+:\d+\/?$/.test(s.trim())),
);
const percentish = fc.stringMatching(/^[A-Za-z0-9%/._~!$&'()*+,;=:@-]{0,40}$/);
const method = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND');
const query = fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Za-z0-9=&%+;?.-]{0,30}$/).map((q) => `?${q}`));
const contentType = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain; charset=utf-16', 'multipart/form-data; boundary=x', '*/*', ';;;', 'a'.repeat(300)),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 64 }),
  fc.integer({ min: MAX_REQUEST_BYTES - 2, max: MAX_REQUEST_BYTES + 64 }).map((n) => new Uint8Array(n).fill(0x7b)),
  fc.constantFrom('{"a":', '{"__proto__":{"x":1}}', 'a=1&a=2', '\u0000\uffff'),
);

/** A request: a key path, a membership path with a hostile id or URL, or a reserved path. */
const request = fc.oneof(
  fc.record({ method, path: percentish.map((p) => `/${p}`), query, contentType, body }),
  fc.record({
    method: fc.constantFrom('POST', 'DELETE'),
    path: hostileId.map((id) => `/${encodeURIComponent(id)}`),
    query,
    contentType,
    body: hostileUrl.map((u) => Buffer.from(u)),
  }),
  fc.record({ method: fc.constant('POST'), path: fc.constant('/7'), query, contentType, body: hostileUrl.map((u) => Buffer.from(u)) }),
  fc.record({ method, path: fc.constantFrom('/-/', '/-/health', '/-/status', '/-/members', '/-/x', '/-/%zz', '/-/members/1/promote'), query, contentType, body }),
);

test('thousands of generated hostile requests to the client port: each answered from the error table, nothing lost', async (t) => {
  const { node, kv, confChangeC, config } = await startOneNode(t);
  const app = buildApp({ kv, node, confChangeC, maxRequestBytes: MAX_REQUEST_BYTES });
  t.after(() => app.close());
  await kv.put('/kept', Buffer.from('acknowledged'));

  let tried = 0;
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      tried++;
      const headers: Record<string, string> = {};
      if (r.contentType !== undefined) headers['content-type'] = r.contentType;
      const res = await app.inject({ method: r.method as 'GET', url: r.path + r.query, headers, payload: r.body === undefined ? undefined : Buffer.from(r.body) });
      assert.ok(ALLOWED.has(res.statusCode), `${r.method} ${r.path}${r.query} answered ${res.statusCode}: ${res.body}`);
      if (res.statusCode >= 400 && !r.path.startsWith('/-/') && r.method !== 'HEAD') {
        assert.match(String(res.headers['content-type']), /^text\/plain/, `${r.method} ${r.path}: an error is text`);
        assert.ok(res.body.endsWith('\n') && !res.body.slice(0, -1).includes('\n'), `one line: ${JSON.stringify(res.body)}`);
      }
    }),
    { numRuns: 3000, seed: 20261201 },
  );
  console.log(`# client port: ${tried} generated requests`);
  assert.ok(tried >= 3000);

  // The node still serves, and what was acknowledged before is there.
  assert.deepEqual(node.members(), [{ id: 1, peerURL: config.peerUrls[0], role: 'voter' }], 'no hostile request changed the membership');
  assert.equal(await node.unhealthyReason(), null);
  assert.equal(Buffer.from((await kv.get('/kept', false))!).toString(), 'acknowledged');
  await kv.put('/after', Buffer.from('still serving'));
  assert.equal(Buffer.from((await kv.get('/after', false))!).toString(), 'still serving');
});
