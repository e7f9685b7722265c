// One seeded world per simulated run: the scheduler, the network, and per node its clock,
// timers, randomness, disk and network view, with the process lives a node goes through
// (kill: the process dies; crash: the power goes; restart: a new process on the same disk).

import type { Clock, Random, Timers } from '../../../src/world.ts';
import { Prng } from '../prng.ts';
import { Scheduler, SimClock, SimRandom, SimTimers } from './scheduler.ts';
import { SimDisk, type SimDiskOptions, type SimFs } from './sim-fs.ts';
import { SimNetwork, type SimHostNetwork, type SimNetworkOptions } from './sim-network.ts';

export interface SimNodeOptions {
  /** The node clock's rate against virtual time (1.001: 0.1 % fast). Default 1. */
  clockRate?: number;
  clockOffsetMs?: number;
  disk?: SimDiskOptions;
}

/** What one process of a node is handed: the seams of src/world.ts, storage and transport. */
export interface SimProcessWorld {
  clock: Clock;
  timers: Timers;
  random: Random;
  fs: SimFs;
  network: SimHostNetwork;
}

export class SimWorld {
  readonly scheduler = new Scheduler();
  readonly prng: Prng;
  readonly network: SimNetwork;

  constructor(
    readonly seed: number,
    opts: { network?: SimNetworkOptions } = {},
  ) {
    this.prng = new Prng(seed);
    this.network = new SimNetwork(this.scheduler, this.prng.fork(), opts.network);
  }

  node(name: string, url: string, opts: SimNodeOptions = {}): SimNodeHost {
    return new SimNodeHost(this, name, url, this.prng.fork(), opts);
  }
}

/** A machine running one node: its disk and clock outlive its processes. */
export class SimNodeHost {
  readonly clock: SimClock;
  readonly disk: SimDisk;
  private current: { timers: SimTimers; process: SimProcessWorld } | null = null;

  constructor(
    private readonly world: SimWorld,
    readonly name: string,
    readonly url: string,
    private readonly prng: Prng,
    opts: SimNodeOptions,
  ) {
    this.clock = new SimClock(world.scheduler, opts.clockRate ?? 1, opts.clockOffsetMs ?? 0);
    this.disk = new SimDisk(world.scheduler, prng.fork(), name, opts.disk);
  }

  /** Start a process (the first, or after kill/crash): fresh timers, fs mount and network view. */
  start(): SimProcessWorld {
    if (this.current) throw new Error(`${this.name}: a process is running`);
    const timers = new SimTimers(this.world.scheduler, this.clock);
    const process: SimProcessWorld = {
      clock: this.clock,
      timers,
      random: new SimRandom(this.prng.fork()),
      fs: this.disk.mount(),
      network: this.world.network.host(this.url),
    };
    this.current = { timers, process };
    return process;
  }

  get running(): SimProcessWorld | null {
    return this.current?.process ?? null;
  }

  /** The process dies (kill -9): nothing it started runs again; the page cache survives. */
  kill(): void {
    this.stopProcess();
    this.disk.killProcess();
  }

  /** The power goes: the process dies and the disk loses what was not durable. */
  crash(): void {
    this.stopProcess();
    this.disk.crash();
  }

  private stopProcess(): void {
    if (!this.current) return;
    this.current.timers.kill();
    this.current.process.network.kill();
    this.current = null;
  }
}
