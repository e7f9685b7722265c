// The fault injector: every few ticks (until the heal) it picks a fault kind by the seed's
// weights and does it to the network, the disks, the processes or the membership.

import { type ConfChange, ConfChangeType, isRaftError, RaftErrorCode } from '../../src/raft/index.ts';
import { CALM_LINKS, type LinkProfile, type SimNetwork } from './network.ts';
import type { SimNode } from './node.ts';
import type { Prng } from './prng.ts';
import type { FaultKind, Scenario } from './scenario.ts';

export interface DiskProfile {
  fsyncMin: number;
  fsyncMax: number;
}

export const FAST_DISK: DiskProfile = { fsyncMin: 1, fsyncMax: 5 };

/** What the injector may do to the simulation. Times are in simulator units. */
export interface FaultHost {
  readonly network: SimNetwork;
  readonly scenario: Scenario;
  disk: DiskProfile;
  members(): SimNode[];
  leader(): SimNode | undefined;
  nodeCount(): number;
  crash(n: SimNode): void;
  restart(n: SimNode): void;
  addNode(): SimNode;
  /** Isolates (or crashes) a node after `delay` units, unless it restarted meanwhile. */
  cutLater(n: SimNode, delay: number, crash: boolean): void;
  now(): number;
  tick(): number;
  trace(line: string): void;
}

export class FaultInjector {
  /** Until this tick, each newly elected leader is soon isolated or crashed (leaderChurn). */
  private churnUntil = -1;

  constructor(
    private readonly host: FaultHost,
    private readonly rng: Prng,
    private readonly unitsPerTick: number,
  ) {}

  inject(): void {
    const kind = pickWeighted(this.rng, this.host.scenario.faultWeights);
    if (!this.networkFault(kind)) this.nodeFault(kind);
  }

  /** A newly elected leader: during leader churn, it falls soon. */
  onLeader(n: SimNode): void {
    if (this.host.tick() >= this.churnUntil) return;
    this.host.cutLater(n, this.rng.int(4 * this.unitsPerTick), this.rng.chance(0.3));
  }

  private networkFault(kind: FaultKind): boolean {
    const { network, rng: r } = { network: this.host.network, rng: this.rng };
    const ids = this.host.members().map((n) => n.id);
    const split = (): [number[], number[]] => {
      const shuffled = r.shuffle([...ids]);
      const cut = r.range(1, ids.length - 1);
      return [shuffled.slice(0, cut), shuffled.slice(cut)];
    };
    switch (kind) {
      case 'partition':
        if (ids.length < 3) return true;
        network.partition(split());
        break;
      case 'oneWay': {
        if (ids.length < 3) return true;
        const [a, b] = split();
        network.cutOneWay(a, b);
        break;
      }
      case 'bridge': {
        if (ids.length < 3) return true;
        const shuffled = r.shuffle([...ids]);
        const middle = shuffled.pop()!;
        const cut = r.range(1, shuffled.length - 1);
        network.bridge(shuffled.slice(0, cut), middle, shuffled.slice(cut));
        break;
      }
      case 'isolateLeader': {
        const l = this.host.leader();
        if (l !== undefined) network.isolate(l.id);
        break;
      }
      case 'heal':
        network.heal();
        break;
      case 'links':
        network.profile = r.chance(0.3) ? CALM_LINKS : randomLinks(r);
        this.host.trace(`links ${JSON.stringify(network.profile)}`);
        return true;
      default:
        return false;
    }
    this.host.trace(`network: ${network.describe()}`);
    return true;
  }

