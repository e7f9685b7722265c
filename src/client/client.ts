// The client of the key-value service: put/get and the member and leader controls over the
// HTTP API, with etcd clientv3's endpoint handling (round-robin, quorum backoff, auto-sync
// of the endpoints from the member list).

import { ClientError } from './errors.ts';
import { parseEndpoint, parseEndpoints } from './endpoints.ts';
import { realRetryEnv, runWithRetry, type EndpointAnswer, type RetryEnv, type RetryPolicy } from './retry.ts';
import { HttpTransport, type ClientRequest, type ClientTls, type ClientTransport } from './transport.ts';

export interface ClientOptions {
  /** Client URLs (`http://127.0.0.1:12380`); https:// ones use `tls`. */
  endpoints: readonly string[];
  /** Time for a whole request, retries included (default 10 s: past the service's own 5 s timeout). */
  requestTimeoutMs?: number;
  /** Time for one attempt (default 6 s: a server's 504 after its 5 s comes back before this). */
  attemptTimeoutMs?: number;
  /** Refresh the endpoints from /-/members this often; absent or 0: never. */
  autoSyncIntervalMs?: number;
  tls?: ClientTls;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Tests: a fake network, clock, jitter, and hooks on every attempt and wait. */
  transport?: ClientTransport;
  env?: Partial<RetryEnv>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface PutOptions extends CallOptions {
  /** Retry a PUT whose outcome became unknown (504, timeout): it may then be applied twice. */
  retryUnknown?: boolean;
}

export interface GetOptions extends CallOptions {
  /** Read the answering member's own state, without asking the leader (may be stale). */
  serializable?: boolean;
}

export interface Member {
  id: number;
  peerURL: string;
  /** Where the member serves clients, once it has published it. */
  clientURL?: string;
  role: 'voter' | 'learner';
}

/** What GET /-/status tells about one member (the fields raftctl shows; the rest passes through). */
export interface NodeStatus {
  id: number;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  raftState: string;
  [field: string]: unknown;
}

export interface MemberStatus {
  member: Member;
  /** The URL that answered for it: its clientURL, or the endpoint whose status named it. */
  clientURL: string | null;
  status: NodeStatus | null;
  error: string | null;
}

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  reason: string | null;
  tookMs: number;
}

const DEFAULTS = { requestTimeoutMs: 10_000, attemptTimeoutMs: 6_000, backoffBaseMs: 50, backoffMaxMs: 1_000 };

export class Client {
  private endpointList: string[];
  private nextStart = 0;
  private readonly transport: ClientTransport;
  private readonly policy: RetryPolicy;
  private readonly env: RetryEnv;
  private readonly syncTimer: NodeJS.Timeout | null = null;

  constructor(opts: ClientOptions) {
    this.endpointList = parseEndpoints(opts.endpoints);
    this.transport = opts.transport ?? new HttpTransport(opts.tls);
    this.policy = {
      requestTimeoutMs: positive('requestTimeoutMs', opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs),
      attemptTimeoutMs: positive('attemptTimeoutMs', opts.attemptTimeoutMs ?? Math.min(DEFAULTS.attemptTimeoutMs, opts.requestTimeoutMs ?? Infinity)),
      backoffBaseMs: positive('backoffBaseMs', opts.backoffBaseMs ?? DEFAULTS.backoffBaseMs),
      backoffMaxMs: positive('backoffMaxMs', opts.backoffMaxMs ?? DEFAULTS.backoffMaxMs),
    };
    this.env = { ...realRetryEnv, ...opts.env };
    const every = opts.autoSyncIntervalMs ?? 0;
    if (every > 0) {
      this.syncTimer = setInterval(() => void this.sync().catch(() => {}), positive('autoSyncIntervalMs', every));
      this.syncTimer.unref(); // a client left open must not keep the process alive
    }
  }

  /** The endpoints in use (auto-sync may have replaced the ones given). */
  get endpoints(): readonly string[] {
    return this.endpointList;
  }

  /** The endpoint the next request tries first. */
  get nextEndpoint(): string {
    return this.endpointList[this.nextStart % this.endpointList.length]!;
  }

