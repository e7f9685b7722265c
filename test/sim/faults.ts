// The fault injector: every few election timeouts (until the heal) it picks a fault kind by
// the seed's weights and does it to the network, the disks, the clocks, the processes or the
// membership (through each node's confChangeC, as the HTTP API does).

import { ServiceError } from '../../src/errors.ts';
import { ConfChangeType } from '../../src/raftpb/index.ts';
import type { MemberChange } from '../../src/queues.ts';
import { peerUrlOf, type ProcessLife, type SimMember } from './member.ts';
import type { Prng } from './prng.ts';
import type { FaultKind, Scenario } from './scenario.ts';
import type { SimNetwork } from './world/sim-network.ts';

/** What the injector may do to the simulation. */
export interface FaultHost {
  readonly network: SimNetwork;
  readonly scenario: Scenario;
  now(): number;
  /** Members not removed for good, up or down. */
  members(): SimMember[];
  /** The ready process of the member that most recently became leader and still is, if any. */
  leader(): SimMember | null;
  /** Voters and learners as the leader (or any running member) last applied them. */
  conf(): { voters: number[]; learners: number[] };
  crash(m: SimMember): void;
  /** Many writes at once to `m`'s running process. */
  burst(m: SimMember, count: number): void;
  kill(m: SimMember): void;
  terminate(m: SimMember): void;
  /** Allocate the next member id and create the member, not started. */
  newMember(): SimMember;
  /** Start a new member (with --join) soon. */
  startJoiner(m: SimMember): void;
  readonly trace: ((line: string) => void) | null;
  fail(e: unknown): void;
}

export type ChangeOutcome = 'ok' | 'failed' | 'unknown';

export class FaultInjector {
  /** Until then, each newly elected leader soon falls (leaderChurn). */
  private churnUntilMs = -1;
  /** One membership request at a time, as an operator would. */
  private changing = false;
  /** Healed: no more faults, not even those already on their way. */
  stopped = false;
  readonly changes: { change: string; outcome: ChangeOutcome | 'pending' }[] = [];

  constructor(
    private readonly host: FaultHost,
    private readonly rng: Prng,
  ) {}

  inject(): void {
    const kind = pickWeighted(this.rng, this.host.scenario.faultWeights);
    this.apply(kind);
  }

  /** A node became leader: during leader churn it falls soon. */
  onLeader(m: SimMember): void {
    if (this.host.now() >= this.churnUntilMs) return;
    const delay = this.rng.int(this.host.scenario.flags.tickMs * this.host.scenario.flags.electionTicks);
    const life = m.current;
    this.host.network.scheduler.after(delay, () => {
      if (m.current !== life || life === null || this.stopped) return;
      const r = this.rng.int(3);
      if (r === 0) this.host.crash(m);
      else if (r === 1) this.host.kill(m);
      else this.host.network.isolate(m.host.url);
    });
  }

  private apply(kind: FaultKind): void {
    const h = this.host;
    const r = this.rng;
    const members = h.members();
    const urls = members.map((m) => m.host.url);
    switch (kind) {
      case 'partition': {
        if (urls.length < 2) return;
        const [a, b] = split(r, urls);
        h.network.partition([a, b]);
        return;
      }
      case 'oneWay': {
        if (urls.length < 2) return;
        const [a, b] = split(r, urls);
        h.network.cutOneWay(a, b);
        return;
      }
      case 'isolate':
        if (urls.length > 0) h.network.isolate(r.pick(urls));
        return;
      case 'isolateLeader': {
        const l = h.leader();
        if (l === null) return;
        h.network.isolate(l.host.url);
        // Clients stuck on the old leader: their writes pile up in its log, and nowhere else.
        if (r.chance(0.5)) h.burst(l, r.range(5, 40));
        return;
      }
      case 'heal':
        h.network.heal();
        return;
      case 'links':
        return this.links();
      case 'crash':
        if (members.length > 0) h.crash(r.pick(members));
        return;
      case 'crashLeader': {
        const l = h.leader();
        if (l === null) return;
        if (r.chance(0.5)) return h.crash(l);
        // The leader dies with writes in flight: some followers have them, some not, none committed.
        h.burst(l, r.range(5, 40));
        const life = l.current;
        h.network.scheduler.after(r.float() * 8, () => {
          if (l.current === life && !this.stopped) h.crash(l);
        });
        return;
      }
      case 'kill': {
        const l = h.leader();
        const m = l !== null && r.chance(0.5) ? l : members.length > 0 ? r.pick(members) : null;
        if (m !== null) h.kill(m);
        return;
      }
      case 'terminate':
        if (members.length > 0) h.terminate(r.pick(members));
        return;
      case 'diskFull':
      case 'diskError':
      case 'slowDisk':
        if (members.length > 0) this.disk(kind, r.pick(members));
        return;
      case 'clock':
        if (members.length > 0) this.clock(r.pick(members));
        return;
      case 'transfer': {
        const l = h.leader();
        const node = l?.readyLife?.node;
        if (node === undefined || node === null) return;
        h.trace?.(`fault: n${l!.id} hands over leadership`);
        void node.transferLeadership();
        return;
      }
      case 'membership':
        return this.changeMembership();
      case 'leaderChurn':
        this.churnUntilMs = h.now() + r.range(10, 60) * h.scenario.flags.tickMs * h.scenario.flags.electionTicks;
        h.trace?.(`fault: leader churn until ${this.churnUntilMs.toFixed(0)} ms`);
        return;
    }
  }

