import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMessages, encodeMessages } from '../../src/raftpb/index.ts';
import type { Message } from '../../src/raftpb/types.ts';
import { MessageType } from '../../src/raftpb/types.ts';
import { PeerClient, PeerTransport, buildPeerApp, peerHeaders, type PeerEvents, type PeerNetwork } from '../../src/transport/index.ts';
import { snapshotChunks } from '../../src/transport/peer.ts';

function msg(type: MessageType, from: number, to: number, over: Partial<Message> = {}): Message {
  return {
    type, from, to, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, snapshot: null,
    reject: false, rejectHint: 0, context: new Uint8Array(0), ...over,
  };
}

function recorder() {
  const log: string[] = [];
  const events: PeerEvents = {
    unreachable: (id) => log.push(`unreachable ${id}`),
    snapshotStatus: (id, ok) => log.push(`snapshot ${id} ${ok}`),
    removed: () => log.push('removed'),
    rejected: (id, status) => log.push(`rejected ${id} ${status}`),
    received: (msgs) => log.push(`received ${msgs.length}`),
  };
  return { log, events };
}

function peerApp(delivered: Message[][]) {
  return buildPeerApp({
    identity: { clusterId: 'c1', localId: 2, isRemoved: (id) => id === 3 },
    deliver: (m) => delivered.push(m),
    cluster: () => ({ clusterId: 'c1', members: [{ id: 2, peerURL: 'http://127.0.0.1:2' }] }),
    maxBatchBytes: 1024 * 1024,
    maxSnapshotBytes: 4 * 1024 * 1024,
  });
}

test('receiver: good batch delivered; wrong cluster/recipient 412; removed sender 410; garbage 400', async (t) => {
  const delivered: Message[][] = [];
  const app = peerApp(delivered);
  t.after(() => app.close());
  const body = Buffer.from(encodeMessages([msg(MessageType.MsgHeartbeat, 1, 2), msg(MessageType.MsgApp, 1, 2)]));
  const post = (headers: Record<string, string>, payload: Buffer = body, url = '/raft') =>
    app.inject({ method: 'POST', url, headers, payload });

  assert.equal((await post(peerHeaders('c1', 1, 2))).statusCode, 204);
  assert.equal(delivered.length, 1);
  assert.deepEqual(delivered[0]!.map((m) => m.type), [MessageType.MsgHeartbeat, MessageType.MsgApp]);

  assert.equal((await post(peerHeaders('other', 1, 2))).statusCode, 412);
  assert.equal((await post(peerHeaders('c1', 1, 5))).statusCode, 412);
  const { 'x-raft-cluster-id': _omit, ...noCluster } = peerHeaders('c1', 1, 2);
  assert.equal((await post(noCluster)).statusCode, 412);
  const gone = await post(peerHeaders('c1', 3, 2), Buffer.from(encodeMessages([msg(MessageType.MsgHeartbeat, 3, 2)])));
  assert.equal(gone.statusCode, 410);
  assert.equal((await post(peerHeaders('c1', 1, 2), Buffer.from([1, 200, 7]))).statusCode, 400);
  // headers say 4, message says 1: refused
  assert.equal((await post(peerHeaders('c1', 4, 2))).statusCode, 400);
  // snapshots only on their own route
  const snap = msg(MessageType.MsgSnap, 1, 2, {
    snapshot: { metadata: { index: 5, term: 1, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array(10) },
  });
  assert.equal((await post(peerHeaders('c1', 1, 2), Buffer.from(encodeMessages([snap])))).statusCode, 400);
  assert.equal((await post(peerHeaders('c1', 1, 2), Buffer.from(encodeMessages([snap])), '/raft/snapshot')).statusCode, 204);
  assert.equal(delivered.length, 2);
  const info = await app.inject({ method: 'GET', url: '/raft/cluster' });
  assert.equal(info.json().clusterId, 'c1');
});

test('sender: a full queue drops and reports the peer unreachable instead of growing', async () => {
  const { log, events } = recorder();
  const release: (() => void)[] = [];
  let posts = 0;
  const client = new PeerClient({
    id: 2, url: 'http://x', fromId: 1, clusterId: 'c1', events,
    limits: { maxQueuedMessages: 10, maxQueuedBytes: 1 << 20, maxBatchMessages: 1000, maxBatchBytes: 1 << 20, maxPostsInFlight: 1 },
    post: () => { posts++; return new Promise<number>((r) => release.push(() => r(204))); },
  });
  client.send(msg(MessageType.MsgApp, 1, 2));
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 100; i++) client.send(msg(MessageType.MsgApp, 1, 2));
  // one batch of 1 is in flight, 10 queued, the other 90 dropped
  assert.equal(posts, 1);
  assert.equal(client.queued, 10);
  assert.equal(log.filter((l) => l === 'unreachable 2').length, 90);
  release.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.equal(posts, 2, 'everything queued went in one POST');
  assert.equal(client.queued, 0);
  release.shift()!();
  await client.stop();
});

