// The fault injector: every few election timeouts (until the heal) it picks a fault kind by
// the seed's weights and does it to the network, the disks, the clocks, the processes or the
// membership (through each node's confChangeC, as the HTTP API does).

import { ServiceError } from '../../src/errors.ts';
import { ConfChangeType } from '../../src/raftpb/index.ts';
import type { MemberChange } from '../../src/queues.ts';
import { Violation } from './invariants.ts';
import { peerUrlOf, type ProcessLife, type SimMember } from './member.ts';
import type { Prng } from './prng.ts';
import type { FaultKind, Scenario } from './scenario.ts';
import type { SimFsOp } from './world/sim-fs.ts';
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
  /** kill -9, and start it again after `delayMs` (not after the seed's restart delay). */
  killAndRestart(m: SimMember, delayMs: number): void;
  /** Until `untilMs`, half the clients' requests are linearizable reads on `m` (whichever of its processes is ready). */
  favourReads(m: SimMember, untilMs: number): void;
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
  /** One membership request at a time, as an operator would (or two at once: sameChangeTwice). */
  private changing = false;
  /** crashAfterRetention: the next removal of a snapshot file is followed by a crash. */
  private retentionCrashArmed = false;
  /** crashApplyingConfChange: the next Ready of one of these voters that commits a conf change is cut short by a crash. */
  private confChangeCrashOn = new Set<number>();
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

  /**
   * A disk operation of `m` completed. Retention removes a snapshot file once the newer one's
   * WAL marker is durable; a crash right after is harmless unless that order is broken
   * (planted bug retainBeforeMarker: then nothing vouched for is left to restart from).
   */
  onDiskOperation(m: SimMember, op: SimFsOp, path: string): void {
    if (!this.retentionCrashArmed || this.stopped || op !== 'unlink' || !path.endsWith('.snap')) return;
    this.retentionCrashArmed = false;
    const life = m.current;
    const crash = this.rng.chance(0.75);
    this.host.network.scheduler.after(this.rng.float() * 20, () => {
      if (m.current !== life || life === null || this.stopped) return;
      this.host.trace?.(`fault: n${m.id} ${crash ? 'power cut' : 'kill -9'} right after removing an old snapshot`);
      if (crash) this.host.crash(m);
      else this.host.kill(m);
    });
  }

  /**
   * A Ready of `m` commits a conf change. If `m` is a survivor of the removal asked for by
   * crashApplyingConfChange, its fsync is made slow and the power fails before it completes:
   * a node that applied the change early (planted bug applyConfChangeEarly) has announced it
   * (410 to the removed voter, which then stops) and forgets it: with two voters, the
   * survivor is back in a configuration that needs the stopped one's vote.
   */
  onConfChangeCommitted(m: SimMember): void {
    if (!this.confChangeCrashOn.has(m.id) || this.stopped) return;
    this.confChangeCrashOn.clear();
    const disk = m.host.disk;
    const tickMs = this.host.scenario.flags.tickMs;
    const before = disk.opts.syncLatencyMs;
    disk.opts.syncLatencyMs = { minMs: 4 * tickMs, maxMs: 6 * tickMs };
    const life = m.current;
    this.host.trace?.(`fault: n${m.id} commits a conf change: its fsync slows to ${4 * tickMs}-${6 * tickMs} ms, and its power fails meanwhile`);
    this.host.network.scheduler.after(tickMs + this.rng.float() * 3 * tickMs, () => {
      disk.opts.syncLatencyMs = this.stopped ? m.syncLatencyMs : before;
      if (m.current !== life || life === null || this.stopped) return;
      this.host.crash(m);
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
      case 'crashAfterRetention':
        this.retentionCrashArmed = true;
        return;
      case 'crashApplyingConfChange':
        return this.removeVoterAndCrashSurvivor();
      case 'readAcrossRestart':
        return this.readAcrossRestart();
      case 'lateReadAnswers':
        return this.lateReadAnswers();
      case 'sameChangeTwice':
        return this.sameChangeTwice();
      case 'isolateLeaderReads':
        return this.isolateLeaderReads();
    }
  }

  /** Remove a voter (the leader itself half the time) and crash a survivor as it commits the removal (onConfChangeCommitted). */
  private removeVoterAndCrashSurvivor(): void {
    const leader = this.host.leader();
    const { voters } = this.host.conf();
    if (this.changing || leader === null || voters.length < 2) return;
    const others = voters.filter((id) => id !== leader.id);
    const removed = this.rng.chance(0.5) || others.length === 0 ? leader.id : this.rng.pick(others);
    this.confChangeCrashOn = new Set(voters.filter((id) => id !== removed));
    this.request(leader, { kind: 'remove', type: ConfChangeType.RemoveNode, nodeId: removed, peerUrl: '' }, null);
  }

  /** The leader, a ready follower picked at random, and the election timeout; null without both. */
  private leaderAndFollower(): { leader: SimMember; follower: SimMember; electionMs: number } | null {
    const h = this.host;
    const leader = h.leader();
    const followers = h.members().filter((m) => m !== leader && m.readyLife !== null);
    if (leader === null || followers.length === 0) return null;
    return { leader, follower: this.rng.pick(followers), electionMs: h.scenario.flags.tickMs * h.scenario.flags.electionTicks };
  }

  /**
   * The leader is cut off from its peers while half the requests are linearizable reads on it,
   * for three election timeouts. The others elect a leader and commit writes while the old one
   * still believes it leads (until its check-quorum notices, up to two election timeouts): its
   * read lease must run out before any of them could vote for another (planted bug leaseTooLong).
   */
  private isolateLeaderReads(): void {
    const h = this.host;
    const leader = h.leader();
    if (leader === null) return;
    const electionMs = h.scenario.flags.tickMs * h.scenario.flags.electionTicks;
    h.trace?.(`fault: n${leader.id} (leader) isolated, reads favoured on it`);
    h.network.isolate(leader.host.url);
    h.favourReads(leader, h.now() + 3 * electionMs);
  }

  /**
   * Answers meant for an earlier process life must not serve the reads of a later one, whose
   * read sequence numbers start again at 1. So: a follower restarts at once (a young life,
   * with low sequence numbers); once it knows the leader, every request from the leader to
   * it arrives a second time, late; and it is killed and restarted at once again. The late
   * copies bring the answers to its earlier life's reads while the new life, catching up,
   * waits for reads with the same numbers: taking such an answer (planted bug
   * readEpochConstant) serves a read at an index older than the read.
   */
  private readAcrossRestart(): void {
    const h = this.host;
    const picked = this.leaderAndFollower();
    if (picked === null) return;
    const { leader, follower, electionMs } = picked;
    h.trace?.(`fault: n${follower.id} restarted at once, then slow from the leader n${leader.id} and restarted again`);
    h.killAndRestart(follower, 1);
    const givesUpAt = h.now() + 40 * electionMs;
    setInterval0(h.network.scheduler, 10, () => {
      if (this.stopped || h.now() > givesUpAt) return false;
      if (follower.readyLife === null) return true;
      const young = follower.readyLife;
      // Once it knows the leader (so that its reads are asked for), their answers start to lag.
      this.whenLeaderKnown(young, givesUpAt, () => {
        if (this.stopped || follower.current !== young) return;
        h.network.echoLink(leader.host.url, follower.host.url, this.rng.range(2, 8) * electionMs, h.now() + 20 * electionMs);
        h.network.scheduler.after(this.rng.range(1, 3) * electionMs, () => {
          if (!this.stopped && follower.current === young) h.killAndRestart(follower, this.rng.float() * electionMs);
        });
      });
      return false;
    });
  }

  /**
   * The same ground as readAcrossRestart, aimed closer: an earlier life's ReadIndex answer must
   * arrive while a later life waits for the round of the same number, and that later life must
   * lag the commits. So everything the leader says to a follower lags by 30-80% of an election
   * timeout (under one: the follower keeps its leader), with late copies of the leader's
   * requests besides, half the clients' requests are linearizable reads on the follower, and
   * its young processes are
   * killed and restarted at once, 3-6 times, each within a few lags of learning the leader. The
   * leader knows nothing of the restarts: the answers it queued for one life reach the next,
   * whose rounds are numbered from 1 again and as slow to be answered, while its log trails the
   * commits (which go on through the other members) by the lag. Taking such an answer
   * (planted bug readEpochConstant) serves a read with a state older than a write acknowledged
   * before the read began.
   */
  private lateReadAnswers(): void {
    const h = this.host;
    const picked = this.leaderAndFollower();
    if (picked === null) return;
    const { leader, follower, electionMs } = picked;
    const lagMs = electionMs * (0.3 + 0.5 * this.rng.float());
    const givesUpAt = h.now() + 40 * electionMs;
    const restarts = this.rng.range(3, 6);
    h.trace?.(`fault: n${follower.id} lags ${lagMs.toFixed(0)} ms behind the leader n${leader.id}, its young processes restarted at once ${restarts} times`);
    h.network.lagLink(leader.host.url, follower.host.url, lagMs, givesUpAt);
    h.favourReads(follower, givesUpAt);
    // Copies of the leader's requests, up to 3 lags later still: answers queued for one life
    // keep arriving once the next one knows the leader and asks its own rounds.
    h.network.echoLink(leader.host.url, follower.host.url, 3 * lagMs, givesUpAt);
    this.restartYoungLives(follower, restarts, lagMs, givesUpAt);
  }

  /** kill -9 `m` and start it again at once; `left` more times, each within 3 lags of its new life knowing the leader. */
  private restartYoungLives(m: SimMember, left: number, lagMs: number, givesUpAt: number): void {
    const h = this.host;
    const scheduler = h.network.scheduler;
    h.killAndRestart(m, 1);
    if (left <= 1) return;
    setInterval0(scheduler, 10, () => {
      if (this.stopped || h.now() > givesUpAt) return false;
      if (m.readyLife === null) return true;
      const young = m.readyLife;
      this.whenLeaderKnown(young, givesUpAt, () => {
        scheduler.after(this.rng.float() * 3 * lagMs, () => {
          if (!this.stopped && m.current === young) this.restartYoungLives(m, left - 1, lagMs, givesUpAt);
        });
      });
      return false;
    });
  }

  /** Call `then` once `life`'s node knows a leader (asked every 10 ms until `givesUpAt`). */
  private whenLeaderKnown(life: ProcessLife, givesUpAt: number, then: () => void): void {
    const scheduler = this.host.network.scheduler;
    const ask = (): void => {
      if (!life.alive || this.stopped || this.host.now() > givesUpAt) return;
      void life.node!.status().then(
        (status) => (status.leader !== 0 ? then() : scheduler.after(10, ask)),
        () => {},
      );
    };
    ask();
  }

  /**
   * Two operators ask for the same new member at once, through two members (one if only one
   * runs). The first entry to apply adds it; the other is refused (409: ids are single-use),
   * so at most one of the two may answer ok: a second ok was not its own change's answer.
   */
  private sameChangeTwice(): void {
    const h = this.host;
    const live = h.members().filter((m) => m.readyLife !== null);
    if (this.changing || live.length === 0 || h.members().length >= h.scenario.voters + h.scenario.learners + 2) return;
    const joiner = h.newMember();
    const change: MemberChange = this.rng.chance(0.5)
      ? { kind: 'addVoter', type: ConfChangeType.AddNode, nodeId: joiner.id, peerUrl: peerUrlOf(joiner.id) }
      : { kind: 'addLearner', type: ConfChangeType.AddLearnerNode, nodeId: joiner.id, peerUrl: peerUrlOf(joiner.id) };
    const vias = live.length >= 2 ? this.rng.shuffle([...live]).slice(0, 2) : [live[0]!, live[0]!];
    const outcomes: ChangeOutcome[] = [];
    this.changing = true;
    for (const via of vias) {
      this.ask(via, change, `${change.kind} (asked twice)`, (outcome) => {
        outcomes.push(outcome);
        if (outcome !== 'failed' && !outcomes.slice(0, -1).some((o) => o !== 'failed')) h.startJoiner(joiner);
        if (outcomes.filter((o) => o === 'ok').length > 1) {
          h.fail(new Violation('Membership', `both requests to add n${joiner.id} answered ok: one answer was not its own entry's (ids are single-use: the second must be refused)`));
        }
        if (outcomes.length === vias.length) this.changing = false;
      });
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
    this.changing = true;
    const label = change.kind === 'addLearner' && joiner === null ? 'demote' : change.kind;
    this.ask(via, change, label, (outcome) => {
      this.changing = false;
      if (joiner !== null && outcome !== 'failed') this.host.startJoiner(joiner);
      if (outcome === 'failed') onFailed?.();
    });
  }

  /** One request through `via`'s confChangeC, recorded in `changes`; `settled` is called once, with its outcome. */
  private ask(via: SimMember, change: MemberChange, label: string, settled: (outcome: ChangeOutcome) => void): void {
    const life = via.readyLife as ProcessLife;
    const what = `${label} n${change.nodeId} via n${via.id}`;
    const record: { change: string; outcome: ChangeOutcome | 'pending' } = { change: what, outcome: 'pending' };
    this.changes.push(record);
    this.host.trace?.(`membership: ${what}`);
    const settle = (outcome: ChangeOutcome, detail: string) => {
      if (record.outcome !== 'pending') return;
      record.outcome = outcome;
      this.host.trace?.(`membership: ${what}: ${outcome}${detail}`);
      settled(outcome);
    };
    const timeout = this.host.network.scheduler.after(3 * this.host.scenario.flags.requestTimeoutMs + 5000, () => settle('unknown', ' (no answer)'));
    setInterval0(this.host.network.scheduler, 50, () => {
      if (!life.alive) settle('unknown', ' (the node died)');
      return record.outcome === 'pending';
    });
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
