// Each layer at its maximum, from src/limits.ts: the largest PUT as an entry through the codec,
// a WAL batch of such entries, a peer message and batch (sender and receiver), a snapshot file
// and a snapshot POST; a peer URL at the max through a conf change and a member table round
// trip; one byte over the max refused at the edge.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Chan } from '../src/chan.ts';
import { BinaryReader, BinaryWriter, decodeConfChange, decodeEntry, decodeMessages, encodeConfChange, encodeEntry, encodeMessages, encodeSnapshotMetadata, messageEncodedBytes } from '../src/raftpb/index.ts';
import { coalesceMessages } from '../src/transport/coalesce.ts';
import { ConfigError, parseConfig, parsePeerUrl } from '../src/config.ts';
import { isServiceError } from '../src/errors.ts';
import { buildApp } from '../src/httpapi.ts';
import { KvStore } from '../src/kvstore.ts';
import * as limits from '../src/limits.ts';
import { Membership } from '../src/node/membership.ts';
import { ConfChangeType, EntryType, MessageType, type Entry, type Message } from '../src/raftpb/types.ts';
import { Snapshotter, Wal } from '../src/storage/index.ts';
import { PeerClient, PeerTransport, buildPeerApp, peerHeaders } from '../src/transport/index.ts';
import { snapshotChunks, type PostOutcome } from '../src/transport/peer.ts';
import { until } from './e2e/cluster.ts';
import { LEADER_ID, twoMemberSetup } from './node/fake-leader.ts';
import { fakeNodeInfo } from './fake-node-info.ts';
import { type ConfChangeRequest, ProposalState, type Commit, type Proposal } from '../src/queues.ts';
import { decodeSnapshotData, encodeSnapshotData } from '../src/node/snapshot-data.ts';

const { entryBytesMax, keyBytesMax, putValueBytesMax, peerUrlBytesMax } = limits;

function msg(type: MessageType, over: Partial<Message> = {}): Message {
  return {
    type, from: 1, to: 2, term: 3, logTerm: 3, index: 0, entries: [], commit: 0, snapshot: null,
    reject: false, rejectHint: 0, context: new Uint8Array(0), ...over,
  };
}

/** A KvStore whose proposals are captured, not replicated. */
function captureKv(stateBytesMax?: number) {
  const proposeC = new Chan<Proposal>(16);
  const commitC = new Chan<Commit>(16);
  const kv = new KvStore({ nodeId: 1, proposeC, commitC, readIndex: async () => 0, requestTimeoutMs: 60_000, stateBytesMax });
  return { kv, proposeC, commitC };
}

/** The entry data kvstore makes for PUT key=value. */
function putEntryData(key: string, value: Uint8Array): Uint8Array {
  const { kv, proposeC } = captureKv();
  void kv.put(key, value).catch(() => undefined);
  const p = proposeC.tryRecv();
  kv.stop();
  assert.ok(p, 'the PUT was proposed');
  return p.data;
}

const maxKey = '/' + 'k'.repeat(keyBytesMax - 1);
const maxValue = Buffer.alloc(putValueBytesMax, 0x5a);
let maxPutData: Uint8Array | null = null;
const maxPut = (): Uint8Array => (maxPutData ??= putEntryData(maxKey, maxValue));
const maxEntry = (index: number): Entry => ({ term: 3, index, type: EntryType.Normal, data: maxPut() });

/** A URL of exactly `bytes` bytes in canonical form: http://aaa…(labels).example:1 */
function urlOfBytes(bytes: number): string {
  const fixed = 'http://'.length + ':1'.length;
  let host = '';
  while (host.length < bytes - fixed) host += (host === '' ? '' : '.') + 'a'.repeat(60);
  host = host.slice(0, bytes - fixed).replace(/\.$/, 'b');
  const url = `http://${host}:1`;
  assert.equal(Buffer.byteLength(url), bytes);
  return url;
}

test('the largest PUT (longest key, largest body) is exactly an entry at the max, and encodes and decodes', () => {
  assert.equal(maxPut().length, entryBytesMax);
  const e = maxEntry(7);
  const back = decodeEntry(encodeEntry(e));
  assert.equal(back.index, 7);
  assert.equal(Buffer.compare(back.data, e.data), 0);
});

