// The chaos suite's network: each node in a network namespace of its own on one bridge, the
// clients in the root namespace (the bridge's address). Faults are routes and queues, made and
// removed with iproute2 only (this kernel has neither netem nor iptables userspace):
// - a cut from A to B routes A's packets for B to a sink namespace that drops them silently, so
//   the sender sees a real loss (timeouts), never a quick error; cuts are one-way by nature;
// - a slow link is a token bucket (tc tbf) on a node's interface: queueing delay and drops.
// Names carry a per-run suffix; a pid file per run lets a later run remove the leftovers of
// runs that died without cleaning up, and only those.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const NAME_PREFIX = 'rxc';
const PID_FILE_PREFIX = 'raftexample-chaos-';

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 10_000 })).stdout;
  } catch (e) {
    throw new Error(`ip ${args.join(' ')}: ${((e as { stderr?: string }).stderr ?? String(e)).trim()}`);
  }
}

async function tc(netns: string, ...args: string[]): Promise<void> {
  try {
    await run('ip', ['netns', 'exec', netns, 'tc', ...args], { timeout: 10_000 });
  } catch (e) {
    throw new Error(`tc ${args.join(' ')}: ${((e as { stderr?: string }).stderr ?? String(e)).trim()}`);
  }
}

function pidFile(runId: string): string {
  return join(tmpdir(), `${PID_FILE_PREFIX}${runId}.pid`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL every process in a namespace (a node outlives a suite that died, but not its cleanup). */
async function killAllIn(netns: string): Promise<void> {
  const pids = await ip('netns', 'pids', netns).catch(() => '');
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Why network namespaces cannot be used here, or null if they can. */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    await run('ip', ['netns', 'list'], { timeout: 10_000 });
    await run('tc', ['-V'], { timeout: 10_000 });
  } catch (e) {
    return `iproute2 missing or refused: ${String(e)}`;
  }
  return null;
}

/** Remove the namespaces, links and pid files of chaos runs whose process is gone. */
export async function removeLeftovers(): Promise<string[]> {
  const dead = new Set<string>();
  for (const f of readdirSync(tmpdir())) {
    if (!f.startsWith(PID_FILE_PREFIX) || !f.endsWith('.pid')) continue;
    const runId = f.slice(PID_FILE_PREFIX.length, -'.pid'.length);
    const pid = Number(readFileSync(join(tmpdir(), f), 'utf8'));
    if (!Number.isInteger(pid) || !alive(pid)) dead.add(runId);
  }
  const live = (name: string): boolean => {
    const runId = name.slice(NAME_PREFIX.length, NAME_PREFIX.length + 4);
    return existsSync(pidFile(runId)) && !dead.has(runId);
  };
  const removed: string[] = [];
  for (const line of (await ip('netns', 'list')).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (!name.startsWith(NAME_PREFIX) || live(name)) continue;
    await killAllIn(name);
    await ip('netns', 'del', name).catch(() => undefined);
    removed.push(name);
  }
  for (const line of (await ip('-o', 'link', 'show')).split('\n')) {
    const name = (line.split(':')[1] ?? '').trim().split('@')[0] ?? '';
    if (!name.startsWith(NAME_PREFIX) || live(name)) continue;
    await ip('link', 'del', name).catch(() => undefined);
    removed.push(name);
  }
  for (const runId of dead) rmSync(pidFile(runId), { force: true });
  return removed;
}

/** Which hosts a node's packets may not reach: `from` never gets a packet to `to`. */
export interface Cut {
  from: number;
  to: number;
}

/** Where nodes live and how faults reach them; loopback has no network faults. */
export interface ChaosNetwork {
  readonly kind: 'netns' | 'loopback';
  readonly clientHost: string;
  hostOf(id: number): string;
  peerPortOf(id: number): number;
  clientPortOf(id: number): number;
  /** The command prefix that runs a program on node `id`'s host. */
  exec(id: number): string[];
  addHost(id: number): Promise<void>;
  removeHost(id: number): Promise<void>;
  setCuts(cuts: readonly Cut[]): Promise<void>;
  slow(id: number, rateKbit: number, latencyMs: number): Promise<void>;
  heal(): Promise<void>;
  destroy(): Promise<void>;
}

/** Without root: every node on 127.0.0.1 with ports of its own, and no network faults at all. */
export class LoopbackNetwork implements ChaosNetwork {
  readonly kind = 'loopback';
  readonly clientHost = '127.0.0.1';
  private readonly portBase: number;

  constructor() {
    this.portBase = 20_000 + 2 * Math.floor(Math.random() * 10_000);
  }

  hostOf(): string {
    return '127.0.0.1';
  }

  peerPortOf(id: number): number {
    return this.portBase + 2 * id;
  }

  clientPortOf(id: number): number {
    return this.portBase + 2 * id + 1;
  }

  exec(): string[] {
    return [];
  }

  async addHost(): Promise<void> {}
  async removeHost(): Promise<void> {}
  async setCuts(): Promise<void> {}
  async slow(): Promise<void> {}
  async heal(): Promise<void> {}
  async destroy(): Promise<void> {}
}

export class NetnsNetwork implements ChaosNetwork {
  readonly kind = 'netns';
  readonly runId: string;
  /** The third octet of 10.77.X.0/24, chosen so parallel runs do not share a subnet. */
  private readonly subnet: number;
  private readonly hosts = new Set<number>();
  private cuts = new Set<string>();
  private readonly slowed = new Set<number>();

  private constructor(runId: string, subnet: number) {
    this.runId = runId;
    this.subnet = subnet;
  }

  static async create(): Promise<NetnsNetwork> {
    const runId = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0');
    writeFileSync(pidFile(runId), String(process.pid));
    const used = await ip('-4', '-o', 'addr', 'show');
    let subnet = 0;
    for (let tries = 0; tries < 1000 && subnet === 0; tries++) {
      const candidate = 1 + Math.floor(Math.random() * 250);
      if (!used.includes(`10.77.${candidate}.`)) subnet = candidate;
    }
    if (subnet === 0) throw new Error('no free 10.77.X.0/24 subnet for the chaos bridge');
    const net = new NetnsNetwork(runId, subnet);
    await net.createBridgeAndSink();
    return net;
  }

  get bridge(): string {
    return `${NAME_PREFIX}${this.runId}br`;
  }

  /** The root namespace's address on the bridge: where clients come from. */
  get clientHost(): string {
    return `10.77.${this.subnet}.1`;
  }

  private get sinkHost(): string {
    return `10.77.${this.subnet}.2`;
  }

  private get sinkNetns(): string {
    return `${NAME_PREFIX}${this.runId}-sink`;
  }

  netnsOf(id: number): string {
    return `${NAME_PREFIX}${this.runId}-n${id}`;
  }

  hostOf(id: number): string {
    if (!Number.isInteger(id) || id < 1 || id > 240) throw new Error(`chaos net: node id ${id} outside 1..240`);
    return `10.77.${this.subnet}.${10 + id}`;
  }

  peerPortOf(): number {
    return 12379;
  }

  clientPortOf(): number {
    return 12380;
  }

  /** The command prefix that runs a program inside node `id`'s namespace. */
  exec(id: number): string[] {
    return ['ip', 'netns', 'exec', this.netnsOf(id)];
  }

  private async createBridgeAndSink(): Promise<void> {
    await ip('link', 'add', this.bridge, 'type', 'bridge');
    await ip('addr', 'add', `${this.clientHost}/24`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
    await this.attach(this.sinkNetns, `${NAME_PREFIX}${this.runId}hs`, this.sinkHost);
    // The sink forwards nothing: whatever is routed to it for another address is dropped.
    await ip('netns', 'exec', this.sinkNetns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    await ip('-n', this.sinkNetns, 'rule', 'add', 'iif', 'eth0', 'priority', '100', 'blackhole');
  }

  /** A namespace with a veth (eth0 inside, `hostSide` on the bridge) and an address. */
  private async attach(netns: string, hostSide: string, address: string): Promise<void> {
    await ip('netns', 'add', netns);
    await ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', `${hostSide}p`);
    await ip('link', 'set', `${hostSide}p`, 'netns', netns);
    await ip('-n', netns, 'link', 'set', `${hostSide}p`, 'name', 'eth0');
    await ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', netns, 'link', 'set', 'eth0', 'up');
    await ip('-n', netns, 'link', 'set', 'lo', 'up');
    await ip('link', 'set', hostSide, 'master', this.bridge);
    await ip('link', 'set', hostSide, 'up');
  }

  async addHost(id: number): Promise<void> {
    if (this.hosts.has(id)) return;
    await this.attach(this.netnsOf(id), `${NAME_PREFIX}${this.runId}h${id}`, this.hostOf(id));
    this.hosts.add(id);
  }

  async removeHost(id: number): Promise<void> {
    if (!this.hosts.delete(id)) return;
    for (const key of [...this.cuts]) if (key.split('>').includes(String(id))) this.cuts.delete(key);
    this.slowed.delete(id);
    await killAllIn(this.netnsOf(id));
    await ip('netns', 'del', this.netnsOf(id)).catch(() => undefined);
    // The veth goes with its namespace, but only once the killed processes are reaped: now.
    await ip('link', 'del', `${NAME_PREFIX}${this.runId}h${id}`).catch(() => undefined);
  }

  /** Make exactly these cuts hold (others healed). */
  async setCuts(cuts: readonly Cut[]): Promise<void> {
    const want = new Set(cuts.filter((c) => c.from !== c.to && this.hosts.has(c.from) && this.hosts.has(c.to)).map((c) => `${c.from}>${c.to}`));
    for (const key of this.cuts) {
      if (want.has(key)) continue;
      const [from, to] = key.split('>').map(Number) as [number, number];
      await ip('-n', this.netnsOf(from), 'route', 'del', `${this.hostOf(to)}/32`).catch(() => undefined);
    }
    for (const key of want) {
      if (this.cuts.has(key)) continue;
      const [from, to] = key.split('>').map(Number) as [number, number];
      await ip('-n', this.netnsOf(from), 'route', 'replace', `${this.hostOf(to)}/32`, 'via', this.sinkHost);
    }
    this.cuts = want;
  }

  /** A slow link on node `id`: a token bucket of rateKbit, packets waiting past latencyMs dropped. */
  async slow(id: number, rateKbit: number, latencyMs: number): Promise<void> {
    if (!this.hosts.has(id)) return;
    await tc(this.netnsOf(id), 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', '4kb', 'latency', `${latencyMs}ms`);
    this.slowed.add(id);
  }

  async heal(): Promise<void> {
    await this.setCuts([]);
    for (const id of [...this.slowed]) {
      await tc(this.netnsOf(id), 'qdisc', 'del', 'dev', 'eth0', 'root').catch(() => undefined);
      this.slowed.delete(id);
    }
  }

  async destroy(): Promise<void> {
    for (const id of [...this.hosts]) await this.removeHost(id);
    await ip('netns', 'del', this.sinkNetns).catch(() => undefined);
    await ip('link', 'del', `${NAME_PREFIX}${this.runId}hs`).catch(() => undefined);
    await ip('link', 'del', this.bridge).catch(() => undefined);
    rmSync(pidFile(this.runId), { force: true });
  }
}
