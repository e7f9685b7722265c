// Read-your-writes across nodes, and bad input that must not hurt the cluster.

import assert from 'node:assert/strict';
import { clusterTest, http } from './cluster.ts';

clusterTest('read-your-writes: a PUT acknowledged by node 1 is seen at once by GETs on nodes 2 and 3', 3, {}, async (c) => {
  const [n1, n2, n3] = [c.node(1), c.node(2), c.node(3)];
  for (let i = 0; i < 150; i++) {
    const value = `v${i}`;
    await c.putAcked(n1, '/ryw', value);
    for (const n of [n2, n3]) {
      const r = await c.getAnswer(n, '/ryw');
      assert.equal(r.status, 200);
      assert.equal(r.body, value, `round ${i} on node ${n.id}`);
    }
  }
});

clusterTest('bad input: 400 for a bad node id, 413 over the limit; the node keeps serving and loses nothing', 3, { extraArgs: ['--max-request-bytes', '1024'] }, async (c) => {
  const n1 = c.node(1);
  await c.putAcked(n1, '/keep', 'safe');
  assert.equal((await http('POST', `${n1.url}/abc`, 'http://127.0.0.1:1')).status, 400);
  assert.equal((await http('DELETE', `${n1.url}/abc`)).status, 400);
  assert.equal((await http('POST', `${n1.url}/5`, 'not a url')).status, 400);
  const big = await c.put(n1, '/big', 'x'.repeat(2048));
  assert.equal(big.status, 413);
  const patch = await http('PATCH', `${n1.url}/keep`, 'x');
  assert.equal(patch.status, 405);
  assert.equal(patch.headers.allow, 'PUT, GET, POST, DELETE');
  assert.equal((await c.getAnswer(n1, '/missing')).status, 404);

  assert.equal((await c.getAnswer(n1, '/big')).status, 404);
  await c.putAcked(n1, '/after', 'still here');
  for (const n of c.nodes) {
    assert.equal((await c.getAnswer(n, '/keep')).body, 'safe');
    assert.equal((await c.getAnswer(n, '/after')).body, 'still here');
  }
  const members = JSON.parse((await http('GET', `${n1.url}/-/members`)).body).members;
  assert.equal(members.length, 3);
});