  private links(): void {
    const r = this.rng;
    const calm = r.chance(0.3);
    const req = this.host.network.requestFaults;
    const res = this.host.network.responseFaults;
    req.dropProbability = calm ? 0 : r.pick([0, 0.02, 0.1, 0.3]);
    req.duplicateProbability = calm ? 0 : r.pick([0, 0.05, 0.2]);
    req.delayProbability = calm ? 0 : r.pick([0, 0.05, 0.2]);
    req.delayMsMax = r.pick([10, 100, 1000]);
    res.dropProbability = calm ? 0 : r.pick([0, 0.02, 0.1]);
    res.delayProbability = calm ? 0 : r.pick([0, 0.05, 0.2]);
    res.delayMsMax = r.pick([10, 100, 1000]);
    this.host.trace?.(`fault: links request ${JSON.stringify(req)} response ${JSON.stringify(res)}`);
  }

  private disk(kind: 'diskFull' | 'diskError' | 'slowDisk', m: SimMember): void {
    const disk = m.host.disk;
    if (kind === 'slowDisk') {
      disk.opts.syncLatencyMs = this.rng.chance(0.5) ? { minMs: 1, maxMs: 5 } : { minMs: 5, maxMs: this.rng.pick([20, 100, 400]) };
      this.host.trace?.(`fault: n${m.id} disk fsync ${disk.opts.syncLatencyMs.minMs}-${disk.opts.syncLatencyMs.maxMs} ms`);
      return;
    }
    m.diskFault = true;
    if (kind === 'diskFull') {
      const room = this.rng.pick([0, 512, 64 * 1024]);
      disk.setCapacity(disk.usedBytes() + room);
      this.host.trace?.(`fault: n${m.id} disk full (${room} bytes left)`);
      return;
    }
    const op = this.rng.pick(['write', 'sync', 'sync', 'open', 'rename'] as const);
    disk.failNext(op, 'EIO');
    this.host.trace?.(`fault: n${m.id} disk fails its next ${op} with EIO`);
  }

  private clock(m: SimMember): void {
    const r = this.rng;
    const clock = m.host.clock;
    if (r.chance(0.5)) {
      const drift = this.host.scenario.clockDriftMax;
      clock.setRate(1 + (r.float() * 2 - 1) * drift);
      this.host.trace?.(`fault: n${m.id} clock rate ${clock.currentRate.toFixed(4)}`);
    } else {
      const ms = r.int(2 * this.host.scenario.flags.tickMs * this.host.scenario.flags.electionTicks);
      clock.jumpForward(ms);
      this.host.trace?.(`fault: n${m.id} clock jumps ${ms} ms (a pause)`);
    }
  }

