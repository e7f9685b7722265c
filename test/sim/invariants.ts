// The state checker: watches every Ready, message, apply and snapshot install of every node
// and throws a Violation the moment one of Raft's safety properties breaks. It keeps a
// shadow of each node's log (durable + unstable, as exposed through Ready) and a global
// memory of everything ever seen, so properties hold "across all time", crashes included.

import { createHash } from 'node:crypto';
import { type Entry, type Message, MessageType, type NodeId, type Ready, type Snapshot, StateType } from '../../src/raft/index.ts';

export class Violation extends Error {
  constructor(
    readonly invariant: string,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'Violation';
  }
}

/** One node's log as the application has seen it: a base (snapshot) and the entries after. */
export class ShadowLog {
  baseIndex = 0;
  baseTerm = 0;
  terms: number[] = [];
  ids: string[] = [];

  lastIndex(): number {
    return this.baseIndex + this.terms.length;
  }

  /** Term at i, or -1 when unknown (compacted below the base, or beyond the end). */
  termAt(i: number): number {
    if (i === this.baseIndex) return this.baseTerm;
    if (i < this.baseIndex || i > this.lastIndex()) return -1;
    return this.terms[i - this.baseIndex - 1]!;
  }

  idAt(i: number): string | undefined {
    return i > this.baseIndex ? this.ids[i - this.baseIndex - 1] : undefined;
  }

  reset(index: number, term: number): void {
    this.baseIndex = index;
    this.baseTerm = term;
    this.terms = [];
    this.ids = [];
  }

  truncateAfter(i: number): void {
    const keep = Math.max(0, i - this.baseIndex);
    if (keep < this.terms.length) {
      this.terms.length = keep;
      this.ids.length = keep;
    }
  }

  push(term: number, id: string): void {
    this.terms.push(term);
    this.ids.push(id);
  }
}

/** An entry's identity: its term, type and data (long data by its digest). */
export function entryId(e: Entry): string {
  const d = e.data;
  const data = d.length <= 64 ? Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('latin1') : createHash('md5').update(d).digest('base64');
  return `${e.term}/${e.type}/${d.length}/${data}`;
}

/** The disks and memberships behind the nodes, for Quorum Durability. */
export interface DurableView {
  /** Is entry (index, term) on node `id`'s disk (durable, not just written), itself or in a snapshot? */
  holds(id: NodeId, index: number, term: number): boolean;
  /** The voter sets node `id` may have committed under since its previous Ready: the one it
   *  has applied now, and the one it had at its previous Ready (entries applied in between
   *  may have changed it after the commit index moved). */
  configs(id: NodeId): NodeId[][];
}

/** An (index, term) pair of a node's log, for Log Matching. */
type LogNote = [index: number, term: number, eid: string | undefined, prevTerm: number];

interface NodeView {
  shadow: ShadowLog;
  /**
   * What each Ready not yet persisted adds to the log. It counts for Log Matching only once
   * persisted: a Ready lost in a crash (a single voter's new term, say) never happened, and
   * its entries may come back different under the same term.
   */
  unpersisted: Map<Ready, LogNote[]>;
  term: number;
  state: StateType;
  /** The term in which we last saw this node as leader (continuously), or 0. */
  leaderTerm: number;
}

export class SafetyChecker {
  private readonly nodes = new Map<NodeId, NodeView>();
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly voteOf = new Map<string, NodeId>();
  /** `${index}:${term}` -> the entry and the term of its predecessor (-1 unknown). */
  private readonly logIndex = new Map<string, { id: string; prevTerm: number }>();
  /** index -> the committed entry, and an upper bound on the term in which it was committed
   *  (the smallest current term of a node seen applying it). */
  private readonly committed = new Map<number, { term: number; id: string; commitTerm: number }>();
  private readonly appliedAt = new Map<number, string>();
  private readonly digestAt = new Map<number, string>();
  maxCommitted = 0;
  leadersElected = 0;
  /** Last commit index seen from each node (per incarnation). */
  private readonly commitOf = new Map<NodeId, number>();
  /** index -> the entry's term and the voters of the configuration whose leader committed it. */
  private readonly committedBy = new Map<number, { term: number; voters: NodeId[]; leader: NodeId }>();
  private maxCommittedBy = 0;

  /** ruleChecks: also check the rules behind the properties (one vote per term, the leader
   *  commit rule), which catch a broken rule before it does visible damage. `durable`: also
   *  check Quorum Durability (every committed entry is on the disks of a quorum of voters). */
  constructor(
    ids: readonly NodeId[],
    readonly ruleChecks = true,
    private readonly durable: DurableView | null = null,
  ) {
    for (const id of ids) this.nodes.set(id, freshView());
  }

