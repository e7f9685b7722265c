// The simulated peer network (src/transport/network.ts PeerNetwork) on the scheduler: each
// node gets its own view (host(url)), so the network knows who sends what and can cut links.
//
// FAULT MODEL:
// - A request reaches the listener on the target URL's host:port after a one-way latency;
//   its answer comes back after another. Random latencies reorder requests and answers.
// - The request path and the response path have their own faults: drop, extra delay (with
//   delayProbability, up to delayMsMax more), and on the request path duplication (the
//   handler runs twice; the sender takes the first answer). A dropped request is never
//   handled; a dropped answer was handled: the sender cannot tell the two apart.
// - Partitions: symmetric cuts between groups, one-way cuts (from → to lost, the other way
//   works: a request across it is lost, or its answer is), and isolating a host. A cut is
//   checked when a request or an answer leaves.
// - Echoing links: for a while, every request one way between two hosts arrives a second
//   time, late by a random amount (a retrying proxy, say): after the sender or the receiver
//   may have restarted. The sender takes the first answer.
// - Lagging links: for a while, everything one host says to another (its requests, and its
//   answers to the other's requests) arrives late by about a fixed amount, once: a slow path
//   whose queue outlives a restart of the receiver.
// - The sender gets status 0 when nothing came back within its PeerTimeouts
//   (snapshotTimeoutMs on PATH_SNAPSHOT, requestTimeoutMs otherwise), in virtual time; at
//   once (after the round trip) when no listener is there (connection refused), or when the
//   listener closed while handling the request (connection reset).
// - Bodies given in slices are concatenated for the handler; a body above the listener's
//   bodyBytesMax(path) is answered 413 without calling the handler, as fastify does. Header
//   names reach the handler in lower case, as over HTTP. Bodies are copied both ways.
// - Closing a listener refuses later requests; closing a connection answers its requests
//   in flight with status 0 at once. kill() on a host is its process dying: its listeners
//   close, and nothing it started (requests, timers of requests) settles again.
// Not modelled: connection set-up (connectTimeoutMs), bandwidth, partial bodies.

import { requestTimeoutMs, type PeerConnection, type PeerListener, type PeerNetwork, type PeerRequest, type PeerResponse, type PeerService, type PeerTimeouts } from '../../../src/transport/network.ts';
import type { Prng } from '../prng.ts';
import type { Scheduler } from './scheduler.ts';
import type { LatencyRange } from './sim-fs.ts';

export interface PathFaults {
  dropProbability: number;
  /** Request path only. */
  duplicateProbability: number;
  delayProbability: number;
  delayMsMax: number;
}

export interface SimNetworkOptions {
  /** One way. Default 0.2..2 ms. */
  latencyMs?: LatencyRange;
  request?: Partial<PathFaults>;
  response?: Partial<PathFaults>;
  trace?: (line: string) => void;
}

const NO_FAULTS: PathFaults = { dropProbability: 0, duplicateProbability: 0, delayProbability: 0, delayMsMax: 0 };
const NO_ANSWER: PeerResponse = { status: 0, body: new Uint8Array(0) };

/** The host:port a URL names: what listeners are found by and cuts are made between. */
export function hostOf(url: string): string {
  return new URL(url).host;
}

/** One request in flight, from the sender's side. */
interface Call {
  readonly id: number;
  readonly label: string;
  settled: boolean;
  settle(response: PeerResponse): void;
}

interface Listening {
  readonly service: PeerService;
  readonly owner: SimHostNetwork;
  closed: boolean;
}

export class SimNetwork {
  latencyMs: LatencyRange;
  readonly requestFaults: PathFaults;
  readonly responseFaults: PathFaults;
  private readonly listeners = new Map<string, Listening>();
  private readonly cuts = new Set<string>();
  private readonly isolated = new Set<string>();
  /** Per link (from, to): each request that way also arrives a second time, up to `lateMsMax` later, until `untilMs`. */
  private readonly echoLinks = new Map<string, { lateMsMax: number; untilMs: number }>();
  /** Per link (from, to): what `from` sends to `to`, requests and answers, arrives `lagMs` (±20%) late, until `untilMs`. */
  private readonly lagLinks = new Map<string, { lagMs: number; untilMs: number }>();
  private nextCallId = 1;