test('sender: at most maxPostsInFlight POSTs unanswered, sent in order; stop waits for them', async () => {
  const { events } = recorder();
  const pending: { first: number; count: number; answer: () => void }[] = [];
  const client = new PeerClient({
    id: 2, url: 'http://x', fromId: 1, clusterId: 'c1', events,
    limits: { maxQueuedMessages: 100, maxQueuedBytes: 1 << 20, maxBatchMessages: 1000, maxBatchBytes: 1 << 20, maxPostsInFlight: 2 },
    post: (_path, body) => {
      const msgs = decodeMessages(body instanceof Uint8Array ? body : Buffer.concat(body));
      return new Promise<number>((r) => pending.push({ first: msgs[0]!.index, count: msgs.length, answer: () => r(204) }));
    },
  });
  const turn = () => new Promise((r) => setImmediate(r));
  let index = 0;
  const sendTurn = (n: number) => {
    for (let i = 0; i < n; i++) client.send(msg(MessageType.MsgApp, 1, 2, { index: ++index }));
  };
  sendTurn(2); // one turn's messages: one POST
  await turn();
  sendTurn(3); // the second POST leaves at once, without waiting for the first answer
  await turn();
  sendTurn(4); // two unanswered: these wait
  await turn();
  assert.deepEqual(pending.map((p) => [p.first, p.count]), [[1, 2], [3, 3]]);
  assert.equal(client.queued, 4);
  pending[1]!.answer(); // an answer (in any order) frees a slot: the queued ones leave together
  await turn();
  assert.deepEqual(pending.map((p) => [p.first, p.count]), [[1, 2], [3, 3], [6, 4]]);
  let stopped = false;
  const stopping = client.stop().then(() => (stopped = true));
  await turn();
  assert.equal(stopped, false, 'stop waits for the POSTs in flight');
  pending[0]!.answer();
  await turn();
  assert.equal(stopped, false);
  pending[2]!.answer();
  await stopping;
});