  addNode(id: NodeId): void {
    if (!this.nodes.has(id)) this.nodes.set(id, freshView());
  }

  private view(id: NodeId): NodeView {
    const v = this.nodes.get(id);
    if (v === undefined) throw new Error(`checker: unknown node ${id}`);
    return v;
  }

  /** A node restarted from its disk: its log is what was durable. */
  onRestart(id: NodeId, snapshot: Snapshot | null, entries: readonly Entry[], term: number): void {
    const v = freshView();
    v.term = term;
    this.commitOf.delete(id);
    if (snapshot !== null) v.shadow.reset(snapshot.metadata.index, snapshot.metadata.term);
    this.appendToShadow(id, v, entries);
    this.nodes.set(id, v);
  }

  /** Called with each Ready, before the application acts on it. */
  onReady(id: NodeId, rd: Ready): void {
    const v = this.view(id);
    const wasLeaderTerm = v.leaderTerm;
    if (rd.hardState !== null) {
      if (rd.hardState.term < v.term) {
        throw new Violation('Term monotonicity', `node ${id} term went from ${v.term} to ${rd.hardState.term}`);
      }
      v.term = rd.hardState.term;
    }
    if (rd.softState !== null) v.state = rd.softState.raftState;
    const leaderNow = v.state === StateType.Leader ? v.term : 0;

    const notes: LogNote[] = [];
    if (rd.snapshot !== null || rd.entries.length > 0) v.unpersisted.set(rd, notes);
    if (rd.snapshot !== null) {
      v.shadow.reset(rd.snapshot.metadata.index, rd.snapshot.metadata.term);
      notes.push([rd.snapshot.metadata.index, rd.snapshot.metadata.term, undefined, -1]);
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      if (wasLeaderTerm !== 0 && wasLeaderTerm === leaderNow && first <= v.shadow.lastIndex()) {
        throw new Violation(
          'Leader Append-Only',
          `leader ${id} (term ${leaderNow}) rewrote its log from index ${first} (last was ${v.shadow.lastIndex()})`,
        );
      }
      this.appendToShadow(id, v, rd.entries, notes);
    }
    if (rd.hardState !== null) {
      const commit = rd.hardState.commit;
      if (commit > v.shadow.lastIndex()) {
        throw new Violation('Commit within log', `node ${id} commit ${commit} beyond its last index ${v.shadow.lastIndex()}`);
      }
      // Raft's commit rule (§5.4.2): a leader advances its commit index only to an entry of
      // its own term; older entries are committed indirectly. (Only checked when the node was
      // leader before this Ready too: as a follower it may have learned an older commit.)
      const before = this.commitOf.get(id) ?? 0;
      if (commit < before) {
        throw new Violation('Commit monotonicity', `node ${id} commit went back from ${before} to ${commit}`);
      }
      if (this.ruleChecks && commit > before && wasLeaderTerm !== 0 && wasLeaderTerm === leaderNow && v.shadow.termAt(commit) !== leaderNow) {
        throw new Violation(
          'Leader commit rule',
          `leader ${id} of term ${leaderNow} advanced commit to ${commit}, an entry of term ${v.shadow.termAt(commit)}`,
        );
      }
      this.commitOf.set(id, commit);
      if (leaderNow !== 0 || wasLeaderTerm !== 0) this.onLeaderCommit(id, before, commit, v);
    }

    // A Ready that changes term or vote is not real until persisted (nothing leaves before):
    // a single voter that crashes first may lead that term again (onReadyPersisted claims it).
    if (leaderNow !== 0 && !rd.changesTermOrVote) this.claimLeadership(id, leaderNow, v);
    v.leaderTerm = leaderNow;
    for (const m of rd.messages) this.onMessage(id, m);
    for (const e of rd.committedEntries) this.onCommitted(id, e, v.term);
  }

  /** The Ready `rd` of node `id` is durable (its fsync completed, or it needed none). */
  onReadyPersisted(id: NodeId, rd: Ready): void {
    const v = this.view(id);
    const notes = v.unpersisted.get(rd);
    if (notes !== undefined) {
      v.unpersisted.delete(rd);
      for (const [index, term, eid, prevTerm] of notes) this.noteLogEntry(id, index, term, eid, prevTerm);
    }
    if (rd.changesTermOrVote && v.state === StateType.Leader && v.leaderTerm !== 0) this.claimLeadership(id, v.leaderTerm, v);
  }

