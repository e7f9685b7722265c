// Every bound of the service in one place, named with units last, each with why it has its
// value; the assertions at the bottom run at load time and say how the bounds relate: what
// the API accepts fits an entry, a WAL record, a peer message, a peer batch and a snapshot.
// A leaf module of constants: the codec, storage and transport import it; the core does not.

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

// ---- encodings at their largest (the layouts are in src/codec/ and src/storage/) ----

/** A varint of any safe integer: 53 bits, 7 per byte. */
export const varintBytesMax = 8;
/** Term, index and data length (varints) and the type byte around an entry's data. */
export const entryOverheadBytesMax = 3 * varintBytesMax + 1;
/** A message's context: 8-byte read contexts; a conf change's context is a peer URL, far below. */
export const contextBytesMax = 64 * KiB;
/** Type, seven varints, flags, context with its length, entry count: a message around its entries. */
export const messageOverheadBytesMax = 1 + 7 * varintBytesMax + 1 + varintBytesMax + contextBytesMax + varintBytesMax;
/** Version and message count in front of a batch of messages. */
export const batchHeaderBytesMax = 1 + varintBytesMax;
/** A WAL batch record's flags, HardState (three varints) and entry count (src/storage/segment.ts). */
export const walBatchOverheadBytesMax = 1 + 3 * varintBytesMax + varintBytesMax;

// ---- client API ----

/** Default --max-request-bytes: etcd's default request size. */
export const requestBytesDefault = 1.5 * MiB;
/** A key is the URL path: far below Node's 16 KiB header limit, so an over-long key gets our 414, not the parser's 431. */
export const keyBytesMax = 4 * KiB;
/** kind u8, origin node and epoch, seq, key length (u32 each): the kvstore's PUT entry header. */
export const kvPutHeaderBytes = 1 + 4 + 4 + 4 + 4;
/** `http://` + a 253-byte DNS name + `:65535` needs 268: 1 KiB leaves room without letting a URL bloat every snapshot. */
export const peerUrlBytesMax = 1 * KiB;
/** --advertise-client-url at most: the same room as a peer URL, for the same reasons (every snapshot carries one per member). */
export const clientUrlBytesMax = 1 * KiB;
/** A client may take this long to send its request (slow senders cannot hold sockets forever). */
export const clientRequestReceiveTimeoutMs = 60_000;
/** An idle keep-alive connection, client or peer, is closed after this (what fastify sets on the servers it makes). */
export const httpKeepAliveTimeoutMs = 72_000;
/** --request-timeout-ms at most: a day; anything longer is a hang. */
export const requestTimeoutMsMax = 24 * 3600 * 1000;
/**
 * Client requests served at once (key reads and writes, membership changes; not the /-/ paths an
 * operator needs under load): past it a request is shed with 503 before its body is read. It
 * bounds the sockets, promises and work of one burst, so a flood cannot starve Raft's heartbeats.
 */
export const clientRequestsInFlightMax = 2048;
/**
 * Client body bytes buffered at once (by content-length; a chunked body counts as the largest
 * allowed): without it a thousand 1.5 MiB uploads hold 1.5 GiB before any of them is proposed.
 */
export const clientBodyBytesInFlightMax = 128 * MiB;
/**
 * The client listener's accept queue (the kernel caps it at net.core.somaxconn), as Go and so
 * etcd take it: node's default of 511 overflows when a burst opens thousands of sockets at once,
 * and the kernel then resets some of them instead of letting the service shed with a 503.
 */
export const clientListenBacklog = 4096;
/** Reads waiting for the next ReadIndex round in the kvstore; past this, new ones answer 503. */
export const kvWaitingReadsMax = 65_536;

// ---- Raft entries and the core (passed to it as config by raftnode) ----