  /**
   * An operator's membership request to a random running member: add a voter or a learner
   * (a new id, started with --join once the request is answered), remove a member (maybe the
   * leader, through itself), promote a learner, or demote a voter (which the API refuses: 409).
   */
  private changeMembership(): void {
    if (this.changing) return;
    const h = this.host;
    const r = this.rng;
    const { voters, learners } = h.conf();
    const s = h.scenario;
    const live = h.members().filter((m) => m.readyLife !== null);
    if (live.length === 0) return;
    const leader = h.leader();
    const choice = r.int(6);
    const canAdd = h.members().length < s.voters + s.learners + 2;
    let change: MemberChange;
    let via: SimMember = r.pick(live);
    let joiner: SimMember | null = null;
    if ((choice <= 1 && canAdd) || voters.length === 0) {
      if (!canAdd) return;
      joiner = h.newMember();
      change = choice === 0
        ? { kind: 'addVoter', type: ConfChangeType.AddNode, nodeId: joiner.id, peerUrl: peerUrlOf(joiner.id) }
        : { kind: 'addLearner', type: ConfChangeType.AddLearnerNode, nodeId: joiner.id, peerUrl: peerUrlOf(joiner.id) };
    } else if (choice === 2 && leader?.readyLife != null && voters.length >= 2) {
      via = leader; // the leader removes itself
      change = { kind: 'remove', type: ConfChangeType.RemoveNode, nodeId: leader.id, peerUrl: '' };
    } else if (choice === 3 && learners.length > 0) {
      const id = r.pick(learners);
      change = { kind: 'promote', type: ConfChangeType.AddNode, nodeId: id, peerUrl: '' };
    } else if (choice === 4 && voters.length > 0) {
      const id = r.pick(voters);
      change = { kind: 'addLearner', type: ConfChangeType.AddLearnerNode, nodeId: id, peerUrl: peerUrlOf(id) }; // demotion: the API refuses it (409)
    } else {
      const removable = [...learners, ...(voters.length > Math.max(1, s.voters - 2) ? voters : [])];
      if (removable.length === 0) return;
      change = { kind: 'remove', type: ConfChangeType.RemoveNode, nodeId: r.pick(removable), peerUrl: '' };
    }
    this.request(via, change, joiner);
  }

  /** Add a learner (a new member); `retry` if it was not asked for or certainly failed. */
  addLearner(retry: () => void): void {
    const live = this.host.members().filter((m) => m.readyLife !== null);
    if (this.changing || live.length === 0) return retry();
    const joiner = this.host.newMember();
    const change: MemberChange = { kind: 'addLearner', type: ConfChangeType.AddLearnerNode, nodeId: joiner.id, peerUrl: peerUrlOf(joiner.id) };
    this.request(this.rng.pick(live), change, joiner, retry);
  }

  private request(via: SimMember, change: MemberChange, joiner: SimMember | null, onFailed?: () => void): void {
    const life = via.readyLife as ProcessLife;
    const what = `${change.kind === 'addLearner' && joiner === null ? 'demote' : change.kind} n${change.nodeId} via n${via.id}`;
    const record: { change: string; outcome: ChangeOutcome | 'pending' } = { change: what, outcome: 'pending' };
    this.changes.push(record);
    this.changing = true;
    this.host.trace?.(`membership: ${what}`);
    const settle = (outcome: ChangeOutcome, detail: string) => {
      if (record.outcome !== 'pending') return;
      record.outcome = outcome;
      this.changing = false;
      this.host.trace?.(`membership: ${what}: ${outcome}${detail}`);
      if (joiner !== null && outcome !== 'failed') this.host.startJoiner(joiner);
      if (outcome === 'failed') onFailed?.();
    };
    const timeout = this.host.network.scheduler.after(3 * this.host.scenario.flags.requestTimeoutMs + 5000, () => settle('unknown', ' (no answer)'));
    const ended = setInterval0(this.host.network.scheduler, 50, () => {
      if (!life.alive) settle('unknown', ' (the node died)');
      return record.outcome === 'pending';
    });
    void ended;
    life.confChangeC!.send({
      change,
      resolve: () => {
        timeout.cancelled = true;
        settle('ok', '');
      },
      reject: (e) => {
        timeout.cancelled = true;
        if (!(e instanceof ServiceError)) settle('failed', ` (${e.message})`);
        else settle(e.status === 504 ? 'unknown' : 'failed', ` (${e.status} ${e.code})`);
      },
    }).catch(() => settle('failed', ' (stopping)'));
  }
}


/** Call `f` every `ms` on the scheduler while it returns true. */
function setInterval0(scheduler: SimNetwork['scheduler'], ms: number, f: () => boolean): void {
  scheduler.after(ms, () => {
    if (f()) setInterval0(scheduler, ms, f);
  });
}

function split(r: Prng, urls: string[]): [string[], string[]] {
  const shuffled = r.shuffle([...urls]);
  const cut = r.range(1, shuffled.length - 1);
  return [shuffled.slice(0, cut), shuffled.slice(cut)];
}

function pickWeighted<K extends string>(r: Prng, weights: Record<K, number>): K {
  const keys = Object.keys(weights) as K[];
  let total = 0;
  for (const k of keys) total += weights[k];
  if (total === 0) return keys[0]!;
  let x = r.int(total);
  for (const k of keys) {
    x -= weights[k];
    if (x < 0) return k;
  }
  return keys[keys.length - 1]!;
}
