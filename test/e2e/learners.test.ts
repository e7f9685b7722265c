// Learners, promotion and leader transfer on real processes: a 3-voter cluster adds a learner
// (started with --join), which receives the data but never counts for quorum; promotion is
// refused while the learner is behind and accepted once it caught up; a transfer moves
// leadership to the chosen voter and answers after it moved. Health and readiness say 200.

import assert from 'node:assert/strict';
import { clusterTest, http, until, type HttpResult, type TestCluster } from './cluster.ts';

/** POST to the current leader, again while the answer is a 503 (no leader, or not the leader any more). */
async function postToLeader(c: TestCluster, path: string): Promise<HttpResult> {
  return until(`POST ${path} answered`, async () => {
    const leader = c.node(await c.waitLeader());
    const r = await http('POST', leader.url + path);
    return r.status === 503 ? undefined : r;
  });
}

async function roles(c: TestCluster): Promise<string[]> {
  const r = await http('GET', `${c.node(1).url}/-/members`);
  return (JSON.parse(r.body).members as { id: number; role: string }[]).map((m) => `${m.id}:${m.role}`);
}

clusterTest('a learner gets the data, never counts for quorum, is promoted once caught up; leadership moves on request', 3, {}, async (c) => {
  const [n1, n2, n3] = [c.node(1), c.node(2), c.node(3)];
  for (const n of [n1, n2, n3]) {
    assert.equal((await http('GET', `${n.url}/-/ready`)).status, 200);
    assert.equal((await http('GET', `${n.url}/-/health`)).body, '{"health":true}');
  }
  for (let i = 0; i < 20; i++) await c.putAcked(n1, `/k${i}`, `v${i}`);

  // Add node 4 as a learner. Not running yet: far behind, so promotion is refused.
  const n4 = await c.allocate();
  assert.equal((await http('POST', `${n2.url}/4?learner=true`, n4.peerUrl)).status, 204);
  await until('node 1 applied the learner', async () => ((await roles(c)).includes('4:learner') ? true : undefined));
  assert.deepEqual(await roles(c), ['1:voter', '2:voter', '3:voter', '4:learner']);
  const early = await postToLeader(c, '/-/members/4/promote');
  assert.equal(early.status, 409);
  assert.match(early.body, /learner has not caught up/);

  c.spawn(n4, c.clusterArg(4), true);
  const got = await until('the learner serves k19', async () => {
    const r = await c.get(n4, '/k19', '?serializable');
    return r.status === 200 ? r.body : undefined;
  });
  assert.equal(got, 'v19');
  // The leader's status: what is on disk, who is who, and how far each follower is.
  const leaderStatus = await until('the leader reports the learner replicating', async () => {
    const s = JSON.parse((await http('GET', `${c.node(await c.waitLeader()).url}/-/status`)).body);
    const p4 = s.progress?.find((p: { id: number }) => p.id === 4);
    return p4?.state === 'replicate' && typeof p4.msSinceHeard === 'number' ? s : undefined;
  });
  assert.match(leaderStatus.version, /^\d+\.\d+\.\d+/);
  assert.ok(leaderStatus.walBytes > 0 && leaderStatus.snapshotBytes > 0 && leaderStatus.snapshotIndex > 0, JSON.stringify(leaderStatus));
  assert.deepEqual(leaderStatus.members.map((m: { id: number; role: string }) => `${m.id}:${m.role}`), ['1:voter', '2:voter', '3:voter', '4:learner']);
  assert.equal((await c.status(n4))!.leader, leaderStatus.id);
  assert.equal('progress' in JSON.parse((await http('GET', `${n4.url}/-/status`)).body), false, 'progress only on the leader');

  // With a learner, quorum is still 2 of the 3 voters: the learner and one voter down, writes commit.
  const leaderId = await c.waitLeader();
  const voterDown = [n1, n2, n3].find((n) => n.id !== leaderId)!;
  await c.kill(n4);
  await c.kill(voterDown);
  for (let i = 0; i < 5; i++) await c.putAcked(c.node(leaderId), `/down${i}`, 'x');
  const st = JSON.parse((await http('GET', `${c.node(leaderId).url}/-/status`)).body);
  assert.equal(st.raftState, 'StateLeader');
  assert.deepEqual(st.progress.map((p: { id: number }) => p.id), [1, 2, 3, 4].filter((id) => id !== leaderId));
  c.restart(voterDown);
  c.restart(n4);

  // Once it has caught up, the promotion goes through.
  await until('the promotion accepted', async () => {
    const r = await postToLeader(c, '/-/members/4/promote');
    if (r.status === 204) return true;
    if (r.status !== 409 || !/not caught up/.test(r.body)) throw new Error(`promote: ${r.status} ${r.body}`);
    return undefined;
  }, 30_000);
  await until('node 1 applied the promotion', async () => ((await roles(c)).includes('4:voter') ? true : undefined));
  assert.deepEqual(await roles(c), ['1:voter', '2:voter', '3:voter', '4:voter']);
  const again = await postToLeader(c, '/-/members/4/promote');
  assert.equal(again.status, 409);
  assert.match(again.body, /already a voter/);
  assert.equal((await postToLeader(c, '/-/members/9/promote')).status, 404);
  assert.equal((await c.getAnswer(n4, '/down4')).body, 'x');

  // Transfer, asked of a follower: it answers once the chosen voter leads.
  const from = await c.waitLeader();
  const target = [1, 2, 3, 4].find((id) => id !== from)!;
  const asked = [1, 2, 3, 4].find((id) => id !== from && id !== target)!;
  const moved = await until('the transfer answered', async () => {
    const r = await http('POST', `${c.node(asked).url}/-/transfer-leader?to=${target}`);
    return r.status === 503 ? undefined : r;
  });
  assert.equal(moved.status, 200, moved.body);
  assert.deepEqual(JSON.parse(moved.body), { leader: target });
  assert.equal((await c.status(c.node(asked)))!.leader, target, 'the node that answered already follows the target');
  assert.equal(await c.waitLeader(), target);
  await c.putAcked(c.node(target), '/after-transfer', 'y');

  // The refusals: a bad or unknown target 400, a learner 409; the current leader is no move.
  const refuse = async (query: string) => {
    const r = await http('POST', `${n1.url}/-/transfer-leader${query}`);
    return `${r.status} ${r.body.trim()}`;
  };
  assert.match(await refuse('?to=abc'), /^400 bad transfer target/);
  assert.match(await refuse(''), /^400 bad transfer target/);
  assert.match(await refuse('?to=99'), /^400 bad transfer target/);
  const n5 = await c.allocate();
  assert.equal((await http('POST', `${n1.url}/5?learner=true`, n5.peerUrl)).status, 204);
  await until('node 1 knows learner 5', async () => ((await roles(c)).includes('5:learner') ? true : undefined));
  assert.match(await refuse('?to=5'), /^409 cannot transfer leadership to a learner/);
  const stay = await http('POST', `${n1.url}/-/transfer-leader?to=${target}`);
  assert.deepEqual([stay.status, JSON.parse(stay.body)], [200, { leader: target }]);
});
