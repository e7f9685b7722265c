// The node serving /-/ui gathers what the page shows: every member's /-/status, polled
// concurrently, each member on its own short timeout so one that hangs stalls nobody, and
// every member's /-/metrics for the charts. A member that does not answer is data
// (unreachable, last seen N ms ago), never an error for the page. Polling runs only while
// a page or an /-/events stream is watching.

import { Agent, request, type Dispatcher } from 'undici';
import {
  uiChartSamplesMax,
  uiIdleStopMs,
  uiMemberAnswerBytesMax,
  uiMemberRequestTimeoutMs,
  uiMembersMax,
  uiMetricsPollMs,
  uiStatusPollMs,
} from '../limits.ts';
import type { MemberWithRole, NodeStatus, PeerLink, RecentLogTerms } from '../node/status.ts';
import type { TlsFiles } from '../transport/tls.ts';
import type { EventRing } from './event-ring.ts';
import { memberClientUrl } from './member-url.ts';
import { parseTrafficCounters, trafficRates, type TrafficCounters, type TrafficRates } from './traffic.ts';

/** The node serving the page: read in-process, never over HTTP. */
export interface WatchedSelf {
  id: number;
  status(): Promise<NodeStatus>;
  members(): MemberWithRole[];
  /** Its Prometheus text (null: no metrics, so no charts of its traffic). */
  metricsText(): Promise<string> | null;
}

export interface ClusterWatchOptions {
  self: WatchedSelf;
  events: EventRing;
  /** The scheme of a client URL derived from a peer URL (a member that published none). */
  clientScheme: 'http:' | 'https:';
  /** For https client URLs: the agent holding the CA (and client certificate) to use. */
  dispatcher?: Dispatcher;
}

/** What the page draws a member as. */
export type MemberState = 'leader' | 'follower' | 'candidate' | 'pre-candidate' | 'learner' | 'unreachable' | 'unknown';

export interface LinkView {
  to: number;
  messagesPerSecond: number;
  /** The sender's transport could not reach it, or messages to it failed since the last poll. */
  failing: boolean;
  msSinceHeard: number | null;
}

/** The last status a member gave (kept while it is unreachable, for its last known term). */
export interface MemberStatusView {
  term: number;
  leader: number;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  raftState: string;
  recentLogTerms: RecentLogTerms;
}

export interface MemberView {
  id: number;
  peerURL: string;
  clientURL: string | null;
  membership: 'voter' | 'learner';
  state: MemberState;
  /** Milliseconds since its status last arrived (null: never). */
  lastSeenMsAgo: number | null;
  /** Why the last poll failed (null: it answered). */
  problem: string | null;
  status: MemberStatusView | null;
  links: LinkView[];
}

export interface ChartSeries {
  /** Unix seconds of each sample. */
  atSeconds: number[];
  writesPerSecond: number[];
  readsPerSecond: number[];
  /** Mean milliseconds from PUT to its 204 (committed and applied); null: no write then. */
  writeMeanMs: (number | null)[];
}

export interface ClusterView {
  self: number;
  atMs: number;
  members: MemberView[];
  charts: ChartSeries;
}

/** A chart rate older than this is left out of the sum (its member stopped answering). */
const RATE_STALE_MS = 3 * uiMetricsPollMs;

class WatchedMember {
  member: MemberWithRole;
  status: NodeStatus | null = null;
  /** null until the first poll settles. */
  reachable: boolean | null = null;
  lastSeenAtMs: number | null = null;
  problem: string | null = null;
  /** The timeline says it stopped answering (so "answers again" is news when it does). */
  reportedDown = false;
  statusInFlight = false;
  metricsInFlight = false;
  links: LinkView[] = [];
  private previousLinks: { atMs: number; links: PeerLink[] } | null = null;
  counters: { atMs: number; counters: TrafficCounters } | null = null;
  rates: { atMs: number; rates: TrafficRates } | null = null;

  constructor(member: MemberWithRole) {
    this.member = member;
  }

