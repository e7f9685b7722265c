// The cluster under test: real node processes (src/main.ts), one per host of a ChaosNetwork,
// each with a data dir of its own. It knows which deaths the nemesis caused, so any other
// exit is reported as a failure; every node's log goes to a file in the run's directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import type { ChaosNetwork } from './net.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
const WALL_CLOCK_PRELOAD = join(import.meta.dirname, 'wall-clock.ts');
const LOG_TAIL_BYTES = 64 * 1024;

export interface NodeTuning {
  tickMs: number;
  electionTicks: number;
  requestTimeoutMs: number;
  snapshotCount: number;
  /** Environment for every node (the test-only switches of src/config.ts). */
  env: Record<string, string>;
  /** Start each node in a time namespace with this many seconds added to its monotonic clock (0: none). */
  monotonicSkewSeconds: (id: number) => number;
}

export interface UnexpectedExit {
  id: number;
  code: number | null;
  signal: string | null;
  logTail: string;
}

export class ChaosNode {
  readonly id: number;
  readonly dataDir: string;
  proc: ChildProcess | null = null;
  exit: Promise<void> = Promise.resolve();
  /** The nemesis is about to kill it (or its disk is full): its next exit is no failure. */
  exitExpected = false;
  /** DELETE /<id> was asked for: it may shut itself down (exit 0). */
  removing = false;
  removed = false;
  paused = false;
  /** Started with --join: every restart joins too (a joiner killed before its first WAL segment must ask again). */
  joiner = false;
  logTail = '';
  tornTailRepairs = 0;
  readonly clockFile: string;

  constructor(id: number, dataDir: string, clockFile: string) {
    this.id = id;
    this.dataDir = dataDir;
    this.clockFile = clockFile;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  get walDir(): string {
    return join(this.dataDir, `raftexample-${this.id}`);
  }
}

export interface NodeStatus {
  id: number;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  members: { id: number; peerURL: string; role: string }[];
}

export class ChaosCluster {
  readonly net: ChaosNetwork;
  readonly dir: string;
  readonly tuning: NodeTuning;
  /** Every node ever started, removed ones too, by id. */
  readonly nodes = new Map<number, ChaosNode>();
  readonly unexpectedExits: UnexpectedExit[] = [];
  readonly agent = new Agent({ connect: { timeout: 2000 }, keepAliveTimeout: 2000 });
  private nextId = 1;
  /** The founding voters: each of them starts with all of their URLs. */
  private founders = 0;

  constructor(net: ChaosNetwork, dir: string, tuning: NodeTuning) {
    this.net = net;
    this.dir = dir;
    this.tuning = tuning;
  }

  peerUrl(id: number): string {
    return `http://${this.net.hostOf(id)}:${this.net.peerPortOf(id)}`;
  }

  clientUrl(id: number): string {
    return `http://${this.net.hostOf(id)}:${this.net.clientPortOf(id)}`;
  }

  /** Members not removed (running or not). */
  get members(): ChaosNode[] {
    return [...this.nodes.values()].filter((n) => !n.removed);
  }

  /** A fresh node: a new id (ids are single-use), a host and an empty data dir. */
  async allocate(): Promise<ChaosNode> {
    const id = this.nextId++;
    await this.net.addHost(id);
    const dataDir = join(this.dir, `node-${id}`);
    await mkdir(dataDir, { recursive: true });
    const node = new ChaosNode(id, dataDir, join(this.dir, `clock-${id}`));
    this.nodes.set(id, node);
    return node;
  }

  async start(voters: number): Promise<void> {
    this.founders = voters;
    for (let i = 0; i < voters; i++) await this.allocate();
    for (const node of this.nodes.values()) this.spawn(node, false);
  }

  /** --cluster lists every founder and every id up to this node's (node N is the N-th URL), removed ones too. */
  private clusterArg(upTo: number): string {
    const urls: string[] = [];
    for (let id = 1; id <= upTo; id++) urls.push(this.peerUrl(id));
    return urls.join(',');
  }

