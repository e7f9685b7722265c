// RawNode: the application's handle on the Raft state machine (skeleton; filled in next).

import type { RaftConfig } from './config.ts';
import { validateConfig } from './config.ts';
import type { ConfChange, ConfState, HardState, Message, NodeId, Ready, SoftState } from './types.ts';

export type ProgressStateName = 'probe' | 'replicate' | 'snapshot';

export interface PeerProgressStatus {
  match: number;
  next: number;
  state: ProgressStateName;
}

export interface RaftStatus {
  id: NodeId;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  commit: number;
  lastIndex: number;
  leadTransferee: NodeId;
  /** Only on the leader. */
  progress: Map<NodeId, PeerProgressStatus> | null;
}

function notYet(): never {
  throw new Error('raft: not implemented yet');
}

export class RawNode {
  constructor(config: RaftConfig) {
    validateConfig(config);
  }
  bootstrap(_peers: { id: NodeId; context: Uint8Array }[]): void {
    notYet();
  }
  tick(): void {
    notYet();
  }
  campaign(): void {
    notYet();
  }
  propose(_data: Uint8Array): void {
    notYet();
  }
  proposeConfChange(_cc: ConfChange): void {
    notYet();
  }
  applyConfChange(_cc: ConfChange): ConfState {
    notYet();
  }
  step(_m: Message): void {
    notYet();
  }
  readIndex(_ctx: Uint8Array): void {
    notYet();
  }
  transferLeader(_to: NodeId): void {
    notYet();
  }
  reportUnreachable(_id: NodeId): void {
    notYet();
  }
  reportSnapshot(_id: NodeId, _ok: boolean): void {
    notYet();
  }
  hasReady(): boolean {
    notYet();
  }
  ready(): Ready {
    notYet();
  }
  advance(_rd: Ready): void {
    notYet();
  }
  status(): RaftStatus {
    notYet();
  }
}