  private nodeFault(kind: FaultKind): void {
    const h = this.host;
    const r = this.rng;
    const members = h.members();
    switch (kind) {
      case 'crash':
        return h.crash(r.pick(members));
      case 'crashLeader': {
        const l = h.leader();
        if (l !== undefined) h.crash(l);
        return;
      }
      case 'disk':
        h.disk = r.chance(0.5) ? FAST_DISK : { fsyncMin: r.range(1, 10), fsyncMax: r.range(10, 80) };
        h.trace(`disk fsync ${h.disk.fsyncMin}-${h.disk.fsyncMax} units`);
        return;
      case 'campaign': {
        const n = r.pick(members);
        h.trace(`n${n.id} campaign`);
        n.poke((raw) => raw.campaign());
        return;
      }
      case 'dualCampaign': {
        // Two nodes time out together: the classic split vote.
        const [a, b] = r.shuffle(members.filter((n) => n.up));
        if (a === undefined || b === undefined) return;
        h.trace(`n${a.id} and n${b.id} campaign together`);
        a.poke((raw) => raw.campaign());
        b.poke((raw) => raw.campaign());
        return;
      }
      case 'leaderChurn':
        // Leaders that fall as soon as they rise leave uncommitted entries of many terms
        // behind: the ground on which Raft's commit rule (Figure 8) matters.
        this.churnUntil = h.tick() + r.range(50, 300);
        h.trace(`leader churn until tick ${this.churnUntil}`);
        return;
      case 'membership':
        return this.changeMembership();
      case 'pause': {
        const l = h.leader();
        const n = l !== undefined && r.chance(0.5) ? l : r.pick(members);
        if (!n.up) return;
        const ticks = r.range(1, 4 * h.scenario.electionTicks);
        n.pausedUntil = h.now() + ticks * this.unitsPerTick;
        h.trace(`n${n.id} paused for ${ticks} ticks`);
        return;
      }
      case 'transfer': {
        const l = h.leader();
        if (l === undefined) return;
        const others = members.filter((n) => n !== l);
        if (others.length === 0) return;
        const to = r.pick(others).id;
        h.trace(`transfer leadership ${l.id} -> ${to}`);
        l.poke((raw) => raw.transferLeader(to));
        return;
      }
      default:
        throw new Error(`fault kind ${kind} not handled`);
    }
  }

  /** The leader proposes removing a member (maybe itself), demoting a voter to learner (maybe
   *  itself), promoting a learner, or adding a brand-new node as voter or learner. Ids are never
   *  reused: a removed member's disk is gone, and with it its vote. Clusters that started with
   *  three or more voters keep three; smaller ones may shrink to a single voter. */
  private changeMembership(): void {
    const h = this.host;
    const l = h.leader();
    if (l === undefined) return;
    const r = this.rng;
    const voters = l.voters();
    const learners = l.learners();
    const empty = new Uint8Array();
    const size = h.scenario.nodeCount;
    const canAdd = h.nodeCount() < size + 3 && voters.length + learners.length < size + 1;
    const choice = r.int(3);
    if (choice === 0 && learners.length > 0) {
      const id = r.pick(learners);
      h.trace(`propose promoting learner n${id} (leader n${l.id})`);
      proposeConfChange(l, { type: ConfChangeType.AddNode, nodeId: id, context: empty });
      return;
    }
    const minVoters = h.scenario.voterCount < 3 ? 2 : 3;
    if (voters.length >= minVoters && (!canAdd || choice === 1)) {
      // With two voters, half the time the leader itself: the survivor must still take over.
      const self = voters.length === 2 && r.chance(0.5);
      if (r.chance(0.3)) {
        const demoted = self ? l.id : r.pick(voters);
        h.trace(`propose demoting voter n${demoted} to learner (leader n${l.id})`);
        proposeConfChange(l, { type: ConfChangeType.AddLearnerNode, nodeId: demoted, context: empty });
        return;
      }
      const victim = self ? l.id : r.pick([...voters, ...learners]);
      h.trace(`propose removing n${victim} (leader n${l.id})`);
      proposeConfChange(l, { type: ConfChangeType.RemoveNode, nodeId: victim, context: empty });
      return;
    }
    if (!canAdd) return;
    const id = h.nodeCount() + 1;
    const type = r.chance(0.5) ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
    if (!proposeConfChange(l, { type, nodeId: id, context: empty })) return;
    const n = h.addNode();
    h.trace(`propose adding n${id} as ${type === ConfChangeType.AddNode ? 'voter' : 'learner'} (leader n${l.id})`);
    h.restart(n);
  }
}

/** Returns false when the core dropped the proposal. */
function proposeConfChange(l: SimNode, cc: ConfChange): boolean {
  let ok = true;
  l.poke((raw) => {
    try {
      raw.proposeConfChange(cc);
    } catch (e) {
      if (!isRaftError(e, RaftErrorCode.ProposalDropped)) throw e;
      ok = false;
    }
  });
  return ok;
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

function randomLinks(r: Prng): LinkProfile {
  return {
    dropRate: r.pick([0, 0.05, 0.2, 0.4]),
    dupRate: r.pick([0, 0.05, 0.2]),
    delayMin: 1,
    delayMax: r.pick([5, 15, 40]),
    straggleRate: r.pick([0, 0.02, 0.1]),
    straggleMax: r.pick([50, 200, 600]),
  };
}