  constructor(
    readonly scheduler: Scheduler,
    private readonly prng: Prng,
    private readonly opts: SimNetworkOptions = {},
  ) {
    this.latencyMs = opts.latencyMs ?? { minMs: 0.2, maxMs: 2 };
    this.requestFaults = { ...NO_FAULTS, ...opts.request };
    this.responseFaults = { ...NO_FAULTS, ...opts.response };
  }

  /** The network as the process serving `ownUrl` sees it. */
  host(ownUrl: string): SimHostNetwork {
    return new SimHostNetwork(this, hostOf(ownUrl));
  }

  // ---- partitions (by URL; host:port is what counts) ----

  canReach(fromUrl: string, toUrl: string): boolean {
    return this.linkUp(hostOf(fromUrl), hostOf(toUrl));
  }

  /** Cut every link between different groups, both ways. */
  partition(groups: readonly (readonly string[])[]): void {
    for (const [g, group] of groups.entries()) {
      for (const [h, other] of groups.entries()) {
        if (g === h) continue;
        for (const a of group) for (const b of other) this.cuts.add(linkKey(hostOf(a), hostOf(b)));
      }
    }
    this.trace(`partition ${groups.map((g) => `{${g.map(hostOf).join(',')}}`).join(' | ')}`);
  }

  /** Packets from `from` to `to` are lost; the other direction still works. */
  cutOneWay(from: readonly string[], to: readonly string[]): void {
    for (const a of from) for (const b of to) if (hostOf(a) !== hostOf(b)) this.cuts.add(linkKey(hostOf(a), hostOf(b)));
    this.trace(`cut {${from.map(hostOf).join(',')}} -/-> {${to.map(hostOf).join(',')}}`);
  }

  /** Cut one host from every other, both ways. */
  isolate(url: string): void {
    this.isolated.add(hostOf(url));
    this.trace(`isolate ${hostOf(url)}`);
  }

  /** Until `untilMs`, every request from `from` to `to` arrives once more, up to `lateMsMax` after the first copy. */
  echoLink(from: string, to: string, lateMsMax: number, untilMs: number): void {
    this.echoLinks.set(linkKey(hostOf(from), hostOf(to)), { lateMsMax, untilMs });
    this.trace(`echo ${hostOf(from)} -> ${hostOf(to)}: late copies up to ${lateMsMax} ms until ${untilMs.toFixed(0)} ms`);
  }

  /** For a while, everything `from` sends to `to` (requests and answers) arrives about `lagMs` late. */
  lagLink(from: string, to: string, lagMs: number, untilMs: number): void {
    this.lagLinks.set(linkKey(hostOf(from), hostOf(to)), { lagMs, untilMs });
    this.trace(`lag ${hostOf(from)} -> ${hostOf(to)}: ${lagMs.toFixed(0)} ms late until ${untilMs.toFixed(0)} ms`);
  }

  heal(): void {
    this.cuts.clear();
    this.isolated.clear();
    this.echoLinks.clear();
    this.lagLinks.clear();
    this.trace('heal');
  }

  // ---- used by the hosts ----