  private onMessage(id: NodeId, m: Message): void {
    const t = m.type;
    // Followers forward proposals, read requests and transfer requests with the original
    // sender's id (for a transfer: the transferee).
    if (m.from !== id && t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex && t !== MessageType.MsgTransferLeader) {
      throw new Violation('Message sender', `node ${id} sent a ${t} message from ${m.from}`);
    }
  }

  /** A message actually leaves node `id` (a vote only does once its fsync completed: a node
   *  that crashes before that may vote again, for anyone). */
  onSend(id: NodeId, m: Message): void {
    if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
      // Only a leader sends these, in its own term.
      this.claimLeadership(id, m.term, this.view(id));
    }
    if (m.type !== MessageType.MsgVoteResp || m.reject || !this.ruleChecks) return;
    const k = `${m.term}:${id}`;
    const prior = this.voteOf.get(k);
    if (prior !== undefined && prior !== m.to) {
      throw new Violation('Single Vote', `node ${id} granted its term-${m.term} vote to ${prior} and then to ${m.to}`);
    }
    this.voteOf.set(k, m.to);
  }

  private claimLeadership(id: NodeId, term: number, v: NodeView): void {
    const prior = this.leaderOfTerm.get(term);
    if (prior === undefined) {
      this.leaderOfTerm.set(term, id);
      this.leadersElected++;
      this.checkLeaderCompleteness(id, term, v);
    } else if (prior !== id) {
      throw new Violation('Election Safety', `two leaders in term ${term}: ${prior} and ${id}`);
    }
  }

  /** A new leader's log holds every entry committed in an earlier term. */
  private checkLeaderCompleteness(id: NodeId, term: number, v: NodeView): void {
    for (const [index, c] of this.committed) {
      if (c.commitTerm >= term) continue;
      this.expectInLog(id, v, index, c, term);
    }
  }

  private expectInLog(id: NodeId, v: NodeView, index: number, c: { term: number; id: string }, leaderTerm: number): void {
    if (index < v.shadow.baseIndex) return; // compacted into its snapshot
    const t = v.shadow.termAt(index);
    const got = index === v.shadow.baseIndex ? undefined : v.shadow.idAt(index);
    if (t !== c.term || (got !== undefined && got !== c.id)) {
      throw new Violation(
        'Leader Completeness',
        `leader ${id} of term ${leaderTerm} lacks committed entry ${index} (term ${c.term}); it has term ${t} there`,
      );
    }
  }

  /** Node `id`, now at `term`, learned that e is committed: it was committed in `term` or before. */
  private onCommitted(id: NodeId, e: Entry, term: number): void {
    const eid = entryId(e);
    const prior = this.committed.get(e.index);
    if (prior !== undefined) {
      if (prior.id !== eid) {
        throw new Violation('State Machine Safety', `entry ${e.index} committed as term ${prior.term} and as term ${e.term} (node ${id})`);
      }
      if (term >= prior.commitTerm) return;
      prior.commitTerm = term;
    } else {
      this.committed.set(e.index, { term: e.term, id: eid, commitTerm: term });
      if (e.index > this.maxCommitted) this.maxCommitted = e.index;
    }
    // Every leader in office of a later term than the commit must hold it too.
    const c = this.committed.get(e.index)!;
    for (const [nid, v] of this.nodes) {
      if (v.leaderTerm > term) this.expectInLog(nid, v, e.index, c, v.leaderTerm);
    }
  }

  /** Entries into the node's shadow log; their Log Matching notes go to `notes`, or are checked at once. */
  private appendToShadow(id: NodeId, v: NodeView, entries: readonly Entry[], notes?: LogNote[]): void {
    for (const e of entries) {
      if (e.index <= v.shadow.baseIndex) continue;
      if (e.index > v.shadow.lastIndex() + 1) {
        throw new Violation('Log contiguity', `node ${id} appended entry ${e.index} after last index ${v.shadow.lastIndex()}`);
      }
      v.shadow.truncateAfter(e.index - 1);
      const eid = entryId(e);
      if (notes !== undefined) notes.push([e.index, e.term, eid, v.shadow.termAt(e.index - 1)]);
      else this.noteLogEntry(id, e.index, e.term, eid, v.shadow.termAt(e.index - 1));
      v.shadow.push(e.term, eid);
    }
  }

  /** Log Matching, incrementally: (index, term) fixes the entry and its predecessor's term,
   *  so by induction two logs that agree on one entry agree on the whole prefix. */
  private noteLogEntry(id: NodeId, index: number, term: number, eid: string | undefined, prevTerm: number): void {
    const k = `${index}:${term}`;
    const prior = this.logIndex.get(k);
    if (prior === undefined) {
      this.logIndex.set(k, { id: eid ?? '', prevTerm });
      return;
    }
    if (eid !== undefined && prior.id !== '' && prior.id !== eid) {
      throw new Violation('Log Matching', `node ${id} has a different entry at index ${index} term ${term}`);
    }
    if (prevTerm !== -1 && prior.prevTerm !== -1 && prevTerm !== prior.prevTerm) {
      throw new Violation(
        'Log Matching',
        `node ${id}: entry ${index} term ${term} follows term ${prevTerm}, elsewhere term ${prior.prevTerm}`,
      );
    }
    if (prior.id === '' && eid !== undefined) prior.id = eid;
    if (prior.prevTerm === -1) prior.prevTerm = prevTerm;
  }

  /** A leader raised its commit index from `from` to `to`: each newly committed entry must
   *  already be on the disks of a quorum of its voters (a leader's own copy counts only once
   *  it is durable, not when it is appended). */
  private onLeaderCommit(id: NodeId, from: number, to: number, v: NodeView): void {
    if (this.durable === null) return;
    const configs = this.durable.configs(id);
    for (let index = from + 1; index <= to; index++) {
      if (this.committedBy.has(index)) continue;
      const term = v.shadow.termAt(index);
      if (term < 0) continue;
      const voters = configs.find((c) => this.durableOnQuorum(index, term, c)) ?? configs[0]!;
      const rec = { term, voters, leader: id };
      this.committedBy.set(index, rec);
      if (index > this.maxCommittedBy) this.maxCommittedBy = index;
      this.checkQuorumDurable(index, rec);
    }
  }

  /** Node `id`'s disk dropped or replaced entries from `from` on: recheck the committed ones. */
  onDiskDropped(id: NodeId, from: number): void {
    for (let index = from; index <= this.maxCommittedBy; index++) {
      const rec = this.committedBy.get(index);
      if (rec !== undefined && rec.voters.includes(id)) this.checkQuorumDurable(index, rec);
    }
  }

  private durableOnQuorum(index: number, term: number, voters: NodeId[]): boolean {
    const holders = voters.filter((n) => this.durable!.holds(n, index, term));
    return holders.length >= Math.floor(voters.length / 2) + 1;
  }

  private checkQuorumDurable(index: number, rec: { term: number; voters: NodeId[]; leader: NodeId }): void {
    if (this.durableOnQuorum(index, rec.term, rec.voters)) return;
    const holders = rec.voters.filter((n) => this.durable!.holds(n, index, rec.term));
    throw new Violation(
      'Quorum Durability',
      `entry ${index} (term ${rec.term}), committed by leader ${rec.leader} with voters [${rec.voters.join(',')}], is durable only on [${holders.join(',')}]`,
    );
  }

  /** The node's state machine applied entry e; `digest` is its state afterwards. */
  onApply(id: NodeId, e: Entry, digest: string): void {
    const eid = entryId(e);
    const prior = this.appliedAt.get(e.index);
    if (prior === undefined) this.appliedAt.set(e.index, eid);
    else if (prior !== eid) {
      throw new Violation('State Machine Safety', `node ${id} applied a different entry at index ${e.index}`);
    }
    this.checkDigest(id, e.index, digest);
  }

  /** The node replaced its state machine with a snapshot taken at `index`. */
  onSnapshotInstalled(id: NodeId, snap: Snapshot, digest: string): void {
    const c = this.committed.get(snap.metadata.index);
    if (c !== undefined && c.term !== snap.metadata.term) {
      throw new Violation('State Machine Safety', `node ${id} installed a snapshot at ${snap.metadata.index} of term ${snap.metadata.term}, committed term is ${c.term}`);
    }
    this.checkDigest(id, snap.metadata.index, digest);
  }

  private checkDigest(id: NodeId, index: number, digest: string): void {
    const prior = this.digestAt.get(index);
    if (prior === undefined) this.digestAt.set(index, digest);
    else if (prior !== digest) {
      throw new Violation('State Machine Safety', `node ${id} state after index ${index} differs from another node's`);
    }
  }

  leaderOf(term: number): NodeId | undefined {
    return this.leaderOfTerm.get(term);
  }
}

function freshView(): NodeView {
  return { shadow: new ShadowLog(), unpersisted: new Map(), term: 0, state: StateType.Follower, leaderTerm: 0 };
}