/** The data of one entry: the largest PUT with its header and key. 16 MiB keeps one request's memory, fsync and send moderate. */
export const entryBytesMax = 16 * MiB;
/** The largest PUT body: what an entry can carry after the PUT header and the longest key. The top of --max-request-bytes. */
export const putValueBytesMax = entryBytesMax - kvPutHeaderBytes - keyBytesMax;
/** Entry data per MsgApp from the core (etcd's default): small appends keep heartbeats and acks flowing. */
export const raftMessageEntryBytesMax = 1 * MiB;
/** MsgApps in flight per follower (etcd's default). */
export const raftInflightMessagesMax = 256;
/** Uncommitted entry bytes a leader holds before dropping proposals: four entries at the max. */
export const raftUncommittedBytesMax = 64 * MiB;
/** Linearizable reads a leader holds at once. */
export const raftPendingReadsMax = 4096;
/** Voters, or learners, in one ConfState: far past any cluster Raft can run. */
export const confStateIdsMax = 1024;
/** Members with a URL in the member table: voters and learners. */
export const membersMax = 2 * confStateIdsMax;
/** Ids ever removed (ids are single-use, so the table only grows): a million removals, 8 MiB of ids. */
export const removedMembersMax = 1 << 20;
/**
 * The smallest PUT entry (header and the key "/"). The core's other entries are rare: one empty
 * entry per term, one conf change at a time; so a MsgApp's entry count is bounded through this.
 */
export const kvPutEntryBytesMin = kvPutHeaderBytes + 1;
/** Exactly-once apply (proposal-dedup.ts): sequence numbers remembered below an origin's highest. */
export const dedupWindowSeqs = 64;
/** Origins (node ids) the dedup table remembers; the least recently used is forgotten past this. */
export const dedupOriginsMax = 256;
/** Earlier epochs (process lives) of an origin the dedup table remembers, so a late copy of their entries stays skipped. */
export const dedupRetiredEpochs = 4;
/** Bytes of one origin in the dedup table: node id, epoch, highest seq (u32 each), the window's bits, the retired epochs (u32 each). */
export const dedupOriginBytes = 4 + 4 + 4 + dedupWindowSeqs / 8 + 4 * dedupRetiredEpochs;
/** Bytes of the dedup table at its largest, as the kv snapshot carries it. */
export const dedupTableBytesMax = 4 + dedupOriginsMax * dedupOriginBytes;

// ---- queues between the layers: bounded by count and by bytes ----

/** proposeC (kvstore → raftnode): past this, a PUT answers 503 at once. */
export const proposeQueueProposalsMax = 4096;
/** proposeC's bytes: four entries at the max; a queue of small writes is bounded by its count first. */
export const proposeQueueBytesMax = 64 * MiB;
/** confChangeC (httpapi → raftnode): membership changes are rare and one at a time in Raft. */
export const confChangeQueueChangesMax = 16;
/** commitC (raftnode → kvstore): each commit is one Ready's committed entries, bounded by the core. */
export const commitQueueCommitsMax = 256;
/** Proposals in raftnode's inbox waiting for the next Ready (the group commit). */
export const inboxProposalsMax = 8192;
/** The inbox's bytes, like proposeC's: what one Ready may append at most. */
export const inboxProposalBytesMax = 64 * MiB;
/** Conf changes in the inbox. */
export const inboxConfChangesMax = 16;
/**
 * Encoded entries in one proposeBatch (one MsgProp when a follower forwards it): one entry at
 * the max, or many smaller ones up to the same total, so a forwarded MsgProp fits a peer message.
 */
export const proposalBatchBytesMax = entryBytesMax + entryOverheadBytesMax;

// ---- peer transport ----