  async put(key: string, value: string | Uint8Array, opts: PutOptions = {}): Promise<void> {
    const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    const request: ClientRequest = { method: 'PUT', path: keyPath(key), body };
    expectStatus(await this.call(request, 'write', opts), 204);
  }

  /** The value, or null when the key is absent. Linearizable unless `serializable`. */
  async get(key: string, opts: GetOptions = {}): Promise<Buffer | null> {
    const path = keyPath(key) + (opts.serializable === true ? '?serializable' : '');
    const answer = await this.call({ method: 'GET', path }, 'read', opts);
    if (answer.status === 404) return null;
    return expectStatus(answer, 200).body;
  }

  async members(opts: CallOptions = {}): Promise<Member[]> {
    const answer = expectStatus(await this.call({ method: 'GET', path: '/-/members' }, 'read', opts), 200);
    return parseMembers(answer.body);
  }

  async addMember(id: number, peerURL: string, opts: CallOptions & { learner?: boolean } = {}): Promise<void> {
    const path = `/${memberId(id)}${opts.learner === true ? '?learner=true' : ''}`;
    expectStatus(await this.call({ method: 'POST', path, body: Buffer.from(peerURL, 'utf8') }, 'write', opts), 204);
  }

  async removeMember(id: number, opts: CallOptions = {}): Promise<void> {
    expectStatus(await this.call({ method: 'DELETE', path: `/${memberId(id)}` }, 'write', opts), 204);
  }

  /** Make learner `id` a voter. Only the leader decides; the others answer 503 and the request moves on. */
  async promoteMember(id: number, opts: CallOptions = {}): Promise<void> {
    expectStatus(await this.call({ method: 'POST', path: `/-/members/${memberId(id)}/promote` }, 'write', opts), 204);
  }

  /** Move leadership to voter `id`; resolves with the leader once it has moved. */
  async transferLeader(id: number, opts: CallOptions = {}): Promise<number> {
    const answer = expectStatus(await this.call({ method: 'POST', path: `/-/transfer-leader?to=${memberId(id)}` }, 'write', opts), 200);
    const leader = (parseJson(answer.body) as { leader?: unknown }).leader;
    if (typeof leader !== 'number') throw new Error('transfer-leader answer without a leader');
    return leader;
  }

  /** Every member's status: asked of its client URL and of every endpoint, matched by id. */
  async status(opts: CallOptions = {}): Promise<MemberStatus[]> {
    const members = await this.members(opts);
    const published = members.flatMap((m) => (m.clientURL === undefined ? [] : [m.clientURL]));
    const targets = [...new Set([...published, ...this.endpointList])];
    const answers = await Promise.all(targets.map((url) => this.statusAt(url, opts.signal)));
    return members.map((member) => {
      const own = answers.find((a) => a.url === member.clientURL);
      const found = own?.status?.id === member.id ? own : answers.find((a) => a.status?.id === member.id);
      if (found?.status != null) return { member, clientURL: found.url, status: found.status, error: null };
      const error = own?.error ?? 'no endpoint answered for this member (it has published no client URL)';
      return { member, clientURL: member.clientURL ?? null, status: null, error };
    });
  }

  /** GET /-/health at every endpoint, once each. */
  async health(opts: CallOptions = {}): Promise<EndpointHealth[]> {
    return Promise.all(this.endpointList.map((endpoint) => this.healthAt(endpoint, opts.signal)));
  }

  /**
   * Replace the endpoints with the client URLs the voters published (etcd's auto-sync leaves
   * learners out too). Keeps the list when the answer has none. Resolves with the list in use.
   */
  async sync(opts: CallOptions = {}): Promise<readonly string[]> {
    const members = await this.members(opts);
    const urls: string[] = [];
    for (const m of members) {
      if (m.role !== 'voter' || m.clientURL === undefined) continue;
      try {
        urls.push(parseEndpoint(m.clientURL));
      } catch {
        // a member published something unusable: leave it out rather than fail the sync
      }
    }
    if (urls.length > 0) this.setEndpoints(urls);
    return this.endpointList;
  }

