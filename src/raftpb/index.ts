// The leaf every layer shares (as etcd's raftpb): the Raft data contract's types (types.ts)
// and its binary encoding (encoding.ts, on the primitives of binary.ts), used by the core,
// the WAL, the snapshot files and the peer transport. It imports nothing but limits.ts.

export * from './types.ts';
//
// Decoders throw CodecError (code 'ERR_CODEC', with the byte offset) on any malformed
// input; they never read out of range and check every length against both a limit and
// the bytes actually present before allocating.

export { BinaryReader, BinaryWriter, CodecError, putVarint, varintBytes } from './binary.ts';
export {
  DEFAULT_LIMITS,
  MESSAGES_VERSION,
  type DecodeLimits,
  decodeConfChange,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessages,
  decodeSnapshotMetadata,
  encodeConfChange,
  encodeConfState,
  encodeEntry,
  entryEncodedBytes,
  batchEncodedBytes,
  messageEncodedBytes,
  encodeHardState,
  encodeMessages,
  encodeSnapshotMetadata,
  readConfState,
  readEntry,
  readEntryInPlace,
  type EntryInPlace,
  readHardState,
  readMessage,
  readSnapshot,
  readSnapshotMetadata,
  writeConfState,
  writeEntry,
  writeHardState,
  writeMessage,
  writeMessages,
  writeSnapshot,
  writeSnapshotMetadata,
} from './encoding.ts';
export { PackedEntries } from './packed-entries.ts';