/** Entries in one peer message (the decoder refuses more). */
export const peerMessageEntriesMax = 65_536;
/** One peer message: any message the core or the coalescer makes, and a forwarded MsgProp. */
export const peerMessageBytesMax = messageOverheadBytesMax + proposalBatchBytesMax;
/** Entry bytes merged by the coalescer into one MsgApp: more adds latency and saves little. */
export const coalescedAppendBytesMax = 4 * MiB;
/** Messages in one peer POST (sender side). */
export const peerBatchMessagesMax = 1024;
/** Messages in one peer POST the receiver decodes. */
export const peerBatchMessagesDecodeMax = 4096;
/** One peer POST or held-reply body (sender side): at least a message at its max, with room for the heartbeats behind it. */
export const peerBatchBytesMax = 2 * peerMessageBytesMax;
/** The receiver's body limit on POST /raft. */
export const peerBodyBytesMax = 64 * MiB;
/** Messages queued for one peer; past this new ones are dropped and the peer reported unreachable. */
export const peerQueueMessagesMax = 4096;
/** Bytes queued for one peer: two batches, so one is always filling while one is in flight. */
export const peerQueueBytesMax = 2 * peerBatchBytesMax;
/**
 * Message POSTs to one peer in flight at once (more are pipelined in order on one connection).
 * One: with two, on the 2-core bench machine a follower did more, smaller Readies (9 writes
 * per POST instead of 13, 10% more CPU per write) and the leader committed no faster (10,072
 * against 10,424 writes/s, 3 interleaved runs each). Bodies in flight: this many batches.
 */
export const peerMessagePostsInFlightMax = 1;
/** Snapshot data goes out in slices of this size, as views: never copied into one big body. */
export const peerSnapshotChunkBytes = 1 * MiB;
/** A held peer request not answered by then is answered empty (the loop is stuck or stopping). */
export const peerHeldReplyMsMax = 500;
/** Peer connect timeout at least (otherwise five heartbeats). */
export const peerConnectTimeoutMsMin = 200;
/** Peer request timeout at least (otherwise an election timeout): a batch at its max takes ~0.3 s at 1 Gbit/s. */
export const peerRequestTimeoutMsMin = 1000;
/** A snapshot at its max over 60 s needs 18 MB/s. */
export const peerSnapshotTimeoutMs = 60_000;
/**
 * A snapshot POST waits the request timeout plus its bytes at this rate (at most
 * peerSnapshotTimeoutMs): a lost small snapshot is given up on, and sent again, in about a
 * second rather than a minute (one is in flight per peer, and a follower that needs one can
 * be caught up no other way).
 */
export const peerSnapshotBytesPerSecondMin = 1 * MiB;
/** A peer must send its whole request (headers and body) within this: a slow sender cannot hold a socket. */
export const peerRequestReceiveTimeoutMs = peerSnapshotTimeoutMs;
/** Peer requests served at once (held ones included); past it a request is refused with 503, as if lost. */
export const peerRequestsInFlightMax = 256;
/** Snapshots received at once: each may buffer up to a whole snapshot in memory. */
export const peerSnapshotsInFlightMax = 1;
/** A cluster id in the WAL head: a 16-hex-digit hash; 64 leaves room. */
export const clusterIdBytesMax = 64;

// ---- snapshots ----

/** A snapshot file is read into memory whole: 1 GiB is what a node agrees to hold. */
export const snapshotFileBytesMax = 1 * GiB;
/** The snapshot file header: magic, version, crc, metadata length (src/storage/snapshotter.ts). */
export const snapshotFileHeaderBytes = 16;
/** Index, term and a ConfState at its largest fit easily. */
export const snapshotMetadataBytesMax = 64 * KiB;
/** The receiver's body limit on POST /raft/snapshot. */
export const peerSnapshotBodyBytesMax = 1 * GiB;
/** A snapshot's data (member table + kv state): 1 MiB below the file and body limits, for their framing. */
export const snapshotDataBytesMax = snapshotFileBytesMax - 1 * MiB;
/** The member table in a snapshot at its largest: members with peer URLs, removed ids, then members' client URLs. */
export const membershipTableBytesMax =
  varintBytesMax +
  membersMax * (2 * varintBytesMax + peerUrlBytesMax) +
  varintBytesMax +
  removedMembersMax * varintBytesMax +
  varintBytesMax +
  membersMax * (2 * varintBytesMax + clientUrlBytesMax);
/** The kv state in a snapshot: what the snapshot data leaves after its version, member table and the state's length. */
export const kvStateBytesMax = snapshotDataBytesMax - 1 - membershipTableBytesMax - varintBytesMax;