test('sender: batches what piles up, reports 410 as removed and snapshots by status', async () => {
  const { log, events } = recorder();
  const bodies: { path: string; msgs: Message[] }[] = [];
  let answer = 204;
  const client = new PeerClient({
    id: 2, url: 'http://x', fromId: 1, clusterId: 'c1', events,
    post: async (path, body, headers) => {
      assert.equal(headers['x-raft-cluster-id'], 'c1');
      assert.equal(headers['x-raft-from'], '1');
      assert.equal(headers['x-raft-to'], '2');
      bodies.push({ path, msgs: decodeMessages(body instanceof Uint8Array ? body : Buffer.concat(body)) });
      return answer;
    },
  });
  client.send(msg(MessageType.MsgApp, 1, 2));
  client.send(msg(MessageType.MsgHeartbeat, 1, 2));
  client.send(msg(MessageType.MsgApp, 1, 2));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(bodies.map((b) => b.msgs.length), [3], "one turn's messages travel together");

  answer = 410;
  client.send(msg(MessageType.MsgHeartbeat, 1, 2));
  await new Promise((r) => setImmediate(r));
  assert.ok(log.includes('removed'));

  answer = 204;
  const snap = msg(MessageType.MsgSnap, 1, 2, {
    snapshot: { metadata: { index: 5, term: 1, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array(100) },
  });
  client.send(snap);
  await new Promise((r) => setImmediate(r));
  assert.equal(bodies.at(-1)!.path, '/raft/snapshot');
  assert.ok(log.includes('snapshot 2 true'));
  answer = 0;
  client.send(snap);
  await new Promise((r) => setImmediate(r));
  assert.ok(log.includes('snapshot 2 false'));
  await client.stop();
});

test('sender: a probe reports 410 as removed, and a peer that cannot be reached as nothing (no rejection)', async () => {
  const { log, events } = recorder();
  let fail = true;
  const client = new PeerClient({
    id: 2, url: 'http://x', fromId: 1, clusterId: 'c1', events,
    post: async (path) => {
      assert.equal(path, '/raft/probe');
      if (fail) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return 410;
    },
  });
  await client.probe();
  assert.ok(!log.includes('removed'));
  fail = false;
  await client.probe();
  assert.ok(log.includes('removed'));
  await client.stop();
});

test('transport: routes by recipient, reports unknown peers, follows membership', async () => {
  const { log, events } = recorder();
  const sent: string[] = [];
  const tr = new PeerTransport({
    localId: 1, clusterId: 'c1', events,
    network: fakeNetwork((url) => sent.push(url)),
  });
  tr.addPeer(1, 'http://self'); // never a peer of itself
  tr.addPeer(2, 'http://two');
  tr.addPeer(3, 'http://three');
  assert.deepEqual(tr.peerIds().sort(), [2, 3]);
  tr.send([msg(MessageType.MsgApp, 1, 2), msg(MessageType.MsgApp, 1, 3), msg(MessageType.MsgApp, 1, 9)]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent.sort(), ['http://three', 'http://two']);
  assert.deepEqual(log, ['unreachable 9']);
  tr.removePeer(3);
  tr.addPeer(2, 'http://two-moved');
  tr.send([msg(MessageType.MsgApp, 1, 2), msg(MessageType.MsgApp, 1, 3)]);
  await new Promise((r) => setImmediate(r));
  assert.equal(sent.at(-1), 'http://two-moved');
  await tr.close();
});

test('transport: a snapshot goes with the data snapshotData reads for it; a failed read, a second one for the same peer, or a peer gone meanwhile is a failed snapshot', async () => {
  const { log, events } = recorder();
  const bodies: Buffer[] = [];
  const network: PeerNetwork = {
    connect: () => ({
      request: async (req) => {
        bodies.push(Buffer.concat(Array.isArray(req.body) ? (req.body as Uint8Array[]) : [req.body as Uint8Array]));
        return { status: 204, body: new Uint8Array(0) };
      },
      close: async () => undefined,
    }),
    listen: async () => ({ close: async () => undefined }),
  };
  const reads: { index: number; settle: (data: Uint8Array | Error) => void }[] = [];
  const tr = new PeerTransport({
    localId: 1, clusterId: 'c1', events, network,
    snapshotData: (snap) => new Promise((resolve, reject) => reads.push({ index: snap.metadata.index, settle: (d) => (d instanceof Error ? reject(d) : resolve(d)) })),
  });
  tr.addPeer(2, 'http://two');
  tr.addPeer(3, 'http://three');
  const snapTo = (to: number, index: number) =>
    msg(MessageType.MsgSnap, 1, to, { snapshot: { metadata: { index, term: 1, confState: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array(0) } });
  const turn = () => new Promise((r) => setImmediate(r));

  tr.send([snapTo(2, 7)]);
  tr.send([snapTo(2, 7)]); // while the first is being read: refused, as a second snapshot in flight is
  assert.deepEqual(reads.map((r) => r.index), [7]);
  assert.deepEqual(log, ['snapshot 2 false']);
  reads[0]!.settle(Buffer.from('the state at 7'));
  await turn();
  await turn();
  assert.equal(bodies.length, 1);
  const [sent] = decodeMessages(bodies[0]!, { maxSnapshotBytes: 1024 });
  assert.equal(Buffer.from(sent!.snapshot!.data).toString(), 'the state at 7', 'the data read, not the message\'s');
  assert.deepEqual(log, ['snapshot 2 false', 'snapshot 2 true']);

  tr.send([snapTo(3, 8)]);
  reads[1]!.settle(new Error('damaged'));
  await turn();
  assert.deepEqual(log.slice(2), ['snapshot 3 false']);

  tr.send([snapTo(3, 9)]);
  tr.removePeer(3);
  reads[2]!.settle(Buffer.from('late'));
  await turn();
  assert.deepEqual(log.slice(3), ['snapshot 3 false']);
  assert.equal(bodies.length, 1, 'nothing sent for the failed read or the removed peer');
  await tr.close();
});

test('a snapshot streams as slices that decode to the same message', () => {
  const data = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => i % 251);
  const snap = msg(MessageType.MsgSnap, 1, 2, {
    term: 3,
    snapshot: { metadata: { index: 900, term: 3, confState: { voters: [1, 2, 3], learners: [] } }, data },
  });
  const chunks = snapshotChunks(snap);
  assert.equal(chunks.length, 4, 'a head and three slices of at most 1 MiB');
  assert.equal(chunks[1]!.buffer, data.buffer, 'slices are views, not copies');
  const [back] = decodeMessages(Buffer.concat(chunks), { maxSnapshotBytes: 8 * 1024 * 1024 });
  assert.deepEqual(Buffer.from(back!.snapshot!.data), Buffer.from(data));
  assert.deepEqual(back!.snapshot!.metadata, snap.snapshot!.metadata);
  assert.deepEqual(Buffer.from(encodeMessages([snap])), Buffer.concat(chunks));
});

test('held replies: a fed request carries back our next messages for its sender; others answer empty', async () => {
  const { events } = recorder();
  const tr = new PeerTransport({
    localId: 2, clusterId: 'c1', events,
    network: fakeNetwork(() => undefined),
  });
  const answers: { from: number; msgs: number | null }[] = [];
  const hold = (from: number) => tr.hold(from, (b) => answers.push({ from, msgs: b === null ? null : decodeMessages(b).length }));
  hold(1);
  hold(3);
  // Not fed yet: a Ready's messages do not ride on it.
  let rest = tr.releaseFed([msg(MessageType.MsgAppResp, 2, 1)]);
  assert.equal(rest.length, 1);
  assert.equal(answers.length, 0);
  tr.markFed();
  hold(1); // arrives after the feed: stays held for the next Ready
  rest = tr.releaseFed([msg(MessageType.MsgAppResp, 2, 1), msg(MessageType.MsgHeartbeatResp, 2, 1), msg(MessageType.MsgVote, 2, 4)]);
  assert.deepEqual(rest.map((m) => m.to), [4], 'only messages for peers without a held request are left to POST');
  assert.deepEqual(answers, [{ from: 1, msgs: 2 }, { from: 3, msgs: null }]);
  tr.releaseAll();
  assert.deepEqual(answers.at(-1), { from: 1, msgs: null });
  await tr.close();
});

test('peer server with hold: the answer waits and carries messages back (200), or is empty (204)', async (t) => {
  const delivered: Message[][] = [];
  const held: ((b: Uint8Array | null) => void)[] = [];
  const app = buildPeerApp({
    identity: { clusterId: 'c1', localId: 2, isRemoved: () => false },
    deliver: (m) => delivered.push(m),
    cluster: () => ({ clusterId: 'c1', members: [] }),
    hold: (_from, respond) => held.push(respond),
    maxBatchBytes: 1 << 20,
    maxSnapshotBytes: 1 << 20,
  });
  t.after(() => app.close());
  const body = Buffer.from(encodeMessages([msg(MessageType.MsgApp, 1, 2)]));
  const pending = app.inject({ method: 'POST', url: '/raft', headers: peerHeaders('c1', 1, 2), payload: body });
  while (held.length === 0) await new Promise((r) => setImmediate(r));
  held[0]!(encodeMessages([msg(MessageType.MsgAppResp, 2, 1)]));
  const r = await pending;
  assert.equal(r.statusCode, 200);
  assert.equal(decodeMessages(r.rawPayload)[0]!.type, MessageType.MsgAppResp);
  const pending2 = app.inject({ method: 'POST', url: '/raft', headers: peerHeaders('c1', 1, 2), payload: body });
  while (held.length === 1) await new Promise((r) => setImmediate(r));
  held[1]!(null);
  assert.equal((await pending2).statusCode, 204);
});

test('sender: messages in an answer are delivered if they come from that peer and are for us', async () => {
  const { log, events } = recorder();
  const client = new PeerClient({
    id: 2, url: 'http://x', fromId: 1, clusterId: 'c1', events,
    post: async () => ({
      status: 200,
      body: encodeMessages([msg(MessageType.MsgAppResp, 2, 1), msg(MessageType.MsgAppResp, 3, 1), msg(MessageType.MsgAppResp, 2, 9)]),
    }),
  });
  client.send(msg(MessageType.MsgApp, 1, 2));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['received 1']);
  await client.stop();
});

/** A network on which every request answers 204, and `onRequest` learns where it went. */
function fakeNetwork(onRequest: (url: string) => void): PeerNetwork {
  return {
    connect: (url) => ({
      request: async () => {
        onRequest(url);
        return { status: 204, body: new Uint8Array(0) };
      },
      close: async () => undefined,
    }),
    listen: async () => ({ close: async () => undefined }),
  };
}
