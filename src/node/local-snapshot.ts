// A snapshot of this node's own state, taken off the Ready loop. Once the kvstore has applied
// exactly up to the snapshot's index, its state is written into one buffer of the exact size
// a chunk at a time (the event loop runs other work between chunks, later entries apply),
// checksummed as it goes, and saved (write and fsync in the thread pool). The Ready loop, the
// WAL's only writer, takes it from there once the file is durable: marker, then compaction
// and retention (RaftNode.completeSnapshot). Never more than one at a time.

import type { ConfState, Snapshot, SnapshotMetadata } from '../raftpb/index.ts';
import { SnapshotChecksum } from '../storage/index.ts';
import { kvStateLength, type KvStateReader } from './snapshot-data.ts';

/** Bytes of state written between two turns of the event loop, by default. */
export const snapshotChunkBytesDefault = 256 * 1024;

export type LocalSnapshotPhase = 'waitingForState' | 'encoding' | 'saving' | 'durable' | 'cancelled' | 'failed';

export interface LocalSnapshotOptions {
  index: number;
  term: number;
  confState: ConfState;
  /** The data's bytes before the kv state: version and member table, as they were at `index`. */
  members: Uint8Array;
  chunkBytes: number;
  /** Let the event loop run other work (on the world's timers, so the simulator stays deterministic). */
  yieldToLoop: () => Promise<void>;
  /** Write the file durably (Snapshotter.save, with the checksum computed here). */
  save: (snap: Snapshot, checksum: SnapshotChecksum) => Promise<void>;
  /** The snapshot settled (durable, cancelled or failed): the Ready loop should look. */
  settled: () => void;
  /** Taken at once after a member was added (for the log line). */
  afterMembershipChange: boolean;
}

export class LocalSnapshot {
  readonly index: number;
  readonly metadata: SnapshotMetadata;
  readonly afterMembershipChange: boolean;
  private phaseNow: LocalSnapshotPhase = 'waitingForState';
  private cancelRequested = false;
  private failure: Error | null = null;
  private durableSnapshot: Snapshot | null = null;
  private readonly opts: LocalSnapshotOptions;
  private resolveSettled!: () => void;
  /** Resolves once it does nothing more: durable, cancelled or failed. */
  readonly settledPromise: Promise<void>;

  constructor(opts: LocalSnapshotOptions) {
    this.opts = opts;
    this.index = opts.index;
    this.afterMembershipChange = opts.afterMembershipChange;
    this.metadata = { index: opts.index, term: opts.term, confState: { voters: [...opts.confState.voters], learners: [...opts.confState.learners] } };
    this.settledPromise = new Promise((resolve) => (this.resolveSettled = resolve));
  }

  get phase(): LocalSnapshotPhase {
    return this.phaseNow;
  }

  get isSettled(): boolean {
    return this.phaseNow === 'durable' || this.phaseNow === 'cancelled' || this.phaseNow === 'failed';
  }

  /** Why it failed, once it has. */
  get error(): Error | null {
    return this.failure;
  }

  /** The snapshot, once its file is durable. */
  get snapshot(): Snapshot | null {
    return this.durableSnapshot;
  }

  /**
   * The kvstore has applied exactly up to `index` (called from that commit's `done`, before
   * it applies anything later): capture its state there and write it out.
   */
  begin(capture: () => KvStateReader): void {
    if (this.phaseNow !== 'waitingForState') return; // cancelled meanwhile
    let reader: KvStateReader;
    try {
      reader = capture();
    } catch (e) {
      this.settle('failed', e as Error);
      return;
    }
    this.phaseNow = 'encoding';
    void this.write(reader);
  }

  /** Stop as soon as it can (a write in flight finishes first); resolves once it has settled. */
  cancel(): Promise<void> {
    this.cancelRequested = true;
    if (this.phaseNow === 'waitingForState') this.settle('cancelled', null);
    return this.settledPromise;
  }

  private async write(reader: KvStateReader): Promise<void> {
    try {
      const data = await this.encode(reader);
      reader.close(); // the kvstore may drop the old values it kept for us
      if (data === null) return this.settle('cancelled', null);
      this.phaseNow = 'saving';
      const snap: Snapshot = { metadata: this.metadata, data: data.bytes };
      await this.opts.save(snap, data.checksum);
      if (this.cancelRequested) return this.settle('cancelled', null);
      this.durableSnapshot = snap;
      this.settle('durable', null);
    } catch (e) {
      this.settle('failed', e as Error);
    } finally {
      reader.close();
    }
  }

  /** The whole data, in one buffer of its exact size; null if cancelled first. */
  private async encode(reader: KvStateReader): Promise<{ bytes: Uint8Array; checksum: SnapshotChecksum } | null> {
    const { members, chunkBytes } = this.opts;
    const length = kvStateLength(reader.bytes);
    const bytes = Buffer.allocUnsafe(members.length + length.length + reader.bytes);
    bytes.set(members, 0);
    bytes.set(length, members.length);
    let offset = members.length + length.length;
    const checksum = new SnapshotChecksum(this.metadata);
    checksum.add(bytes.subarray(0, offset));
    while (offset < bytes.length) {
      await this.opts.yieldToLoop();
      if (this.cancelRequested || reader.cancelled) return null;
      const next = reader.writeNext(bytes, offset, chunkBytes);
      if (next <= offset) throw new Error(`snapshot at ${this.index}: the kv state wrote nothing at byte ${offset} of ${bytes.length}`);
      checksum.add(bytes.subarray(offset, next));
      offset = next;
    }
    return { bytes, checksum };
  }

  private settle(phase: 'durable' | 'cancelled' | 'failed', error: Error | null): void {
    if (this.isSettled) return;
    this.phaseNow = phase;
    this.failure = error;
    this.resolveSettled();
    this.opts.settled();
  }
}
