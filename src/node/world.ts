// Everything the node layer takes from the world it runs in, in one place: time, timers,
// randomness, the file system under its WAL and snapshots, and the peer network. The
// service runs on the real world built here; the simulator passes a world of its own, so the
// node it checks is the node users run. No other file of src/node touches any of these.

import { nodeFs, type StorageFs } from '../storage/index.ts';
import { httpNetwork, type PeerNetwork } from '../transport/index.ts';
import { realClock, realRandom, realTimers, type Clock, type Random, type Timers } from '../world.ts';

export interface NodeWorld {
  clock: Clock;
  timers: Timers;
  random: Random;
  fs: StorageFs;
  network: PeerNetwork;
}

export const realWorld: NodeWorld = {
  clock: realClock,
  timers: realTimers,
  random: realRandom,
  fs: nodeFs,
  network: httpNetwork,
};

/** The real world, with some parts replaced (tests inject a failing fs, say). */
export function worldWith(parts: Partial<NodeWorld> = {}): NodeWorld {
  return { ...realWorld, ...parts };
}
