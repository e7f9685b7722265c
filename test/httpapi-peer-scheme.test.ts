// POST /<id> takes a peer URL of the cluster's one scheme: https:// on a node with peer TLS,
// http:// without; the other is a 400 from the error table, and no conf change is proposed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chan } from '../src/chan.ts';
import type { PeerScheme } from '../src/config.ts';
import { ErrorTable } from '../src/errors.ts';
import { buildApp } from '../src/httpapi.ts';
import type { KvApi } from '../src/kvstore.ts';
import type { NodeInfo } from '../src/node/status.ts';
import type { ConfChangeRequest } from '../src/queues.ts';

function appFor(peerScheme: PeerScheme) {
  const confChangeC = new Chan<ConfChangeRequest>(8);
  // Only POST /<id> is exercised: it touches neither the store nor the node's status.
  const app = buildApp({ kv: {} as KvApi, node: {} as NodeInfo, confChangeC, maxRequestBytes: 1024, peerScheme });
  return { app, confChangeC };
}

for (const [scheme, good, wrong] of [
  ['https:', 'https://127.0.0.1:42379', 'http://127.0.0.1:42379'],
  ['http:', 'http://127.0.0.1:42379', 'https://127.0.0.1:42379'],
] as const) {
  test(`a node whose peers speak ${scheme} adds ${good} and refuses ${wrong} with 400`, async (t) => {
    const { app, confChangeC } = appFor(scheme);
    t.after(() => app.close());
    const refused = await app.inject({ method: 'POST', url: '/4', payload: wrong });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.body.trim(), ErrorTable.ERR_PEER_URL_SCHEME.message);
    assert.equal(confChangeC.length, 0, 'nothing proposed');

    const added = app.inject({ method: 'POST', url: '/4', payload: good });
    const req = await confChangeC.recv();
    assert.ok(!req.done);
    assert.equal(req.value.change.peerUrl, good);
    req.value.resolve();
    assert.equal((await added).statusCode, 204);
  });
}