test('a WAL batch of several entries at the max is written as records within the limit and read back', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'limits-wal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const n = Math.ceil(limits.walRecordBytesMax / entryBytesMax) + 1; // more than one record can hold
  const entries = Array.from({ length: n }, (_, i) => maxEntry(i + 1));
  const wal = await Wal.create(dir, { nodeId: 1, clusterId: 'c' });
  await wal.save({ term: 3, vote: 1, commit: n }, entries, true);
  await wal.close();
  const opened = await Wal.open(dir, { index: 0, term: 0 });
  t.after(() => opened.wal.close());
  assert.equal(opened.entries.length, n);
  assert.equal(opened.hardState.commit, n);
  for (const e of opened.entries) assert.equal(Buffer.compare(e.data, maxPut()), 0);
});

test('a peer message with an entry at the max fits a batch, the receiver takes it; batches of them are split', async (t) => {
  const delivered: Message[] = [];
  const app = receiverAtTheLimits(delivered);
  t.after(() => app.close());
  const bodies: Uint8Array[] = [];
  const client = new PeerClient({
    id: 2, url: 'http://unused', fromId: 1, clusterId: 'c',
    post: async (_path, body): Promise<PostOutcome> => {
      const b = body as Uint8Array;
      bodies.push(b);
      const res = await app.inject({ method: 'POST', url: '/raft', headers: { ...peerHeaders('c', 1, 2) }, payload: Buffer.from(b.buffer, b.byteOffset, b.byteLength) });
      return res.statusCode;
    },
    events: { unreachable: () => {}, snapshotStatus: () => {}, removed: () => {}, rejected: () => {}, received: () => {} },
  });
  // A forwarded MsgProp at the max and MsgApps at the max with heartbeats between them.
  const sent = [
    msg(MessageType.MsgProp, { term: 0, entries: [{ ...maxEntry(0), term: 0 }] }),
    msg(MessageType.MsgHeartbeat),
    msg(MessageType.MsgApp, { index: 0, entries: [maxEntry(1)] }),
    msg(MessageType.MsgApp, { index: 1, entries: [maxEntry(2)] }),
    msg(MessageType.MsgHeartbeat),
    msg(MessageType.MsgApp, { index: 2, entries: [maxEntry(3)] }),
  ];
  for (const m of sent) {
    assert.ok(messageEncodedBytes(m) <= limits.peerMessageBytesMax);
    assert.equal(messageEncodedBytes(m), encodeMessages([m]).length - 2, 'messageEncodedBytes is exact');
    client.send(m);
  }
  for (let i = 0; i < 200 && delivered.length < sent.length; i++) await new Promise((r) => setTimeout(r, 10));
  await client.stop();
  assert.equal(delivered.length, sent.length, 'every message delivered');
  assert.ok(bodies.length >= 2, `split into batches: ${bodies.length}`);
  for (const b of bodies) assert.ok(b.length <= limits.peerBatchBytesMax, `batch of ${b.length} bytes`);
  assert.deepEqual(delivered.map((m) => m.type), sent.map((m) => m.type));
});

test('a peer queue full of entries at the max reports the MsgProp it drops', () => {
  const dropped: Message[] = [];
  const client = new PeerClient({
    id: 2, url: 'http://unused', fromId: 1, clusterId: 'c',
    post: () => new Promise<PostOutcome>(() => {}), // never answers: the queue only fills
    events: { unreachable: () => {}, snapshotStatus: () => {}, removed: () => {}, rejected: () => {}, received: () => {}, dropped: (m) => dropped.push(...m) },
  });
  const prop = (i: number) => msg(MessageType.MsgProp, { term: 0, entries: [{ ...maxEntry(i), term: 0 }] });
  const fit = Math.floor(limits.peerQueueBytesMax / messageEncodedBytes(prop(0)));
  const perBatch = Math.max(1, Math.floor(limits.peerBatchBytesMax / messageEncodedBytes(prop(0))));
  let sent = 0;
  while (dropped.length === 0 && sent < 100 * fit) client.send(prop(sent++));
  assert.equal(dropped.length, 1);
  assert.equal(dropped[0]!.type, MessageType.MsgProp);
  // What it holds is bounded: the queue, and the POSTs in flight.
  assert.ok(sent - 1 <= fit + limits.peerMessagePostsInFlightMax * perBatch, `${sent - 1} messages held`);
  void client.stop();
});