  spawn(node: ChaosNode, joining: boolean): void {
    if (node.running) return;
    node.joiner ||= joining;
    const t = this.tuning;
    const main = [
      process.execPath, '--import', 'tsx', '--import', WALL_CLOCK_PRELOAD, 'src/main.ts',
      '--id', String(node.id), '--cluster', this.clusterArg(Math.max(node.id, this.founders)), '--port', String(this.net.clientPortOf(node.id)),
      '--data-dir', node.dataDir, '--tick-ms', String(t.tickMs), '--election-ticks', String(t.electionTicks),
      '--request-timeout-ms', String(t.requestTimeoutMs), '--snapshot-count', String(t.snapshotCount),
      '--snapshot-catchup-entries', String(Math.max(10, Math.floor(t.snapshotCount / 5))),
      ...(node.joiner ? ['--join'] : []),
    ];
    const skew = t.monotonicSkewSeconds(node.id);
    // unshare makes a time namespace and execs node in it (so the pid stays node's).
    const clock = skew === 0 ? [] : ['unshare', '--time', `--monotonic=${skew}`, `--boottime=${skew}`];
    const argv = [...this.net.exec(node.id), ...clock, ...main];
    const log = createWriteStream(join(this.dir, `node-${node.id}.log`), { flags: 'a' });
    const proc = spawn(argv[0]!, argv.slice(1), {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...t.env, RAFTEXAMPLE_CHAOS_CLOCK_FILE: node.clockFile },
    });
    node.proc = proc;
    node.exitExpected = false;
    node.paused = false;
    this.watch(node, proc, log);
  }

  private watch(node: ChaosNode, proc: ChildProcess, log: WriteStream): void {
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      log.write(chunk);
      node.logTail = (node.logTail + chunk).slice(-LOG_TAIL_BYTES);
      node.tornTailRepairs += chunk.split('repaired torn WAL tail').length - 1;
    });
    node.exit = new Promise((res) => {
      proc.on('exit', (code, signal) => {
        log.end();
        node.proc = null;
        node.paused = false;
        const removedCleanly = node.removing && code === 0;
        if (removedCleanly) node.removed = true;
        if (!node.exitExpected && !removedCleanly) {
          this.unexpectedExits.push({ id: node.id, code, signal, logTail: node.logTail.split('\n').slice(-15).join('\n') });
        }
        res();
      });
    });
  }

  /** The pid to signal: the node process itself, below `ip netns exec` and `unshare`. */
  private nodePid(node: ChaosNode): number | null {
    let pid = node.proc?.pid;
    for (let depth = 0; pid !== undefined && depth < 4; depth++) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node') return pid;
        const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
        pid = children.length > 0 ? Number(children[0]) : undefined;
      } catch {
        return null;
      }
    }
    return null;
  }

  signal(node: ChaosNode, sig: NodeJS.Signals): boolean {
    const pid = this.nodePid(node);
    if (pid === null) return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  async kill(node: ChaosNode): Promise<void> {
    if (!node.running) return;
    node.exitExpected = true;
    if (node.paused) this.signal(node, 'SIGCONT');
    if (!this.signal(node, 'SIGKILL')) node.proc?.kill('SIGKILL');
    await node.exit;
  }

  pause(node: ChaosNode): void {
    if (node.running && !node.paused && this.signal(node, 'SIGSTOP')) node.paused = true;
  }

  resume(node: ChaosNode): void {
    if (node.paused && this.signal(node, 'SIGCONT')) node.paused = false;
  }

  async status(id: number, timeoutMs = 1500): Promise<NodeStatus | undefined> {
    try {
      const res = await request(`${this.clientUrl(id)}/-/status`, { dispatcher: this.agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      const body = await res.body.text();
      return res.statusCode === 200 ? (JSON.parse(body) as NodeStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The leader most running members name, if a majority of them agree. */
  async leader(): Promise<number | undefined> {
    const running = this.members.filter((n) => n.running && !n.paused);
    const votes = new Map<number, number>();
    const statuses = await Promise.all(running.map((n) => this.status(n.id)));
    for (const s of statuses) if (s !== undefined && s.leader !== 0) votes.set(s.leader, (votes.get(s.leader) ?? 0) + 1);
    for (const [id, count] of votes) if (count * 2 > running.length && this.nodes.get(id)?.removed === false) return id;
    return undefined;
  }

  async call(id: number, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
    const res = await request(`${this.clientUrl(id)}${path}`, {
      method,
      body,
      dispatcher: this.agent,
      headers: body === undefined ? {} : { 'content-type': 'application/octet-stream' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  async destroy(): Promise<void> {
    for (const node of this.nodes.values()) {
      node.exitExpected = true;
      if (node.paused) this.signal(node, 'SIGCONT');
      if (node.running && !this.signal(node, 'SIGKILL')) node.proc?.kill('SIGKILL');
    }
    await Promise.all([...this.nodes.values()].map((n) => n.exit));
    await this.agent.close();
  }
}