  /** Messages per second on each of its links, from its counters now and at the previous poll. */
  updateLinks(links: PeerLink[], atMs: number): void {
    const before = this.previousLinks;
    this.links = links.map((link) => {
      const old = before?.links.find((l) => l.peer === link.peer);
      const seconds = before === null ? 0 : (atMs - before.atMs) / 1000;
      const sent = old === undefined ? 0 : link.messagesSent - old.messagesSent;
      const failed = old === undefined ? 0 : link.messagesFailed - old.messagesFailed;
      return {
        to: link.peer,
        messagesPerSecond: seconds > 0 && sent > 0 ? sent / seconds : 0,
        failing: link.unreachable || failed > 0,
        msSinceHeard: link.msSinceHeard,
      };
    });
    this.previousLinks = { atMs, links };
  }
}

export class ClusterWatch {
  private readonly opts: ClusterWatchOptions;
  private readonly watched = new Map<number, WatchedMember>();
  private readonly charts: ChartSeries = { atSeconds: [], writesPerSecond: [], readsPerSecond: [], writeMeanMs: [] };
  private statusTimer: NodeJS.Timeout | null = null;
  private metricsTimer: NodeJS.Timeout | null = null;
  private lastInterestMs = 0;
  private holders = 0;
  private stopped = false;

  constructor(opts: ClusterWatchOptions) {
    this.opts = opts;
  }

  /** The cluster as last seen; starts (or keeps) polling, since someone is looking. */
  view(): ClusterView {
    this.touch();
    const now = Date.now();
    const members = [...this.watched.values()].sort((a, b) => a.member.id - b.member.id).map((w) => this.memberView(w, now));
    return { self: this.opts.self.id, atMs: now, members, charts: this.charts };
  }

