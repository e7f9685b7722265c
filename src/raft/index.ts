// The public face of the Raft core: everything other layers may import.
//
// Driving a RawNode: call tick() every tick, step() for each peer message, propose() /
// proposeConfChange() / readIndex() for client work; then, whenever hasReady(), take one
// ready(), persist it, send its messages, apply it (calling applyConfChange for ConfChange
// entries, decoded with decodeConfChange), and advance(it) before the next ready().
// For every MsgSnap sent, report the outcome with reportSnapshot(); report peers the
// transport cannot reach with reportUnreachable().

export * from '../raftpb/types.ts';
export type { RaftLogger } from './logger.ts';
export type { RaftConfig, PlantedBugs } from './config.ts';
export { RawNode, type RaftStatus, type PeerProgressStatus, type ProgressStateName } from './rawnode.ts';
export { MemoryStorage } from './memory-storage.ts';
export { canSendBeforePersist } from './util.ts';
// The one encoding of ConfChange entry data lives with the types, in the leaf src/raftpb.
export { encodeConfChange, decodeConfChange } from '../raftpb/encoding.ts';
