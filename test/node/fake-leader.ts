// A scripted peer for node-level tests: it listens on member 1's peer URL, records every
// message a real RaftNode (member 2, in this process) sends it, and sends that node whatever
// messages a test writes, as a leader of its own making would. The node under test is real:
// its Ready loop, WAL, transport and kvstore; only the other member is a script.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { request } from 'undici';
import { Chan } from '../../src/chan.ts';
import { isServiceError } from '../../src/errors.ts';
import { decodeMessages, encodeMessages } from '../../src/raftpb/index.ts';
import { parseConfig } from '../../src/config.ts';
import { KvStore } from '../../src/kvstore.ts';
import type { Logger } from '../../src/logger.ts';
import { MessageType, type Message } from '../../src/raft/index.ts';
import { newMessage } from '../../src/raft/util.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import type { NodeMetrics } from '../../src/node/metrics.ts';
import type { NodeWorld } from '../../src/node/world.ts';
import { startInProcess } from './in-process.ts';
import { deriveClusterId } from '../../src/node/recovery.ts';
import { PATH_MESSAGES, PATH_PROBE, peerHeaders } from '../../src/transport/index.ts';
import { freePort, until } from '../e2e/cluster.ts';
import type { ConfChangeRequest, MemberChange, Proposal } from '../../src/queues.ts';

export const LEADER_ID = 1;
export const NODE_ID = 2;
/** The term the fake leader leads in. */
export const TERM = 2;
/** The two bootstrap entries (term 1) are committed from the start. */
export const BOOTSTRAP_COMMIT = 2;

/** How a promise settled: 'done', the ServiceError code (or the error as text), or 'pending' so far. */
export function track(p: Promise<unknown>): { state: string } {
  const s = { state: 'pending' };
  p.then(
    () => (s.state = 'done'),
    (e: unknown) => (s.state = isServiceError(e) ? e.code : String(e)),
  );
  return s;
}

/** A message from the fake leader to the node, with defaults for every field a test does not care about. */
export function msg(m: Partial<Message> & Pick<Message, 'type' | 'term'>): Message {
  return newMessage({ to: NODE_ID, from: LEADER_ID, ...m });
}

/** The scripted member 1: records what member 2 sends it and sends member 2 messages. */
export class FakeLeader {
  readonly received: Message[] = [];
  /** What we answer to the node's POST /raft/probe (410: we applied its removal), and how often it asked. */
  probeStatus = 204;
  probes = 0;
  /** What we answer to the node's message POSTs: 204, or a refusal (412: "another cluster"). */
  messagesStatus = 204;
  /** Answer as a follower would (grant votes, acknowledge appends and heartbeats), unless silent. */
  answerAsFollower = false;
  silent = false;
  private heartbeat: NodeJS.Timeout | null = null;

  private constructor(
    private readonly server: Server,
    readonly peerUrl: string,
    private readonly nodePeerUrl: string,
    private readonly clusterId: string,
  ) {}