test('the largest PUT with a member table at the max (peer and client URLs) goes through a snapshot file, a snapshot POST and a kv restore', async (t) => {
  const { kv, commitC } = captureKv();
  const running = kv.run();
  await commitC.send({ snapshot: null, entries: [maxPut()], index: 1, done: null });
  await new Promise<void>((done) => void commitC.send({ snapshot: null, entries: [], index: 1, done }));
  const membership = new Membership();
  for (let id = 1; id <= 3; id++) membership.add(id, urlOfBytes(peerUrlBytesMax).replace(':1', `:${id}`).slice(0, peerUrlBytesMax));
  const voters = { voters: [1, 2, 3], learners: [] };
  for (let id = 1; id <= 3; id++) membership.applyClientUrl({ memberId: id, clientUrl: urlOfBytes(limits.clientUrlBytesMax) }, voters);
  const data = encodeSnapshotData(membership, kv.snapshot());
  kv.stop();
  commitC.close();
  await running;
  const snap = { metadata: { index: 1, term: 3, confState: { voters: [1, 2, 3], learners: [] } }, data };

  const dir = await mkdtemp(join(tmpdir(), 'limits-snap-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ss = new Snapshotter(dir);
  await ss.save(snap);
  const loaded = await ss.loadNewestAvailable([{ index: 1, term: 3 }]);
  assert.ok(loaded, 'the snapshot file loads back');

  const delivered: Message[] = [];
  const app = receiverAtTheLimits(delivered);
  t.after(() => app.close());
  const body = Buffer.concat(snapshotChunks(msg(MessageType.MsgSnap, { snapshot: loaded })));
  const res = await app.inject({ method: 'POST', url: '/raft/snapshot', headers: peerHeaders('c', 1, 2), payload: body });
  assert.equal(res.statusCode, 204, res.body);

  const { membership: m2, kv: kvBytes } = decodeSnapshotData(delivered[0]!.snapshot!.data);
  assert.deepEqual(m2.list(), membership.list());
  const restored = captureKv().kv;
  restored.restore(kvBytes, 1);
  const value = await restored.get(maxKey, true);
  assert.equal(Buffer.compare(value!, maxValue), 0);
  restored.stop();
});

test('a peer URL at the max: accepted, through a conf change and a member table; one byte more refused at the API and by the writer', async () => {
  const url = urlOfBytes(peerUrlBytesMax);
  assert.equal(parsePeerUrl(url), url);
  const cc = decodeConfChange(encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 4, context: Buffer.from(url) }));
  const m = new Membership();
  m.add(4, Buffer.from(cc.context).toString('utf8'));
  const w = new BinaryWriter();
  m.write(w);
  assert.deepEqual(Membership.read(new BinaryReader(w.view()), true).list(), [{ id: 4, peerURL: url }]);

  const over = urlOfBytes(peerUrlBytesMax + 1);
  assert.equal(parsePeerUrl(over), null);
  const bad = new Membership();
  bad.add(4, over);
  assert.throws(() => bad.write(new BinaryWriter()), /URL of 1025 bytes/, 'the writer refuses what the reader would');
  assert.throws(() => parseConfig(['--cluster', over]), ConfigError);

  // The case: POST /4 with a 2,459-byte URL.
  const confChangeC = new Chan<ConfChangeRequest>(4);
  const app = buildApp({
    kv: { put: async () => {}, get: async () => undefined },
    confChangeC,
    maxRequestBytes: limits.requestBytesDefault,
    node: fakeNodeInfo(),
    readiness: { listenersOpen: true },
  });
  const res = await app.inject({ method: 'POST', url: '/4', payload: urlOfBytes(2459) });
  assert.equal(res.statusCode, 400);
  assert.equal(confChangeC.length, 0, 'nothing proposed');
  await app.close();
});

test('--max-request-bytes: the largest PUT body is allowed, one byte more is refused', () => {
  const ok = parseConfig(['--max-request-bytes', String(putValueBytesMax)]);
  assert.ok(!ok.help && ok.config.maxRequestBytes === putValueBytesMax);
  assert.throws(() => parseConfig(['--max-request-bytes', String(putValueBytesMax + 1)]), (e) =>
    e instanceof ConfigError && e.message.includes(String(putValueBytesMax)) && !e.message.includes('\n'));
});

test('a key over the max answers 414, a body over the max 413', async () => {
  const { kv } = captureKv();
  await assert.rejects(kv.put(maxKey + 'k', Buffer.from('v')), (e) => isServiceError(e, 'ERR_KEY_TOO_LONG') && e.status === 414);
  await assert.rejects(kv.put('/k', Buffer.alloc(putValueBytesMax + 1)), (e) => isServiceError(e, 'ERR_TOO_LARGE') && e.status === 413);
  kv.stop();
});

