// Test harness: real node processes on free loopback ports in a temp dir. Everything a
// test starts is SIGKILLed and removed in destroy(); clusterTest() registers it with t.after
// and prints every node's log tail when the test fails.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import { DIST_MAIN, ensureBuilt, REPO_ROOT } from '../../scripts/build.ts';

export { REPO_ROOT };

/**
 * What a test runs a node with, after `node` and its own flags: the built entry point, as
 * `npm start` runs it (built first here unless dist/ was built from the sources as they are).
 */
export function nodeMain(): string[] {
  ensureBuilt();
  return [DIST_MAIN];
}

/** Ports this process has handed out: the kernel may give a closed one back at once. */
const portsHandedOut = new Set<number>();

/**
 * A port nothing listens on now, and never one this process handed out before: two calls in a
 * row can otherwise get the same ephemeral port back (two nodes of one cluster did, and the
 * second could not listen).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.unref();
      s.on('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    if (portsHandedOut.has(port)) continue;
    portsHandedOut.add(port);
    return port;
  }
}

export interface HttpResult {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export async function http(method: string, url: string, body?: string | Buffer, timeoutMs = 10_000): Promise<HttpResult> {
  const res = await request(url, {
    method: method as 'GET',
    body,
    headers: body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

/** Poll until fn returns a value (not undefined), or fail after timeoutMs with the last error. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The value of p, or `fallback` if p has not settled after ms (the timer never outlives the call). */
export async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface NodeOptions {
  tickMs?: number;
  logLevel?: string;
  /** Extra flags for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
  extraArgs?: string[];
}

export class TestNode {
  readonly id: number;
  readonly peerPort: number;
  readonly clientPort: number;
  proc: ChildProcess | null = null;
  exit: Promise<number | null> = Promise.resolve(null);
  exitCode: number | null = null;
  log = '';

  constructor(id: number, peerPort: number, clientPort: number) {
    this.id = id;
    this.peerPort = peerPort;
    this.clientPort = clientPort;
  }

  get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.proc !== null && this.exitCode === null;
  }
}

export class TestCluster {
  readonly nodes: TestNode[] = [];
  dir = '';
  private readonly opts: NodeOptions;

  constructor(opts: NodeOptions = {}) {
    this.opts = opts;
  }

  static async start(n: number, opts: NodeOptions = {}): Promise<TestCluster> {
    const c = new TestCluster(opts);
    c.dir = await mkdtemp(join(tmpdir(), 'raftexample-e2e-'));
    for (let i = 1; i <= n; i++) await c.allocate();
    for (const node of c.nodes) c.spawn(node, c.clusterArg(n), false);
    try {
      await c.waitLeader();
    } catch (e) {
      console.error(c.dumpLogs());
      await c.destroy(); // the caller never gets `c`: kill what we started here
      throw e;
    }
    return c;
  }

  async allocate(): Promise<TestNode> {
    const node = new TestNode(this.nodes.length + 1, await freePort(), await freePort());
    this.nodes.push(node);
    return node;
  }

  node(id: number): TestNode {
    return this.nodes[id - 1]!;
  }

  clusterArg(upTo = this.nodes.length): string {
    return this.nodes.slice(0, upTo).map((n) => n.peerUrl).join(',');
  }

  spawn(node: TestNode, cluster: string, join: boolean, extraArgs: string[] = []): void {
    const args = [
      ...(this.opts.nodeArgs ?? []), ...nodeMain(),
      '--id', String(node.id), '--cluster', cluster, '--port', String(node.clientPort),
      '--data-dir', this.dir, '--tick-ms', String(this.opts.tickMs ?? 50), '--log-level', this.opts.logLevel ?? 'info',
      ...(join ? ['--join'] : []), ...(this.opts.extraArgs ?? []), ...extraArgs,
    ];
    const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    node.proc = proc;
    node.exitCode = null;
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      node.log = (node.log + d).slice(-200_000);
    });
    node.exit = new Promise((res) => {
      proc.on('exit', (code, signal) => {
        node.exitCode = code ?? (signal ? -1 : null);
        res(code);
      });
    });
  }

  /** Restart a stopped node with its original flags (the data dir decides the rest). */
  restart(node: TestNode, extraArgs: string[] = []): void {
    this.spawn(node, this.clusterArg(), false, extraArgs);
  }

  async kill(node: TestNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (!node.running) return node.exitCode;
    node.proc!.kill(signal);
    return node.exit;
  }

  async status(node: TestNode): Promise<{ leader: number; term: number; commit: number; applied: number } | undefined> {
    const r = await http('GET', `${node.url}/-/status`, undefined, 2000);
    return r.status === 200 ? JSON.parse(r.body) : undefined;
  }

  /** Wait until every running node (or every one of `among`) reports the same leader; returns its id. */
  async waitLeader(timeoutMs = 30_000, among?: TestNode[]): Promise<number> {
    return until('a leader all running nodes agree on', async () => {
      const leaders = new Set<number>();
      for (const n of among ?? this.nodes.filter((x) => x.running)) leaders.add((await this.status(n))?.leader ?? 0);
      const [l] = [...leaders];
      return leaders.size === 1 && l !== 0 ? l : undefined;
    }, timeoutMs);
  }

  async put(node: TestNode, key: string, value: string): Promise<HttpResult> {
    return http('PUT', node.url + key, value);
  }

  async get(node: TestNode, key: string, query = ''): Promise<HttpResult> {
    return http('GET', node.url + key + query);
  }

  /**
   * PUT until acknowledged, retrying a 503 (no leader for a moment: the write was not made) and
   * a 504 (outcome unknown: it may have been made; writing the same value again is harmless).
   */
  async putAcked(node: TestNode, key: string, value: string): Promise<void> {
    await until(`PUT ${key} acknowledged`, async () => {
      const r = await this.put(node, key, value);
      if (r.status === 204) return true;
      if (r.status !== 503 && r.status !== 504) throw new Error(`PUT ${key}: ${r.status} ${r.body}`);
      return undefined;
    });
  }

  /** GET, retrying only a 503 or 504 (no answer: a refusal or a read that timed out); any other answer is returned. */
  async getAnswer(node: TestNode, key: string, query = ''): Promise<HttpResult> {
    return until(`GET ${key} answered`, async () => {
      const r = await this.get(node, key, query);
      return r.status === 503 || r.status === 504 ? undefined : r;
    });
  }

  /** The node's log lines (JSON, from pino) whose msg is `msg`, parsed. */
  logRecords(node: TestNode, msg: string): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of node.log.split('\n')) {
      if (!line.includes(msg)) continue;
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (rec.msg === msg) out.push(rec);
      } catch {
        // a line cut by the log tail's bound
      }
    }
    return out;
  }

  /** Print the tail of every node's log (call on failure). */
  dumpLogs(): string {
    return this.nodes.map((n) => `--- node ${n.id} (exit ${n.exitCode})\n${n.log.split('\n').slice(-30).join('\n')}`).join('\n');
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) if (n.running) n.proc!.kill('SIGKILL');
    await Promise.all(this.nodes.map((n) => n.exit));
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** A test on a fresh n-node cluster: destroyed afterwards, every node's log tail printed if it fails. */
export function clusterTest(
  name: string,
  n: number,
  opts: NodeOptions,
  body: (c: TestCluster, t: TestContext) => Promise<void>,
): void {
  test(name, async (t) => {
    const c = await TestCluster.start(n, opts);
    t.after(() => c.destroy());
    try {
      await body(c, t);
    } catch (e) {
      console.error(c.dumpLogs());
      throw e;
    }
  });
}
