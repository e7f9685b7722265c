// RaftNode in-process on one node: writes commit and apply; a failing fsync is fatal
// (the node stops with the cause, it never retries).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { isServiceError } from '../../src/errors.ts';
import { ConfChangeType, MessageType, type Message } from '../../src/raft/index.ts';
import type { MemberChange } from '../../src/queues.ts';
import { encodeMessages } from '../../src/raftpb/index.ts';
import { nodeFs, type StorageFs } from '../../src/storage/index.ts';
import { PATH_MESSAGES, peerHeaders } from '../../src/transport/index.ts';
import { freePort } from '../e2e/cluster.ts';
import { startOneNode } from './one-node.ts';

test('one node: a write is acknowledged once applied, and read back linearizably', async (t) => {
  const { node, kv } = await startOneNode(t);
  await kv.put('/a', Buffer.from('1'));
  assert.equal(Buffer.from((await kv.get('/a', false))!).toString(), '1');
  assert.equal(await node.unhealthyReason(), null);
  assert.deepEqual(node.members().map((m) => [m.id, m.role]), [[1, 'voter']]);
  // Status reads the sizes from disk through the node's file system (the bootstrap member
  // entry was snapshotted at once); a leader alone has no followers.
  const st = await node.status();
  assert.ok(st.walBytes > 0, `walBytes ${st.walBytes}`);
  assert.ok(st.snapshotIndex >= 1, `snapshotIndex ${st.snapshotIndex}`);
  assert.ok(st.snapshotBytes > 0, `snapshotBytes ${st.snapshotBytes}`);
  assert.deepEqual(st.progress, []);
});

test('health waits (bounded) for the applied index to reach the commit index it saw, then answers', async (t) => {
  // The next `staleReads` looks at the applied index see 0: an apply lagging behind commit.
  let staleReads = 0;
  const { node, kv } = await startOneNode(t, { appliedSeen: (applied) => (staleReads > 0 && staleReads-- > 0 ? 0 : applied) });
  await kv.put('/a', Buffer.from('1'));
  const commit = (await node.status()).commit;
  assert.ok(commit > 0);
  // A lag of a few looks: health waits it out and reports healthy, it does not flap.
  staleReads = 3;
  assert.equal(await node.unhealthyReason(), null);
  assert.equal(staleReads, 0, 'health looked again until applied caught up');
  // A lag that outlasts the wait: unhealthy, saying why.
  staleReads = Number.POSITIVE_INFINITY;
  assert.equal(await node.unhealthyReason(), `applied index 0 behind commit index ${commit}`);
  staleReads = 0;
  assert.equal(await node.unhealthyReason(), null);
});

test('the leader refuses to promote a learner it has not heard from (409), and shows its progress', async (t) => {
  const { node, kv, confChangeC } = await startOneNode(t);
  const ask = (change: MemberChange) => new Promise<void>((resolve, reject) => void confChangeC.send({ change, resolve, reject }).catch(reject));
  // A learner nobody runs: the leader probes it and never hears back.
  await ask({ kind: 'addLearner', type: ConfChangeType.AddLearnerNode, nodeId: 2, peerUrl: `http://127.0.0.1:${await freePort()}` });
  assert.deepEqual(node.members().map((m) => [m.id, m.role]), [[1, 'voter'], [2, 'learner']]);
  await assert.rejects(
    ask({ kind: 'promote', type: ConfChangeType.AddNode, nodeId: 2, peerUrl: '' }),
    (e) => isServiceError(e, 'ERR_LEARNER_NOT_READY') && e.status === 409,
  );
  assert.deepEqual(node.members().map((m) => [m.id, m.role]), [[1, 'voter'], [2, 'learner']]);
  const progress = (await node.status()).progress!;
  assert.deepEqual(progress.map((p) => [p.id, p.match, p.state, p.msSinceHeard]), [[2, 0, 'probe', null]]);
  // A learner does not count for quorum: writes commit without it; then it can go.
  await kv.put('/w', Buffer.from('1'));
  await ask({ kind: 'remove', type: ConfChangeType.RemoveNode, nodeId: 2, peerUrl: '' });
  assert.deepEqual(node.members().map((m) => m.id), [1]);
});

test('a failing fsync stops the node as fatal, with the cause', async (t) => {
  let failSync = false;
  const faulty: StorageFs = {
    ...nodeFs,
    open: async (path, flags) => {
      const fh = await nodeFs.open(path, flags);
      return {
        write: (b, o, l, p) => fh.write(b, o, l, p),
        read: (b, o, l, p) => fh.read(b, o, l, p),
        datasync: () => (failSync ? Promise.reject(new Error('EIO: injected')) : fh.datasync()),
        sync: () => (failSync ? Promise.reject(new Error('EIO: injected')) : fh.sync()),
        truncate: (n) => fh.truncate(n),
        stat: () => fh.stat(),
        close: () => fh.close(),
      };
    },
  };
  const { node, kv } = await startOneNode(t, { fs: faulty });
  failSync = true;
  await assert.rejects(kv.put('/a', Buffer.from('1')));
  const reason = await node.finished;
  assert.equal(reason.kind, 'fatal');
  assert.match(reason.kind === 'fatal' ? String(reason.error) : '', /EIO|WAL/);
});

test('nothing a peer sends stops the node: an empty proposal or a local-only message is dropped', async (t) => {
  const { node, kv, config } = await startOneNode(t);
  let finished: string | null = null;
  void node.finished.then((r) => (finished = r.kind));
  const hostile: Message[] = [
    { ...blank, type: MessageType.MsgProp, from: 2, entries: [] }, // an empty proposal, at the leader
    { ...blank, type: MessageType.MsgHup, from: 2, term: 9 }, // local-only: "start an election"
    { ...blank, type: MessageType.MsgProp, from: 2, entries: [{ term: 0, index: 0, type: 7 as 0, data: new Uint8Array(0) }] },
  ];
  for (const m of hostile) {
    const res = await request(config.peerUrls[0]! + PATH_MESSAGES, {
      method: 'POST',
      headers: peerHeaders(node.clusterId, 2, 1),
      body: Buffer.from(encodeMessages([m])),
      headersTimeout: 5000,
    });
    await res.body.dump();
    assert.ok(res.statusCode < 500, `answered ${res.statusCode}`);
    assert.equal(finished, null, `still running after message type ${m.type}`);
  }
  await kv.put('/after', Buffer.from('still serving'));
  assert.equal(Buffer.from((await kv.get('/after', false))!).toString(), 'still serving');
  assert.equal(finished, null, 'the node is still running');
});

const blank: Message = {
  type: MessageType.MsgProp, to: 1, from: 2, term: 0, logTerm: 0, index: 0, entries: [], commit: 0,
  snapshot: null, reject: false, rejectHint: 0, context: new Uint8Array(0),
};