test('a PUT that would grow the state past what a snapshot carries is refused on apply, by every replica alike', async () => {
  const entries = [putEntryData('/a', Buffer.alloc(40)), putEntryData('/b', Buffer.alloc(40)), putEntryData('/a', Buffer.alloc(10))];
  const states: Uint8Array[] = [];
  for (const replica of [1, 2]) {
    const { kv, commitC } = captureKv(80);
    const running = kv.run();
    await commitC.send({ snapshot: null, entries, index: 3, done: null });
    await new Promise<void>((done) => void commitC.send({ snapshot: null, entries: [], index: 3, done }));
    assert.equal((await kv.get('/a', true))?.length, 10, `replica ${replica}: the shrinking overwrite applies`);
    assert.equal(await kv.get('/b', true), undefined, `replica ${replica}: the write past the bound does not`);
    const snap = kv.snapshot();
    assert.ok(snap.length <= 80);
    states.push(snap);
    kv.stop();
    commitC.close();
    await running;
  }
  assert.deepEqual(states[0], states[1]);
});

test('the proposer of a write past the state bound gets 507 (it did not and will not take effect)', async () => {
  const { kv, proposeC, commitC } = captureKv(50);
  const running = kv.run();
  const put = kv.put('/big', Buffer.alloc(60));
  const p = proposeC.tryRecv()!;
  await commitC.send({ snapshot: null, entries: [p.data], index: 1, done: null });
  await assert.rejects(put, (e) => isServiceError(e, 'ERR_STORE_FULL') && e.status === 507);
  kv.stop();
  commitC.close();
  await running;
});

/** Node 2 of a two-node cluster, in process, following the fake leader (test/fake-leader.ts). */
async function followerOfFakeLeader(t: TestContext, opts: { refuseMessages?: boolean } = {}) {
  const { leader, start } = await twoMemberSetup(t, { requestTimeoutMs: 60_000 });
  const n = await start();
  leader.lead(2, () => 2, 20);
  await until('node 2 follows the fake leader', async () => ((await n.node.status()).leader === LEADER_ID ? true : undefined));
  if (opts.refuseMessages === true) leader.messagesStatus = 412;
  return { proposeC: n.proposeC, received: leader.received };
}

/** `count` proposals of `bytes` each, queued at once so that they reach the core in one batch. */
function proposeAtOnce(proposeC: Chan<Proposal>, count: number, bytes: number): Error[] {
  const failed: Error[] = [];
  for (let i = 0; i < count; i++) assert.ok(proposeC.trySend({ data: Buffer.alloc(bytes, i), state: ProposalState.Queued, fail: (e) => failed.push(e) }));
  return failed;
}

test('a follower forwards a burst of large proposals to the leader in MsgProps that fit a peer message', async (t) => {
  const { proposeC, received } = await followerOfFakeLeader(t);
  // More than the old single MsgProp could carry past the peer queue (64 MiB).
  const failed = proposeAtOnce(proposeC, 44, limits.requestBytesDefault);
  const forwarded = () => received.filter((m) => m.type === MessageType.MsgProp);
  await until('every proposal reaches the leader', async () => (forwarded().reduce((n, m) => n + m.entries.length, 0) === 44 ? true : undefined));
  assert.ok(forwarded().length > 1, 'split into several MsgProps');
  for (const m of forwarded()) assert.ok(messageEncodedBytes(m) <= limits.peerMessageBytesMax);
  assert.deepEqual(failed, []);
});

test('forwarded proposals the transport certainly did not deliver fail at once, not at their timeout', async (t) => {
  const { proposeC } = await followerOfFakeLeader(t, { refuseMessages: true }); // the leader refuses every POST (412)
  const failed = proposeAtOnce(proposeC, 3, 1024);
  await until('the proposals fail', async () => (failed.length === 3 ? true : undefined), 10_000); // the request timeout is 60 s
  for (const e of failed) assert.ok(isServiceError(e, 'ERR_NO_LEADER'), String(e));
});

