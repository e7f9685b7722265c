// The README walkthrough on a real 3-node cluster: PUT and GET, add node 4 with --join,
// remove node 3 (whose process then exits 0).

import assert from 'node:assert/strict';
import { clusterTest, http, until, within } from './cluster.ts';

clusterTest('README walkthrough: put, get, add node 4 with --join, remove node 3', 3, {}, async (c) => {
  const [n1, n2, n3] = [c.node(1), c.node(2), c.node(3)];
  await c.putAcked(n1, '/my-key', 'hello');
  for (const n of [n1, n2, n3]) {
    const r = await c.getAnswer(n, '/my-key');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello');
  }

  // add node 4, then start it with --join and the 4-URL cluster list
  const n4 = await c.allocate();
  assert.equal((await http('POST', `${n1.url}/4`, n4.peerUrl)).status, 204);
  c.spawn(n4, c.clusterArg(4), true);
  const got = await until('node 4 to serve my-key', async () => {
    const r = await c.get(n4, '/my-key');
    return r.status === 200 ? r.body : undefined;
  });
  assert.equal(got, 'hello');
  const members = JSON.parse((await http('GET', `${n1.url}/-/members`)).body).members;
  assert.deepEqual(members.map((m: { id: number }) => m.id), [1, 2, 3, 4]);
  await c.putAcked(n4, '/from-4', 'four');
  assert.equal((await c.getAnswer(n2, '/from-4')).body, 'four');

  // remove node 3: it shuts itself down, with status 0
  assert.equal((await http('DELETE', `${n1.url}/3`)).status, 204);
  const code = await within(n3.exit, 20_000, 'still running');
  assert.equal(code, 0);
  // If node 3 was the leader, the others elect a new one first (503 + Retry-After meanwhile).
  await until('a write after the removal', async () => ((await c.put(n1, '/after', 'removal')).status === 204 ? true : undefined));
  assert.equal((await c.getAnswer(n4, '/after')).body, 'removal');
  const after = JSON.parse((await http('GET', `${n2.url}/-/members`)).body).members;
  assert.deepEqual(after.map((m: { id: number }) => m.id), [1, 2, 4]);

  // The membership API is as strict as etcd's, and its refusals change nothing.
  const answer = async (method: string, path: string, body?: string) => {
    const r = await until(`${method} ${path} answered`, async () => {
      const res = await http(method, `${n1.url}${path}`, body);
      return res.status === 503 ? undefined : res;
    });
    return `${r.status} ${r.body.trim()}`;
  };
  assert.match(await answer('POST', '/3', 'http://127.0.0.1:1'), /^409 member id was removed/);
  assert.match(await answer('POST', '/2', 'http://127.0.0.1:1'), /^409 member already exists/);
  assert.match(await answer('POST', '/5', n2.peerUrl), /^409 peer URL already used/);
  assert.match(await answer('DELETE', '/3'), /^404 no such member/);
  assert.match(await answer('DELETE', '/9'), /^404 no such member/);
  assert.match(await answer('GET', '/%zz'), /^400 bad path/);
  // Ids, peer URLs and roles: a member's client URL is published through Raft on its own
  // schedule, and may land between the two reads.
  const membership = (ms: { id: number; peerURL: string; role: string }[]) => ms.map(({ id, peerURL, role }) => ({ id, peerURL, role }));
  const unchanged = JSON.parse((await http('GET', `${n1.url}/-/members`)).body).members;
  assert.deepEqual(membership(unchanged), membership(after));
});

clusterTest('removing the last voter is refused with 409, and the node keeps serving', 1, {}, async (c) => {
  const n1 = c.node(1);
  await c.putAcked(n1, '/k', 'v');
  const r = await http('DELETE', `${n1.url}/1`);
  assert.equal(r.status, 409);
  assert.match(r.body, /last voter/);
  await c.putAcked(n1, '/k', 'still');
  assert.equal((await c.getAnswer(n1, '/k')).body, 'still');
});

clusterTest('a node removed while it was down is told so (410) when it comes back, and exits 0', 3, {}, async (c) => {
  const leader = c.node(await c.waitLeader());
  const victim = c.nodes.find((n) => n !== leader)!;
  await c.kill(victim);
  const ok = (r: { status: number }) => (r.status === 204 ? true : undefined);
  await until('the removal', async () => ok(await http('DELETE', `${leader.url}/${victim.id}`)));
  await until('a write', async () => ok(await c.put(leader, '/k', 'v')));
  c.restart(victim);
  const code = await within(victim.exit, 20_000, 'still running');
  assert.equal(code, 0);
  assert.match(victim.log, /removed from the cluster/);
  await until('a write after', async () => ok(await c.put(leader, '/k2', 'v2')));
});

clusterTest('DELETE of a node sent to that node itself answers 204, then the node exits 0', 3, {}, async (c) => {
  const n2 = c.node(2);
  const r = await until('the removal', async () => {
    const res = await http('DELETE', `${n2.url}/2`);
    return res.status === 503 ? undefined : res;
  });
  assert.equal(r.status, 204);
  assert.equal(await within(n2.exit, 20_000, 'still running'), 0);
  await c.putAcked(c.node(1), '/k', 'v');
});