  listen(owner: SimHostNetwork, url: string, service: PeerService): Listening {
    const host = hostOf(url);
    const existing = this.listeners.get(host);
    if (existing && !existing.closed) throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${host}`), { code: 'EADDRINUSE' });
    const listening: Listening = { service, owner, closed: false };
    this.listeners.set(host, listening);
    this.trace(`listen ${host}`);
    return listening;
  }

  unlisten(url: string, listening: Listening): void {
    listening.closed = true;
    const host = hostOf(url);
    if (this.listeners.get(host) === listening) this.listeners.delete(host);
    this.trace(`close ${host}`);
  }

  newCallId(): number {
    return this.nextCallId++;
  }

  /** A request leaves `from` for `to`: lost, or delivered once or twice. */
  send(from: string, to: string, req: PeerRequest, call: Call): void {
    const body = concat(req.body);
    const faults = this.requestFaults;
    if (!this.linkUp(from, to) || this.prng.chance(faults.dropProbability)) {
      this.trace(`${call.label} request lost${this.linkUp(from, to) ? '' : ' (cut)'}`);
      return;
    }
    const copies = this.prng.chance(faults.duplicateProbability) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const delay = this.delay(faults) + this.lagMsOf(from, to);
      this.scheduler.after(delay, () => this.arrive(from, to, req, body, call, copy > 0));
    }
    const lateMs = this.echoLateMs(from, to);
    if (lateMs > 0) this.scheduler.after(this.delay(faults) + lateMs, () => this.arrive(from, to, req, body, call, true));
  }

  private arrive(from: string, to: string, req: PeerRequest, body: Uint8Array, call: Call, duplicate: boolean): void {
    const listening = this.listeners.get(to);
    const tag = duplicate ? ' (duplicate)' : '';
    if (listening === undefined || listening.closed) {
      this.trace(`${call.label} refused${tag}`);
      this.scheduler.after(this.delay(NO_FAULTS), () => call.settle(NO_ANSWER));
      return;
    }
    const { service } = listening;
    if (body.length > service.bodyBytesMax(req.path)) {
      this.trace(`${call.label} 413 (${body.length} bytes)${tag}`);
      this.answer(to, from, listening, call, { status: 413, body: Buffer.from('request body too large\n') });
      return;
    }
    this.trace(`${call.label} delivered${tag}`);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name.toLowerCase(), value]));
    service.handle({ method: req.method, path: req.path, headers, body }).then(
      (response) => this.answer(to, from, listening, call, response),
      (e: unknown) => {
        this.trace(`${call.label} handler threw ${(e as Error).message}`);
        this.answer(to, from, listening, call, { status: 500, body: new Uint8Array(0) });
      },
    );
  }

  /** The answer leaves the receiver: lost, reset (the listener closed meanwhile), or delivered. */
  private answer(from: string, to: string, listening: Listening, call: Call, response: PeerResponse): void {
    if (listening.closed) {
      this.trace(`${call.label} reset: the listener closed`);
      if (!listening.owner.isAlive) return; // a dead process's kernel still resets, but its code sends nothing
      this.scheduler.after(this.delay(NO_FAULTS), () => call.settle(NO_ANSWER));
      return;
    }
    const faults = this.responseFaults;
    if (!this.linkUp(from, to) || this.prng.chance(faults.dropProbability)) {
      this.trace(`${call.label} answer ${response.status} lost${this.linkUp(from, to) ? '' : ' (cut)'}`);
      return;
    }
    const copy: PeerResponse = { status: response.status, body: Uint8Array.from(response.body) };
    this.scheduler.after(this.delay(faults) + this.lagMsOf(from, to), () => {
      this.trace(`${call.label} answer ${copy.status}${call.settled ? ' (too late)' : ''}`);
      call.settle(copy);
    });
  }

  private linkUp(from: string, to: string): boolean {
    if (from === to) return true;
    return !this.isolated.has(from) && !this.isolated.has(to) && !this.cuts.has(linkKey(from, to));
  }

  /** How late the echo of a request from `from` to `to` comes, or 0: none. */
  private echoLateMs(from: string, to: string): number {
    if (this.echoLinks.size === 0) return 0;
    const echo = this.echoLinks.get(linkKey(from, to));
    if (echo === undefined || echo.untilMs <= this.scheduler.now) return 0;
    return this.prng.float() * echo.lateMsMax;
  }

  /** How late what `from` sends to `to` comes on a lagging link, or 0. */
  private lagMsOf(from: string, to: string): number {
    if (this.lagLinks.size === 0) return 0;
    const lag = this.lagLinks.get(linkKey(from, to));
    if (lag === undefined || lag.untilMs <= this.scheduler.now) return 0;
    return lag.lagMs * (0.8 + 0.4 * this.prng.float());
  }

  private delay(faults: PathFaults): number {
    const { minMs, maxMs } = this.latencyMs;
    const base = minMs + this.prng.float() * (maxMs - minMs);
    return this.prng.chance(faults.delayProbability) ? base + this.prng.float() * faults.delayMsMax : base;
  }

  trace(line: string): void {
    this.opts.trace?.(`${this.scheduler.now.toFixed(3)} net ${line}`);
  }
}

/** One node's view of the network (PeerNetwork); kill() when its process dies. */
export class SimHostNetwork implements PeerNetwork {
  private alive = true;
  private readonly connections = new Set<SimConnection>();
  private readonly listening = new Map<string, Listening>();

  constructor(
    readonly network: SimNetwork,
    readonly host: string,
  ) {}

  get isAlive(): boolean {
    return this.alive;
  }

  connect(url: string, timeouts: PeerTimeouts): PeerConnection {
    const connection = new SimConnection(this, hostOf(url), timeouts);
    this.connections.add(connection);
    return connection;
  }

  async listen(url: string, service: PeerService): Promise<PeerListener> {
    if (!this.alive) return new Promise<never>(() => {});
    const listening = this.network.listen(this, url, service);
    this.listening.set(url, listening);
    return {
      close: async () => {
        if (listening.closed) return;
        this.network.unlisten(url, listening);
        this.listening.delete(url);
      },
    };
  }

  /** The process died: its listeners close, and what it started never settles. */
  kill(): void {
    this.alive = false;
    for (const [url, listening] of this.listening) this.network.unlisten(url, listening);
    this.listening.clear();
    for (const connection of this.connections) connection.abandon();
    this.connections.clear();
  }
}

class SimConnection implements PeerConnection {
  private closed = false;
  private readonly inFlight = new Set<Call>();

  constructor(
    private readonly owner: SimHostNetwork,
    private readonly target: string,
    private readonly timeouts: PeerTimeouts,
  ) {}

  request(req: PeerRequest): Promise<PeerResponse> {
    const network = this.owner.network;
    if (!this.owner.isAlive) return new Promise<never>(() => {});
    if (this.closed) return Promise.resolve(NO_ANSWER);
    return new Promise<PeerResponse>((resolve) => {
      const id = network.newCallId();
      const timeoutMs = requestTimeoutMs(req, this.timeouts);
      const timer = network.scheduler.after(timeoutMs, () => {
        network.trace(`${call.label} timed out after ${timeoutMs} ms`);
        call.settle(NO_ANSWER);
      });
      const call: Call = {
        id,
        label: `#${id} ${this.owner.host}->${this.target} ${req.method} ${req.path}`,
        settled: false,
        settle: (response) => {
          if (call.settled || !this.owner.isAlive) return;
          call.settled = true;
          timer.cancelled = true;
          this.inFlight.delete(call);
          resolve(response);
        },
      };
      this.inFlight.add(call);
      network.send(this.owner.host, this.target, req, call);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const call of [...this.inFlight]) call.settle(NO_ANSWER);
  }

  /** The owner died: nothing in flight settles. */
  abandon(): void {
    this.closed = true;
    this.inFlight.clear();
  }
}

function concat(body: Uint8Array | readonly Uint8Array[]): Uint8Array {
  if (body instanceof Uint8Array) return Uint8Array.from(body);
  const out = new Uint8Array(body.reduce((n, slice) => n + slice.length, 0));
  let at = 0;
  for (const slice of body) {
    out.set(slice, at);
    at += slice.length;
  }
  return out;
}

function linkKey(from: string, to: string): string {
  return `${from}>${to}`;
}