  static async listen(port: number, nodePeerUrl: string, clusterId: string): Promise<FakeLeader> {
    const server = createServer();
    const leader = new FakeLeader(server, `http://127.0.0.1:${port}`, nodePeerUrl, clusterId);
    server.on('request', (req, res) => {
      void readBody(req).then((body) => {
        const refused = req.url === PATH_MESSAGES && leader.messagesStatus !== 204;
        if (req.method === 'POST' && req.url === PATH_MESSAGES && !refused) leader.took(decodeMessages(body));
        if (req.method === 'POST' && req.url === PATH_PROBE) leader.probes++;
        res.statusCode = req.url === PATH_PROBE ? leader.probeStatus : refused ? leader.messagesStatus : 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return leader;
  }

  /** Send messages to the node; resolves once the node has taken them through a Ready. */
  async send(...msgs: Message[]): Promise<void> {
    const res = await request(this.nodePeerUrl + PATH_MESSAGES, {
      method: 'POST',
      headers: peerHeaders(this.clusterId, LEADER_ID, NODE_ID),
      body: Buffer.from(encodeMessages(msgs)),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode === 200) this.took(decodeMessages(body));
    else if (res.statusCode !== 204) throw new Error(`node answered ${res.statusCode}: ${body.toString()}`);
  }

  /** Messages from the node (in its POST, or in the answer to ours): recorded, and answered if we act as a follower. */
  private took(msgs: Message[]): void {
    this.received.push(...msgs);
    if (!this.answerAsFollower || this.silent) return;
    const answers = msgs.map(followerAnswer).filter((m): m is Message => m !== null);
    if (answers.length > 0) void this.send(...answers).catch(() => undefined);
  }

  /** Heartbeat every `everyMs` at `term`, so the node follows us and never campaigns. */
  lead(term: number, commit: () => number, everyMs = 30): void {
    this.stopLeading();
    const beat = () => void this.send(msg({ type: MessageType.MsgHeartbeat, term, commit: commit() })).catch(() => undefined);
    beat();
    this.heartbeat = setInterval(beat, everyMs);
  }

  stopLeading(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Wait for the node to send us a message matching `pred`, and return it. */
  async expect(what: string, pred: (m: Message) => boolean): Promise<Message> {
    return until(what, async () => this.received.find(pred));
  }

  async close(): Promise<void> {
    this.stopLeading();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** What a follower with no log of its own to defend answers: every vote granted, every append and heartbeat acknowledged. */
function followerAnswer(m: Message): Message | null {
  switch (m.type) {
    case MessageType.MsgPreVote:
      return msg({ type: MessageType.MsgPreVoteResp, term: m.term });
    case MessageType.MsgVote:
      return msg({ type: MessageType.MsgVoteResp, term: m.term });
    case MessageType.MsgApp:
      return msg({ type: MessageType.MsgAppResp, term: m.term, index: m.index + m.entries.length });
    case MessageType.MsgHeartbeat:
      return msg({ type: MessageType.MsgHeartbeatResp, term: m.term, context: m.context });
    default:
      return null;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export interface NodeUnderTest {
  node: RaftNode;
  kv: KvStore;
  proposeC: Chan<Proposal>;
  confChangeC: Chan<ConfChangeRequest>;
  stop(): Promise<void>;
}

/** Member 2 of the two-member cluster [fake leader, this node], in a data dir of its own. */
export async function twoMemberSetup(t: TestContext, opts: { requestTimeoutMs?: number; log?: Logger; world?: NodeWorld; metrics?: NodeMetrics } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'fake-leader-'));
  const stops: (() => Promise<void>)[] = [];
  // One hook, in this order: node-test runs hooks first-registered first, and the dir must
  // outlive every node writing into it.
  t.after(async () => {
    for (const stop of stops) await stop();
    await leader.close();
    await rm(dir, { recursive: true, force: true });
  });
  const [leaderPort, nodePeerPort, nodeClientPort] = [await freePort(), await freePort(), await freePort()];
  const cluster = [`http://127.0.0.1:${leaderPort}`, `http://127.0.0.1:${nodePeerPort}`];
  const leader = await FakeLeader.listen(leaderPort, cluster[1]!, deriveClusterId('raftexample-cluster', cluster));
  const parsed = parseConfig([
    '--id', String(NODE_ID), '--cluster', cluster.join(','), '--port', String(nodeClientPort),
    '--data-dir', dir, '--tick-ms', '20', '--election-ticks', '50', '--log-level', 'silent',
    '--request-timeout-ms', String(opts.requestTimeoutMs ?? 5000),
  ]);
  if (parsed.help) throw new Error('unreachable');
  const config = parsed.config;

  /** Start (or restart, on the same data dir) the node: a new process incarnation each time. */
  const start = async (): Promise<NodeUnderTest> => {
    const n = await startInProcess(config, {
      ...(opts.log === undefined ? {} : { log: opts.log }),
      ...(opts.world === undefined ? {} : { world: opts.world }),
      ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
    });
    stops.push(n.stop);
    return n;
  };
  return { leader, start, config };
}

/** Until the node follows the fake leader. */
export async function following(n: NodeUnderTest): Promise<void> {
  await until('the node follows the fake leader', async () => ((await n.node.status()).leader === LEADER_ID ? true : undefined));
}

/** Ask the node for a membership change, as the HTTP API does. */
export function askChange(n: NodeUnderTest, change: MemberChange): Promise<void> {
  return new Promise<void>((resolve, reject) => void n.confChangeC.send({ change, resolve, reject }).catch(reject));
}
