// RaftNode against a scripted leader (test/fake-leader.ts): what the node does with answers,
// entries and malformed messages that a real peer could send it. Each test pins a bug:
// a read answered for another incarnation, a conf change answered by someone else's entry,
// a conf change that is no longer valid when it applies.

import pino from 'pino';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isServiceError } from '../../src/errors.ts';
import { ConfChangeType, EntryType, MessageType, encodeConfChange, type Message } from '../../src/raft/index.ts';
import { until } from '../e2e/cluster.ts';
import { BOOTSTRAP_COMMIT, TERM, askChange, following, msg, track, twoMemberSetup } from './fake-leader.ts';
import type { MemberChange } from '../../src/queues.ts';



const isReadIndex = (m: Message) => m.type === MessageType.MsgReadIndex;
const isConfChangeProp = (m: Message) => m.type === MessageType.MsgProp && m.entries[0]?.type === EntryType.ConfChange;

test('a read index answer meant for an earlier incarnation of the node never serves its reads', async (t) => {
  const { leader, start } = await twoMemberSetup(t);
  let n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);
  void n.kv.get('/k', false).catch(() => undefined);
  const earlier = await leader.expect('a read index request', isReadIndex);

  // The process goes away with its read unanswered; a new one starts on the same data dir.
  await n.stop();
  leader.received.length = 0;
  n = await start();
  await following(n);
  const read = track(n.kv.get('/k', false));
  const current = await leader.expect('the new incarnation asks for a read index', isReadIndex);
  assert.notDeepEqual([...current.context], [...earlier.context]);

  // The answer to the earlier request arrives late: it must not settle the new read.
  await leader.send(msg({ type: MessageType.MsgReadIndexResp, term: TERM, index: BOOTSTRAP_COMMIT, context: earlier.context }));
  await new Promise((r) => setTimeout(r, 100)); // a moment for anything it wrongly set off
  assert.equal(read.state, 'pending');

  await leader.send(msg({ type: MessageType.MsgReadIndexResp, term: TERM, index: BOOTSTRAP_COMMIT, context: current.context }));
  await until('the read is served by its own answer', async () => (read.state === 'done' ? true : undefined));
});

test('a conf change request is answered by its own entry, never by an older identical one', async (t) => {
  const { leader, start } = await twoMemberSetup(t, { requestTimeoutMs: 1500 });
  const n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);
  const change: MemberChange = { kind: 'addVoter', type: ConfChangeType.AddNode, nodeId: 3, peerUrl: 'http://127.0.0.1:1' };

  const first = assert.rejects(askChange(n, change), (e) => isServiceError(e, 'ERR_TIMEOUT') && e.status === 504);
  const firstProp = await leader.expect('the first request forwarded to the leader', isConfChangeProp);
  await first;

  leader.received.length = 0;
  const second = track(askChange(n, change));
  await leader.expect('the second request forwarded (and lost: the leader drops it)', isConfChangeProp);

  // The first request's entry commits after all; the second's never does.
  const entry = { ...firstProp.entries[0]!, term: TERM, index: BOOTSTRAP_COMMIT + 1 };
  await leader.send(msg({ type: MessageType.MsgApp, term: TERM, index: BOOTSTRAP_COMMIT, logTerm: 1, entries: [entry], commit: entry.index }));
  await until('member 3 applied', async () => (n.node.members().some((m) => m.id === 3) ? true : undefined));
  await until('the second request settles', async () => (second.state === 'pending' ? undefined : true));
  assert.equal(second.state, 'ERR_TIMEOUT');
});

test('a conf change that is no longer valid when it applies is refused (409) and changes nothing', async (t) => {
  const { leader, start } = await twoMemberSetup(t);
  const n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);

  const refusedAtApply = assert.rejects(
    askChange(n, { kind: 'addVoter', type: ConfChangeType.AddNode, nodeId: 3, peerUrl: 'http://127.0.0.1:3' }),
    (e) => isServiceError(e, 'ERR_MEMBER_EXISTS') && e.status === 409,
  );
  const prop = await leader.expect('the request forwarded to the leader', isConfChangeProp);
  // Someone else added member 3 first (a bootstrap-style entry: plain URL, no request id).
  const other = {
    term: TERM,
    index: BOOTSTRAP_COMMIT + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 3, context: Buffer.from('http://127.0.0.1:33') }),
  };
  const ours = { ...prop.entries[0]!, term: TERM, index: BOOTSTRAP_COMMIT + 2 };
  await leader.send(msg({ type: MessageType.MsgApp, term: TERM, index: BOOTSTRAP_COMMIT, logTerm: 1, entries: [other, ours], commit: ours.index }));
  await refusedAtApply;
  assert.deepEqual(n.node.members().find((m) => m.id === 3), { id: 3, peerURL: 'http://127.0.0.1:33', role: 'voter' });
});

test('membership requests are checked before they are proposed: 409 and 404 from the error table', async (t) => {
  const { leader, start, config } = await twoMemberSetup(t);
  const n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);
  const refused = async (change: MemberChange, code: string) => {
    await assert.rejects(askChange(n, change), (e) => isServiceError(e) && e.code === code, `${JSON.stringify(change)}`);
  };
  await refused({ kind: 'addVoter', type: ConfChangeType.AddNode, nodeId: 1, peerUrl: 'http://127.0.0.1:9' }, 'ERR_MEMBER_EXISTS');
  await refused({ kind: 'addVoter', type: ConfChangeType.AddNode, nodeId: 7, peerUrl: config.peerUrls[0]! }, 'ERR_PEER_URL_EXISTS');
  await refused({ kind: 'remove', type: ConfChangeType.RemoveNode, nodeId: 5, peerUrl: '' }, 'ERR_MEMBER_NOT_FOUND');
  assert.equal(leader.received.filter(isConfChangeProp).length, 0, 'nothing refused was proposed');
});

test('a voter that applies its own removal stays until a remaining voter confirms it (410), then stops', async (t) => {
  const { leader, start } = await twoMemberSetup(t);
  const n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);
  let finished: string | null = null;
  void n.node.finished.then((r) => (finished = r.kind));
  const removal = {
    term: TERM,
    index: BOOTSTRAP_COMMIT + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 2, context: new Uint8Array(0) }),
  };
  await leader.send(msg({ type: MessageType.MsgApp, term: TERM, index: BOOTSTRAP_COMMIT, logTerm: 1, entries: [removal], commit: removal.index }));
  // Until the survivor confirms, the survivor may still need this node's vote: it stays.
  await until('the leaving node asks the remaining voter', async () => (leader.probes >= 3 ? true : undefined));
  assert.equal(finished, null);
  assert.match(String(await n.node.unhealthyReason()), /removed from the cluster/);
  leader.probeStatus = 410;
  await until('the node stops once the survivor has applied its removal', async () => (finished === 'removed' ? true : undefined));
});

test('a fresh member applies its own bootstrap entries as members added, none refused', async (t) => {
  const lines: { msg: string; member?: number }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const { leader, start } = await twoMemberSetup(t, { log });
  const n = await start();
  leader.lead(TERM, () => BOOTSTRAP_COMMIT);
  await following(n);
  await until('both bootstrap entries applied', async () => (lines.filter((l) => l.msg === 'member added').length >= 2 ? true : undefined));
  assert.deepEqual(lines.filter((l) => l.msg === 'member added').map((l) => l.member), [1, 2]);
  assert.deepEqual(lines.filter((l) => /refused/.test(l.msg)), []);
});