  /** Keep polling until the returned function is called (an /-/events stream, for its observed events). */
  hold(): () => void {
    this.holders++;
    this.touch();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      this.lastInterestMs = Date.now();
    };
  }

  /** For good (the node is stopping). */
  stop(): void {
    this.stopped = true;
    this.pause();
  }

  private touch(): void {
    this.lastInterestMs = Date.now();
    if (this.statusTimer !== null || this.stopped) return;
    this.statusTimer = setInterval(() => this.pollStatuses(), uiStatusPollMs);
    this.metricsTimer = setInterval(() => this.pollMetrics(), uiMetricsPollMs);
    // Neither keeps the process alive: the node's own work does, and a stop clears them.
    this.statusTimer.unref();
    this.metricsTimer.unref();
    this.pollStatuses();
    this.pollMetrics();
  }

  private pause(): void {
    if (this.statusTimer !== null) clearInterval(this.statusTimer);
    if (this.metricsTimer !== null) clearInterval(this.metricsTimer);
    this.statusTimer = this.metricsTimer = null;
  }

  /** Follow the membership this node has applied: new members are watched, removed ones dropped. */
  private syncMembers(): void {
    const listed = this.opts.self.members().slice(0, uiMembersMax);
    const ids = new Set(listed.map((m) => m.id));
    for (const id of this.watched.keys()) if (!ids.has(id)) this.watched.delete(id);
    for (const member of listed) {
      const known = this.watched.get(member.id);
      if (known === undefined) this.watched.set(member.id, new WatchedMember(member));
      else known.member = member;
    }
  }

  private pollStatuses(): void {
    if (this.holders === 0 && Date.now() - this.lastInterestMs > uiIdleStopMs) {
      this.pause();
      return;
    }
    this.syncMembers();
    for (const w of this.watched.values()) {
      if (w.statusInFlight) continue;
      w.statusInFlight = true;
      this.fetchStatus(w).then(
        (status) => this.answered(w, status),
        (e: unknown) => this.failed(w, e),
      ).finally(() => (w.statusInFlight = false));
    }
  }

  private fetchStatus(w: WatchedMember): Promise<NodeStatus> {
    if (w.member.id === this.opts.self.id) return this.opts.self.status();
    return this.fetchText(w, '/-/status').then(parseStatus);
  }

  private answered(w: WatchedMember, status: NodeStatus): void {
    const now = Date.now();
    const before = w.status;
    w.status = status;
    w.reachable = true;
    w.lastSeenAtMs = now;
    w.problem = null;
    w.updateLinks(status.links, now);
    // The node's own events cover itself; for the others, what polling shows is all we know.
    if (w.member.id === this.opts.self.id) return;
    if (w.reportedDown) this.opts.events.observed({ kind: 'reachability', member: w.member.id, up: true });
    w.reportedDown = false;
    if (before !== null && (before.raftState !== status.raftState || before.term !== status.term)) {
      this.opts.events.observed({ kind: 'observed-role', member: w.member.id, role: roleName(status.raftState), term: status.term });
    }
  }

  private failed(w: WatchedMember, e: unknown): void {
    const wasReachable = w.reachable;
    const guessed = w.member.clientURL === undefined;
    w.reachable = false;
    w.problem = describeFailure(e) + (guessed ? ' (no client URL published yet; tried the peer port + 1)' : '');
    // A member that never answered at a guessed URL has most likely not published its own yet
    // (it is starting): not worth a "down" on the timeline.
    const news = wasReachable === true || (wasReachable === null && !guessed);
    if (!news || w.member.id === this.opts.self.id) return;
    w.reportedDown = true;
    this.opts.events.observed({ kind: 'reachability', member: w.member.id, up: false });
  }

  private pollMetrics(): void {
    if (this.statusTimer === null) return;
    this.sampleCharts();
    for (const w of this.watched.values()) {
      if (w.metricsInFlight) continue;
      const text = w.member.id === this.opts.self.id ? this.opts.self.metricsText() : this.fetchText(w, '/-/metrics');
      if (text === null) continue;
      w.metricsInFlight = true;
      text.then(
        (body) => this.scraped(w, parseTrafficCounters(body)),
        () => undefined, // the status poll reports the member; the chart just lacks its share
      ).finally(() => (w.metricsInFlight = false));
    }
  }

  private scraped(w: WatchedMember, counters: TrafficCounters): void {
    const now = Date.now();
    if (w.counters !== null) {
      const rates = trafficRates(w.counters.counters, counters, (now - w.counters.atMs) / 1000);
      if (rates !== null) w.rates = { atMs: now, rates };
    }
    w.counters = { atMs: now, counters };
  }

  /** One chart point: the sum of the members' latest rates (each counts its own clients). */
  private sampleCharts(): void {
    const now = Date.now();
    let writes = 0;
    let reads = 0;
    let writeSeconds = 0;
    for (const w of this.watched.values()) {
      if (w.rates === null || now - w.rates.atMs > RATE_STALE_MS) continue;
      writes += w.rates.rates.writesPerSecond;
      reads += w.rates.rates.readsPerSecond;
      writeSeconds += w.rates.rates.writesPerSecond * (w.rates.rates.writeMeanSeconds ?? 0);
    }
    const c = this.charts;
    c.atSeconds.push(now / 1000);
    c.writesPerSecond.push(writes);
    c.readsPerSecond.push(reads);
    c.writeMeanMs.push(writes > 0 ? (1000 * writeSeconds) / writes : null);
    if (c.atSeconds.length > uiChartSamplesMax) {
      for (const series of [c.atSeconds, c.writesPerSecond, c.readsPerSecond, c.writeMeanMs]) series.shift();
    }
  }

  private fetchText(w: WatchedMember, path: string): Promise<string> {
    const base = memberClientUrl(w.member, this.opts.clientScheme);
    if (base === null) return Promise.reject(new Error('no client URL known'));
    return getBounded(base + path, this.opts.dispatcher);
  }

  private memberView(w: WatchedMember, now: number): MemberView {
    const s = w.status;
    const isSelf = w.member.id === this.opts.self.id;
    return {
      id: w.member.id,
      peerURL: w.member.peerURL,
      clientURL: memberClientUrl(w.member, this.opts.clientScheme),
      membership: w.member.role,
      state: memberState(w),
      lastSeenMsAgo: w.lastSeenAtMs === null ? null : isSelf ? 0 : now - w.lastSeenAtMs,
      problem: w.problem,
      status: s === null ? null : {
        term: s.term, leader: s.leader, commit: s.commit, applied: s.applied, lastIndex: s.lastIndex,
        snapshotIndex: s.snapshotIndex, raftState: s.raftState, recentLogTerms: s.recentLogTerms,
      },
      links: w.reachable === false ? [] : w.links,
    };
  }
}