// ---- WAL ----

/** A WAL record's payload: bounds every allocation while reading a segment; four entries at the max fit. */
export const walRecordBytesMax = 64 * MiB;
/**
 * The last WAL segment is zero-filled this far ahead of its end, so that a batch is written
 * over blocks the file already has: a synchronous write then flushes the data alone, not the
 * file's new size with it. Measured on the 2-core bench machine (ext4, 3.5 KB synchronous
 * writes): 56-60 µs of system CPU and 180-220 µs per write over zeros against 93-95 µs and
 * 265-285 µs when each one extends the file. One zero-fill per this many bytes of log.
 */
export const walPreallocateBytes = 1 * MiB;

// ---- config knobs ----

/** The election timeout at most (etcd's bound). */
export const electionTimeoutMsMax = 50_000;
/** The election timeout at least this many heartbeats (etcd's rule). */
export const electionToHeartbeatRatioMin = 5;

// ---- the dashboard (/-/ui, /-/events) ----

/** Entries whose terms /-/status lists for the dashboard's log view (the last ones on disk). */
export const statusLogTermsMax = 40;
/** Events the node keeps for /-/events (a ring: the oldest go first). */
export const uiEventsMax = 500;
/** Browsers (or tools) streaming /-/events at once; more are refused with 503. */
export const uiEventClientsMax = 16;
/** How often the node serving the page asks each member for its /-/status while someone watches. */
export const uiStatusPollMs = 300;
/** How often it scrapes each member's /-/metrics for the charts. */
export const uiMetricsPollMs = 1000;
/** A member's answer not in by then counts as "unreachable" for that round. */
export const uiMemberRequestTimeoutMs = 1000;
/** A member's answer larger than this is refused (a status or a metrics page is a few KiB). */
export const uiMemberAnswerBytesMax = 1 * MiB;
/** Polling stops when no page has asked for the cluster's state for this long. */
export const uiIdleStopMs = 15_000;
/** Chart samples kept (one per uiMetricsPollMs): five minutes. */
export const uiChartSamplesMax = 300;
/** Members the page shows at most (their polls run concurrently). */
export const uiMembersMax = 64;

// ---- gateway (src/gateway/: a TCP proxy in front of the client ports) ----

/** Default --max-connections: each connection holds two sockets and at most their stream buffers (tens of KiB) in the gateway. */
export const gatewayConnectionsDefault = 1024;
/** --max-connections at most: 2 sockets each, well inside a raised RLIMIT_NOFILE. */
export const gatewayConnectionsMax = 65_536;
/** Endpoints in --endpoints: far more client ports than any cluster has. */
export const gatewayEndpointsMax = 1024;
/** --retry-delay-ms at most: an hour; a longer wait for a member that came back is an outage of the gateway's own making. */
export const gatewayRetryDelayMsMax = 3_600_000;
/** An endpoint that has not accepted the TCP connection by then counts as refused (a black-holed host), and the next is tried. */
export const gatewayConnectTimeoutMs = 3000;
/** On SIGTERM, open connections get this long to finish (a request in flight gets --request-timeout-ms' default) before they are cut. */
export const gatewayStopGraceMs = 5000;

// ---- how they relate ----

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`limits.ts: ${what}`);
}

const confChangeBytesMax = 1 + varintBytesMax + varintBytesMax + peerUrlBytesMax;
const confStateBytesMax = 2 * (varintBytesMax + confStateIdsMax * varintBytesMax);
const snapshotMessageBytesMax = batchHeaderBytesMax + messageOverheadBytesMax + snapshotMetadataBytesMax + varintBytesMax + snapshotDataBytesMax;
/** A client URL record (node/client-url-record.ts): kind, version, member id, the URL with its length. */
const clientUrlRecordBytesMax = 1 + 1 + varintBytesMax + varintBytesMax + clientUrlBytesMax;
const kvPairBytesMax = varintBytesMax + keyBytesMax + varintBytesMax + putValueBytesMax;