  async close(): Promise<void> {
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    await this.transport.close();
  }

  private setEndpoints(urls: string[]): void {
    const next = parseEndpoints(urls);
    if (next.join(',') === this.endpointList.join(',')) return;
    this.endpointList = next;
    this.transport.retain(next);
  }

  private call(request: ClientRequest, effect: 'read' | 'write', opts: PutOptions): Promise<EndpointAnswer> {
    const start = this.nextStart;
    this.nextStart = (this.nextStart + 1) % this.endpointList.length;
    const job = { request, effect, retryUnknown: opts.retryUnknown === true, signal: opts.signal };
    return runWithRetry(this.transport, this.endpointList, start, job, this.policy, this.env);
  }

  private async statusAt(url: string, signal?: AbortSignal): Promise<{ url: string; status: NodeStatus | null; error: string | null }> {
    const outcome = await this.transport.send(url, { method: 'GET', path: '/-/status' }, this.policy.attemptTimeoutMs, signal);
    if (outcome.kind !== 'answered') return { url, status: null, error: outcome.reason };
    if (outcome.status !== 200) return { url, status: null, error: `${outcome.status} ${outcome.body.toString('utf8').trim()}` };
    try {
      return { url, status: parseStatus(outcome.body), error: null };
    } catch (e) {
      return { url, status: null, error: (e as Error).message };
    }
  }

  private async healthAt(endpoint: string, signal?: AbortSignal): Promise<EndpointHealth> {
    const begin = this.env.now();
    const outcome = await this.transport.send(endpoint, { method: 'GET', path: '/-/health' }, this.policy.attemptTimeoutMs, signal);
    const tookMs = Math.round(this.env.now() - begin);
    if (outcome.kind !== 'answered') return { endpoint, health: false, reason: outcome.reason, tookMs };
    let answer: { health?: unknown; reason?: unknown } = {};
    try {
      answer = parseJson(outcome.body) as typeof answer;
    } catch {
      // not our server's JSON: judged by the status alone
    }
    const health = outcome.status === 200 && answer.health === true;
    const reason = health ? null : typeof answer.reason === 'string' ? answer.reason : `HTTP ${outcome.status}`;
    return { endpoint, health, reason, tookMs };
  }
}

/**
 * The service's key is the request path: `my-key` and `/my-key` both mean curl's /my-key.
 * Each segment is percent-encoded, so `?`, `#` and spaces stay in the key.
 */
export function keyPath(key: string): string {
  const bare = key.startsWith('/') ? key.slice(1) : key;
  return '/' + bare.split('/').map(encodeURIComponent).join('/');
}

function memberId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new TypeError(`bad member id ${String(id)}: want a positive integer`);
  return id;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number, got ${String(value)}`);
  return value;
}

/** The answer if its status is the one expected; a refusal (4xx, 507) as ClientError. */
function expectStatus(answer: EndpointAnswer, status: number): EndpointAnswer {
  if (answer.status === status) return answer;
  throw new ClientError(answer.status, answer.body.subarray(0, 4096).toString('utf8'), answer.endpoint);
}

function parseJson(body: Buffer): unknown {
  return JSON.parse(body.toString('utf8'));
}

function parseMembers(body: Buffer): Member[] {
  const list = (parseJson(body) as { members?: unknown }).members;
  if (!Array.isArray(list)) throw new Error('member list answer without members');
  return list.map((raw: Record<string, unknown>) => {
    if (typeof raw.id !== 'number' || typeof raw.peerURL !== 'string') throw new Error('malformed member in the member list');
    const member: Member = { id: raw.id, peerURL: raw.peerURL, role: raw.role === 'learner' ? 'learner' : 'voter' };
    if (typeof raw.clientURL === 'string' && raw.clientURL !== '') member.clientURL = raw.clientURL;
    return member;
  });
}

function parseStatus(body: Buffer): NodeStatus {
  const raw = parseJson(body) as Record<string, unknown>;
  for (const field of ['id', 'leader', 'term', 'commit', 'applied']) {
    if (typeof raw[field] !== 'number') throw new Error(`status answer without ${field}`);
  }
  return raw as NodeStatus;
}