/**
 * With client TLS the members' client ports are https: trust the CA of --trusted-ca-file (the
 * system roots without it) and present this node's certificate, for members that ask for one.
 */
export function memberDispatcher(clientTls: TlsFiles | null): Dispatcher | undefined {
  if (clientTls === null) return undefined;
  return new Agent({ connect: { ca: clientTls.trustedCa ?? undefined, cert: clientTls.cert, key: clientTls.key } });
}

function memberState(w: WatchedMember): MemberState {
  if (w.reachable === false) return 'unreachable';
  if (w.status === null) return 'unknown';
  const role = roleName(w.status.raftState);
  return role === 'follower' && w.member.role === 'learner' ? 'learner' : (role as MemberState);
}

const ROLES: Record<string, string> = {
  StateLeader: 'leader',
  StateFollower: 'follower',
  StateCandidate: 'candidate',
  StatePreCandidate: 'pre-candidate',
};

function roleName(raftState: string): string {
  return ROLES[raftState] ?? 'unknown';
}

function describeFailure(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'no answer in time';
    if (typeof code === 'string' && code.startsWith('E')) return code === 'ECONNREFUSED' ? 'connection refused' : code;
    return e.message.slice(0, 200);
  }
  return 'no answer';
}

/** GET url; its body as text if it answers 200 within the timeout and the size bound, else rejects. */
async function getBounded(url: string, dispatcher: Dispatcher | undefined): Promise<string> {
  const res = await request(url, {
    method: 'GET',
    dispatcher,
    headersTimeout: uiMemberRequestTimeoutMs,
    bodyTimeout: uiMemberRequestTimeoutMs,
    signal: AbortSignal.timeout(uiMemberRequestTimeoutMs),
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`answered ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of res.body) {
    bytes += (chunk as Buffer).length;
    if (bytes > uiMemberAnswerBytesMax) {
      res.body.destroy();
      throw new Error('answer too large');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const STATUS_NUMBERS = ['id', 'leader', 'term', 'commit', 'applied', 'snapshotIndex'] as const;

/**
 * Another member's /-/status, checked field by field: what the page shows must be numbers
 * where it draws numbers. A member of an older version without the dashboard's fields
 * still shows, with an empty log window and no links.
 */
export function parseStatus(text: string): NodeStatus {
  const raw = JSON.parse(text) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new Error('malformed status');
  for (const field of STATUS_NUMBERS) {
    if (!Number.isSafeInteger(raw[field])) throw new Error(`malformed status: ${field}`);
  }
  if (typeof raw.raftState !== 'string') throw new Error('malformed status: raftState');
  const status = raw as unknown as NodeStatus;
  const commit = status.commit;
  const lastIndex = Number.isSafeInteger(raw.lastIndex) ? (raw.lastIndex as number) : commit;
  return { ...status, lastIndex, recentLogTerms: parseLogTerms(raw.recentLogTerms, lastIndex), links: parseLinks(raw.links) };
}

function parseLogTerms(value: unknown, lastIndex: number): RecentLogTerms {
  const v = value as Partial<RecentLogTerms> | null | undefined;
  if (v === null || typeof v !== 'object' || !Number.isSafeInteger(v.firstIndex) || !Array.isArray(v.terms)) {
    return { firstIndex: lastIndex + 1, terms: [] };
  }
  const terms = v.terms.slice(0, 1024).filter((t): t is number => Number.isSafeInteger(t));
  return { firstIndex: v.firstIndex!, terms };
}

function parseLinks(value: unknown): PeerLink[] {
  if (!Array.isArray(value)) return [];
  return value.slice(0, uiMembersMax).flatMap((l: Partial<PeerLink>) =>
    l !== null && typeof l === 'object' && Number.isSafeInteger(l.peer) && typeof l.messagesSent === 'number' && typeof l.messagesFailed === 'number'
      ? [{ peer: l.peer!, messagesSent: l.messagesSent, messagesFailed: l.messagesFailed, unreachable: l.unreachable === true, msSinceHeard: typeof l.msSinceHeard === 'number' ? l.msSinceHeard : null }]
      : [],
  );
}