check(putValueBytesMax >= requestBytesDefault, 'the default request size is allowed');
check(clientBodyBytesInFlightMax >= putValueBytesMax, 'a PUT of the largest body is admitted when nothing else is in flight');
check(kvPutHeaderBytes + keyBytesMax + putValueBytesMax <= entryBytesMax, 'the largest PUT fits an entry');
check(entryBytesMax + entryOverheadBytesMax + walBatchOverheadBytesMax <= walRecordBytesMax, 'an entry at the max fits a WAL record');
check(entryBytesMax + entryOverheadBytesMax <= proposalBatchBytesMax, 'an entry at the max fits a proposal batch');
check(messageOverheadBytesMax + proposalBatchBytesMax <= peerMessageBytesMax, 'a proposal batch fits a peer message');
check(
  coalescedAppendBytesMax + peerMessageEntriesMax * entryOverheadBytesMax <= proposalBatchBytesMax,
  'a coalesced append, encoded, fits a peer message',
);
check(raftMessageEntryBytesMax <= entryBytesMax, "the core's MsgApp holds one entry at the max or less than that in total");
check(
  raftMessageEntryBytesMax * (1 + entryOverheadBytesMax / kvPutEntryBytesMin) <= proposalBatchBytesMax,
  "the core's MsgApp of the smallest entries, encoded, fits a peer message",
);
check(raftMessageEntryBytesMax / kvPutEntryBytesMin <= peerMessageEntriesMax, "the core's MsgApp has no more entries than a peer decodes");
check(inboxProposalsMax <= peerMessageEntriesMax, 'a forwarded MsgProp has no more entries than a peer decodes');
check(batchHeaderBytesMax + peerMessageBytesMax <= peerBatchBytesMax, 'a peer message at the max fits a batch');
check(peerBatchBytesMax <= peerBodyBytesMax, "a sender's batch fits the receiver's body limit");
check(peerBatchMessagesMax <= peerBatchMessagesDecodeMax, "a sender's batch has no more messages than the receiver decodes");
check(peerQueueBytesMax >= peerBatchBytesMax, 'a peer queue holds a full batch');
check(entryBytesMax <= raftUncommittedBytesMax, 'a leader accepts an entry at the max');
check(entryBytesMax <= proposeQueueBytesMax && entryBytesMax <= inboxProposalBytesMax, 'proposeC and the inbox take an entry at the max');
check(confChangeBytesMax <= entryBytesMax, 'a conf change with a URL at the max fits an entry');
check(clientUrlRecordBytesMax <= entryBytesMax && clientUrlRecordBytesMax <= proposalBatchBytesMax, 'a client URL record at the max fits an entry');
check(peerUrlBytesMax <= contextBytesMax, "a URL at the max fits a conf change's context");
check(confStateBytesMax + 2 * varintBytesMax <= snapshotMetadataBytesMax, 'a ConfState at the max fits the snapshot metadata');
check(membersMax >= 2 * confStateIdsMax, 'the member table holds every voter and learner');
check(snapshotFileHeaderBytes + snapshotMetadataBytesMax + snapshotDataBytesMax <= snapshotFileBytesMax, 'snapshot data at the max fits a snapshot file');
check(snapshotMessageBytesMax <= peerSnapshotBodyBytesMax, 'snapshot data at the max fits a snapshot POST');
check(1 + membershipTableBytesMax + varintBytesMax + kvStateBytesMax <= snapshotDataBytesMax, 'a member table and kv state at the max fit a snapshot');
check(1 + varintBytesMax + kvPairBytesMax + dedupTableBytesMax <= kvStateBytesMax, 'the largest PUT, with a full dedup table, fits a snapshot');
check(peerSnapshotBodyBytesMax <= 2 * GiB - 1, "a snapshot fits one Buffer (Node 20's limit is 4 GiB; 2 GiB on 32-bit)");
check(16 <= clusterIdBytesMax, 'a derived cluster id fits the WAL head');
check(gatewayConnectionsDefault <= gatewayConnectionsMax, 'the default --max-connections is allowed');