test('a held reply carries no more than a peer batch; the rest of the Ready goes by POST, in order', () => {
  const transport = new PeerTransport({
    localId: 1, clusterId: 'c',
    events: { unreachable: () => {}, snapshotStatus: () => {}, removed: () => {}, rejected: () => {}, received: () => {} },
  });
  let body: Uint8Array | null = null;
  transport.hold(2, (b) => (body = b));
  transport.markFed();
  const apps = [1, 2, 3, 4].map((i) => msg(MessageType.MsgApp, { index: i - 1, entries: [maxEntry(i)] }));
  const rest = transport.releaseFed(apps);
  assert.ok(body !== null && (body as Uint8Array).length <= limits.peerBatchBytesMax);
  const carried = decodeMessages(body!);
  assert.ok(carried.length >= 1 && rest.length >= 1);
  assert.deepEqual([...carried, ...rest].map((m) => m.index), [0, 1, 2, 3]);
});

test('the coalescer never merges appends past the entries a peer decodes', () => {
  const tiny = (index: number, n: number): Message =>
    msg(MessageType.MsgApp, {
      index, logTerm: 3,
      entries: Array.from({ length: n }, (_, i) => ({ term: 3, index: index + i + 1, type: EntryType.Normal, data: new Uint8Array(0) })),
    });
  const out = coalesceMessages([tiny(0, 40_000), tiny(40_000, 40_000)]);
  assert.equal(out.length, 2);
  for (const m of out) assert.ok(m.entries.length <= limits.peerMessageEntriesMax);
  assert.equal(decodeMessages(encodeMessages(out)).length, 2);
});

test("the layouts at their largest are what limits.ts assumes", async (t) => {
  const big = Number.MAX_SAFE_INTEGER;
  const entry: Entry = { term: big, index: big, type: EntryType.ConfChange, data: new Uint8Array(0) };
  assert.ok(encodeEntry(entry).length <= limits.entryOverheadBytesMax);
  const m = msg(MessageType.MsgApp, {
    to: big, from: big, term: big, logTerm: big, index: big, commit: big, rejectHint: big, reject: true,
    context: new Uint8Array(limits.contextBytesMax),
  });
  assert.ok(messageEncodedBytes(m) <= limits.messageOverheadBytesMax);
  assert.equal(decodeMessages(encodeMessages([m]))[0]!.context.length, limits.contextBytesMax);
  const ids = Array.from({ length: limits.confStateIdsMax }, () => big);
  assert.ok(encodeSnapshotMetadata({ index: big, term: big, confState: { voters: ids, learners: ids } }).length <= limits.snapshotMetadataBytesMax);

  // A snapshot file is its header, its metadata and its data.
  const dir = await mkdtemp(join(tmpdir(), 'limits-layout-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const metadata = { index: 1, term: 1, confState: { voters: [1], learners: [] } };
  await new Snapshotter(dir).save({ metadata, data: new Uint8Array(100) });
  const [name] = await readdir(dir);
  const size = (await stat(join(dir, name!))).size;
  assert.equal(size, limits.snapshotFileHeaderBytes + encodeSnapshotMetadata(metadata).length + 100);
});

test('a Chan with a byte budget is full by bytes as well as by count, keeps order, and takes one oversized value alone', async () => {
  const c = new Chan<Uint8Array>(10, { bytesMax: 10, sizeOf: (b) => b.length });
  assert.ok(c.trySend(new Uint8Array(6)));
  assert.equal(c.trySend(new Uint8Array(6)), false, 'full by bytes');
  let admitted = false;
  const pending = c.send(new Uint8Array(6)).then(() => (admitted = true));
  assert.equal(c.trySend(new Uint8Array(1)), false, 'no overtaking a blocked sender');
  assert.equal(c.tryRecv()?.length, 6);
  await pending;
  assert.ok(admitted && c.bytes === 6);
  assert.equal(c.tryRecv()?.length, 6);
  assert.ok(c.trySend(new Uint8Array(50)), 'an empty queue takes a value over the budget');
  assert.equal(c.bytes, 50);
});

/** Member 2's peer routes with the service's body limits, collecting what they deliver. */
function receiverAtTheLimits(delivered: Message[]) {
  return buildPeerApp({
    identity: { clusterId: 'c', localId: 2, isRemoved: () => false },
    deliver: (msgs) => delivered.push(...msgs),
    cluster: () => ({ clusterId: 'c', members: [] }),
    maxBatchBytes: limits.peerBodyBytesMax,
    maxSnapshotBytes: limits.peerSnapshotBodyBytesMax,
  });
}
