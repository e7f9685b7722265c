// The public face of the Raft core: everything other layers may import.

export * from './types.ts';
export type { RaftLogger } from './logger.ts';
export type { RaftConfig, PlantedBugs } from './config.ts';
export { RawNode, type RaftStatus, type PeerProgressStatus, type ProgressStateName } from './rawnode.ts';
export { MemoryStorage } from './memory-storage.ts';
export { canSendBeforePersist } from './util.ts';
