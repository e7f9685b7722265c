// A snapshot of this node's own state, taken off the Ready loop. Once the kvstore has applied
// exactly up to the snapshot's index, its state is written to the snapshot file a chunk at a
// time through one reused buffer (the event loop runs other work between chunks, later
// entries apply; the whole state is never in memory a second time), checksummed as it goes,
// then synced and renamed. The Ready loop, the WAL's only writer, takes it from there once
// the file is durable: marker, then compaction and retention (RaftNode.completeSnapshot).
// Never more than one at a time.

import type { ConfState, SnapshotMetadata } from '../raftpb/index.ts';
import { kvStateLength, type KvStateReader } from './snapshot-data.ts';

/** Bytes of state written between two turns of the event loop, by default (the buffer's size). */
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
  /** Start the file (Snapshotter.create). */
  createFile: (metadata: SnapshotMetadata) => Promise<SnapshotSink>;
  /** The snapshot settled (durable, cancelled or failed): the Ready loop should look. */
  settled: () => void;
  /** Taken at once after a member was added (for the log line). */
  afterMembershipChange: boolean;
}

/** Where the data goes: a snapshot file written in order (SnapshotFileWriter). */
export interface SnapshotSink {
  /** The next bytes; the chunk may be reused once this resolves. */
  write(chunk: Uint8Array): Promise<void>;
  /** Everything is written: make the file durable. */
  commit(): Promise<void>;
  /** Give up on the file. */
  abort(): Promise<void>;
}

/** A snapshot whose file is durable: what it covers and how many data bytes the file holds. */
export interface DurableLocalSnapshot {
  metadata: SnapshotMetadata;
  dataBytes: number;
}

export class LocalSnapshot {
  readonly index: number;
  readonly metadata: SnapshotMetadata;
  readonly afterMembershipChange: boolean;
  private phaseNow: LocalSnapshotPhase = 'waitingForState';
  private cancelRequested = false;
  private failure: Error | null = null;
  private durableSnapshot: DurableLocalSnapshot | null = null;
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
  get snapshot(): DurableLocalSnapshot | null {
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
    let file: SnapshotSink | null = null;
    try {
      file = await this.opts.createFile(this.metadata);
      const dataBytes = await this.encode(reader, file);
      reader.close(); // the kvstore may drop the old values it kept for us
      if (dataBytes === null) {
        await file.abort();
        return this.settle('cancelled', null);
      }
      this.phaseNow = 'saving';
      await file.commit();
      if (this.cancelRequested) return this.settle('cancelled', null);
      this.durableSnapshot = { metadata: this.metadata, dataBytes };
      this.settle('durable', null);
    } catch (e) {
      await file?.abort();
      this.settle('failed', e as Error);
    } finally {
      reader.close();
    }
  }

  /** Write the whole data to `file`; its length, or null if cancelled first. */
  private async encode(reader: KvStateReader, file: SnapshotSink): Promise<number | null> {
    const { members, chunkBytes } = this.opts;
    const length = kvStateLength(reader.bytes);
    let buf = Buffer.allocUnsafe(Math.max(chunkBytes, members.length + length.length));
    buf.set(members, 0);
    buf.set(length, members.length);
    const prefix = members.length + length.length;
    await file.write(buf.subarray(0, prefix));
    let written = 0; // of the kv state
    while (written < reader.bytes) {
      await this.opts.yieldToLoop();
      if (this.cancelRequested || reader.cancelled) return null;
      let end = reader.writeNext(buf, 0, buf.length);
      if (end === 0) {
        // One pair larger than the buffer (a value of up to --max-request-bytes): a buffer its size.
        buf = Buffer.allocUnsafe(reader.nextPieceBytes);
        end = reader.writeNext(buf, 0, buf.length);
        if (end === 0) throw new Error(`snapshot at ${this.index}: the kv state wrote nothing at byte ${written} of ${reader.bytes}`);
      }
      await file.write(buf.subarray(0, end));
      written += end;
    }
    return prefix + written;
  }

  private settle(phase: 'durable' | 'cancelled' | 'failed', error: Error | null): void {
    if (this.isSettled) return;
    this.phaseNow = phase;
    this.failure = error;
    this.resolveSettled();
    this.opts.settled();
  }
}
