// The simulated peer network: which links are cut (partitions of every shape) and what the
// wire does to a message (drop, duplicate, delay; reordering follows from random delays).
// The simulator asks route() for delivery times and schedules them itself.

import type { NodeId } from '../../src/raft/index.ts';
import type { Prng } from './prng.ts';

/** Delays are in simulator time units (see simulator.ts: UNITS_PER_TICK). */
export interface LinkProfile {
  dropRate: number;
  dupRate: number;
  delayMin: number;
  delayMax: number;
  /** Chance that one message is held back much longer (reordering across heartbeats). */
  straggleRate: number;
  straggleMax: number;
}

export const CALM_LINKS: LinkProfile = { dropRate: 0, dupRate: 0, delayMin: 1, delayMax: 4, straggleRate: 0, straggleMax: 0 };

export class SimNetwork {
  profile: LinkProfile = CALM_LINKS;
  private readonly cut = new Set<string>();
  private description = 'healed';

  constructor(
    private readonly rng: Prng,
    private readonly nodeIds: NodeId[],
  ) {}

  addNode(id: NodeId): void {
    if (!this.nodeIds.includes(id)) this.nodeIds.push(id);
  }

  canReach(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(linkKey(from, to));
  }

  /** Delivery delays for one message: [] when lost, two entries when duplicated. */
  route(from: NodeId, to: NodeId): number[] {
    if (!this.canReach(from, to)) return [];
    const p = this.profile;
    if (this.rng.chance(p.dropRate)) return [];
    const delays = [this.delay()];
    if (this.rng.chance(p.dupRate)) delays.push(this.delay());
    return delays;
  }

  private delay(): number {
    const p = this.profile;
    let d = this.rng.range(p.delayMin, p.delayMax);
    if (this.rng.chance(p.straggleRate)) d += this.rng.range(0, p.straggleMax);
    return d;
  }

  heal(): void {
    this.cut.clear();
    this.description = 'healed';
  }

  /** Symmetric: nodes in different groups cannot talk at all. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.heal();
    for (let g = 0; g < groups.length; g++) {
      for (let h = 0; h < groups.length; h++) {
        if (g === h) continue;
        for (const a of groups[g]!) for (const b of groups[h]!) this.cut.add(linkKey(a, b));
      }
    }
    this.description = `partition ${groups.map((g) => `{${g.join(',')}}`).join(' | ')}`;
  }

  /** Asymmetric: messages from `from` to `to` are lost; the other direction still works. */
  cutOneWay(from: readonly NodeId[], to: readonly NodeId[]): void {
    this.heal();
    for (const a of from) for (const b of to) if (a !== b) this.cut.add(linkKey(a, b));
    this.description = `one-way cut {${from.join(',')}} -/-> {${to.join(',')}}`;
  }

  /** Bridge: `left` and `right` cannot talk to each other; both still reach `middle`. */
  bridge(left: readonly NodeId[], middle: NodeId, right: readonly NodeId[]): void {
    this.heal();
    for (const a of left) {
      for (const b of right) {
        this.cut.add(linkKey(a, b));
        this.cut.add(linkKey(b, a));
      }
    }
    this.description = `bridge {${left.join(',')}} <-> ${middle} <-> {${right.join(',')}}`;
  }

  /** Isolates one node both ways. */
  isolate(id: NodeId): void {
    this.partition([[id], this.nodeIds.filter((n) => n !== id)]);
    this.description = `isolate ${id}`;
  }

  describe(): string {
    return this.description;
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
