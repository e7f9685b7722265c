// Client URLs published through Raft, on a real 3-node cluster: every node lists every
// member's clientURL; a member restarted with another --advertise-client-url (a port it
// really serves on) republishes and every node follows; one restarted with the same flag
// does not propose again; a node restarted from a snapshot still lists every clientURL.

import assert from 'node:assert/strict';
import { clusterTest, http, until, type TestCluster, type TestNode } from './cluster.ts';
import { freePort } from './cluster.ts';

interface ListedMember {
  id: number;
  peerURL: string;
  clientURL?: string;
  role: string;
}

async function membersAt(clientUrl: string, path = '/-/members'): Promise<ListedMember[] | undefined> {
  const r = await http('GET', `${clientUrl}${path}`, undefined, 2000);
  return r.status === 200 ? (JSON.parse(r.body) as { members: ListedMember[] }).members : undefined;
}

/** Wait until the node at `at` lists exactly `expected` (id → clientURL) as the members' client URLs. */
function untilClientUrls(at: string, expected: Map<number, string>): Promise<ListedMember[]> {
  return until(`${at} to list client URLs ${JSON.stringify([...expected])}`, async () => {
    const members = await membersAt(at);
    if (members === undefined || members.length !== expected.size) return undefined;
    return members.every((m) => m.clientURL === expected.get(m.id)) ? members : undefined;
  }, 30_000);
}

/** The largest index of a client URL record `node` logged applying. */
function lastRecordIndex(c: TestCluster, node: TestNode): number {
  return Math.max(0, ...c.logRecords(node, 'member client URL set').map((r) => r.index as number));
}

clusterTest('client URLs: published by every member, replaced when one changes, kept across a restart from a snapshot', 3, {
  extraArgs: ['--snapshot-count', '10', '--snapshot-catchup-entries', '2'],
}, async (c) => {
  const [n1, n2, n3] = [c.node(1), c.node(2), c.node(3)];
  const expected = new Map(c.nodes.map((n) => [n.id, n.url]));
  for (const n of c.nodes) {
    const members = await untilClientUrls(n.url, expected);
    assert.deepEqual(Object.keys(members[0]!), ['id', 'peerURL', 'clientURL', 'role']);
    const status = await membersAt(n.url, '/-/status');
    assert.deepEqual(status?.map((m) => m.clientURL), [n1.url, n2.url, n3.url], '/-/status members carry clientURL too');
  }

  // Node 2 comes back serving clients on another port, and says so.
  const movedPort = await freePort();
  const movedUrl = `http://127.0.0.1:${movedPort}`;
  await c.kill(n2);
  c.restart(n2, ['--port', String(movedPort), '--advertise-client-url', movedUrl]);
  expected.set(2, movedUrl);
  for (const at of [n1.url, movedUrl, n3.url]) await untilClientUrls(at, expected);
  assert.equal(c.logRecords(n2, 'client URL published').length, 2, 'node 2 proposed its new URL');

  // Node 3 comes back with the same flags: its record is in the log already, so no proposal.
  await c.kill(n3);
  c.restart(n3);
  await until('node 3 to find its client URL published', async () =>
    c.logRecords(n3, 'client URL already published').length === 1 ? true : undefined, 30_000);
  assert.equal(c.logRecords(n3, 'client URL published').length, 1, 'only the first life proposed');

  // Enough writes that every node snapshots past the records and compacts them away; then node
  // 1 restarts from its snapshot and must list every client URL from it.
  for (let i = 0; i < 40; i++) await c.putAcked(c.nodes[i % 3] === n2 ? n1 : c.nodes[i % 3]!, `/k${i}`, `v${i}`);
  const recordsUpTo = Math.max(...c.nodes.map((n) => lastRecordIndex(c, n)));
  await until('node 1 to snapshot past every client URL record', async () =>
    c.logRecords(n1, 'snapshot taken').some((r) => (r.compactedTo as number) > recordsUpTo) ? true : undefined, 30_000);
  await c.kill(n1);
  c.restart(n1);
  const first = await until('node 1 to answer /-/members again', () => membersAt(n1.url), 30_000);
  const replay = c.logRecords(n1, 'replayed snapshot and WAL').at(-1);
  assert.ok((replay?.snapshotIndex as number) > recordsUpTo, `restarted from a snapshot past index ${recordsUpTo}: ${JSON.stringify(replay)}`);
  assert.deepEqual(first.map((m) => [m.id, m.clientURL]), [...expected], 'the first answer after the restart, from the snapshot');
  await until('node 1 to find its client URL published', async () =>
    c.logRecords(n1, 'client URL already published').length === 1 ? true : undefined, 30_000);
});
