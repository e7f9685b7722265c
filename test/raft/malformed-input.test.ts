// Generated input: thousands of random peer messages (any type, including local-only and
// unknown ones; zero, stale and future terms; unknown ids; empty, huge and misnumbered entries;
// bad indexes; snapshots that do not fit) stepped into a node of each role. Only RaftErrors
// may come out, and afterwards the cluster, that node included, still elects and commits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Entry, EntryType, type Message, RaftErrorCode, isRaftError } from '../../src/raft/index.ts';
import { CC, MT, Network, ST, enc, seededRandom } from './network.ts';

type Random = (n: number) => number;
const ROLES = ['leader', 'follower', 'pre-candidate', 'learner'] as const;
type Role = (typeof ROLES)[number];
const TARGET: Record<Role, number> = { leader: 1, follower: 2, 'pre-candidate': 3, learner: 4 };

/** Voters 1, 2, 3 and learner 4, with 1 elected and a few entries committed; `role` set up. */
function clusterWith(role: Role): Network {
  const net = new Network({ seed: 7 });
  const peers = [1, 2, 3, 4].map((id) => ({ id, context: enc(`peer-${id}`), learner: id === 4 }));
  for (const p of peers) net.addNode(p.id).rn.bootstrap(peers);
  net.deliverAll();
  net.elect(1);
  for (const v of ['a', 'b', 'c']) net.propose(1, v);
  if (role === 'pre-candidate') {
    net.isolate(3);
    net.rn(3).campaign();
    net.deliverAll();
    assert.equal(net.state(3), ST.PreCandidate);
  }
  return net;
}

const pick = <T>(r: Random, xs: readonly T[]): T => xs[r(xs.length)]!;

/** A number for an index-like field: mostly plausible, sometimes absurd or not an integer. */
function fieldNumber(r: Random, near: number): number {
  if (r(12) === 0) return pick(r, [-1, 1.5, Number.NaN, 2 ** 53, Number.MAX_SAFE_INTEGER]);
  return pick(r, [0, 1, near, near + 1, Math.max(0, near - 1), r(50)]);
}

function randomEntries(r: Random, from: number, term: number): Entry[] {
  const n = pick(r, [0, 1, 2, 5]);
  const out: Entry[] = [];
  let index = from;
  for (let i = 0; i < n; i++) {
    const misnumbered = r(8) === 0;
    const bytes = pick(r, [0, 3, 100_000]);
    out.push({
      index: misnumbered ? fieldNumber(r, index) : index,
      term: r(10) === 0 ? fieldNumber(r, term) : term,
      type: r(12) === 0 ? (7 as EntryType) : pick(r, [EntryType.Normal, EntryType.ConfChange]),
      data: r(30) === 0 ? ('not bytes' as unknown as Uint8Array) : new Uint8Array(bytes),
    });
    index++;
  }
  return out;
}

/**
 * A random message to node `to`. Messages only a leader sends never carry a commit index
 * above what `to` has committed, nor a snapshot `to` would install: a well-formed one of those
 * is indistinguishable from a real leader's (Raft cannot defend against a lying leader).
 */
function randomMessage(r: Random, net: Network, to: number): Message {
  const st = net.rn(to).status();
  const type = r(22); // 19..21 are no message type at all
  const term = r(20) === 0 ? -3 : pick(r, [0, st.hardState.term, st.hardState.term + 1, st.hardState.term + 2, Math.max(0, st.hardState.term - 1)]);
  const index = fieldNumber(r, st.lastIndex);
  const leaderish = type === MT.MsgApp || type === MT.MsgHeartbeat || type === MT.MsgSnap;
  const commit = leaderish ? (r(6) === 0 ? pick(r, [-1, 0.5, st.lastIndex + 5]) : r(st.commit + 1)) : fieldNumber(r, st.commit);
  const fitting = r(2) === 0;
  const snapIndex = fitting ? r(st.commit + 1) : fieldNumber(r, st.lastIndex + 3);
  const voters = fitting ? [1, 2, 3] : pick(r, [[], [1, 1], [7], [0], [1, 2, 3]]);
  const snapshot =
    r(4) === 0
      ? null
      : {
          metadata: { index: snapIndex, term: pick(r, [0, 1, term, term + 5]), confState: { voters, learners: pick(r, [[], [4], [1], [-2]]) } },
          data: new Uint8Array(r(3)),
        };
  return {
    type: type as Message['type'],
    to: r(15) === 0 ? pick(r, [0, 9]) : to,
    from: r(15) === 0 ? pick(r, [0, -1, 2.5]) : pick(r, [1, 2, 3, 4, 9]),
    term,
    logTerm: fieldNumber(r, st.hardState.term),
    index,
    entries: randomEntries(r, Number.isSafeInteger(index) ? index + 1 : 1, term),
    commit,
    snapshot: snapshot as Message['snapshot'],
    reject: r(10) === 0 ? ('yes' as unknown as boolean) : r(2) === 0,
    rejectHint: fieldNumber(r, st.lastIndex),
    context: r(20) === 0 ? (null as unknown as Uint8Array) : new Uint8Array(r(9)),
  };
}

/** Flushes every node's Readies without delivering anything (the fuzz's answers go nowhere). */
function flushAll(net: Network): void {
  for (let round = 0; round < 100; round++) {
    let any = false;
    for (const id of net.ids()) any = net.flush(id).length > 0 || net.rn(id).hasReady() || any;
    if (!any) return;
  }
}

for (const role of ROLES) {
  test(`random peer messages into a ${role}: only RaftErrors, and the cluster still works`, () => {
    const r = seededRandom(1000 + TARGET[role]);
    const codes = new Map<string, number>();
    let acted = 0;
    for (let batch = 0; batch < 10; batch++) {
      const net = clusterWith(role);
      const to = TARGET[role];
      for (let i = 0; i < 300; i++) {
        const m = randomMessage(r, net, to);
        try {
          net.rn(to).step(m);
          acted++;
        } catch (e) {
          assert.ok(isRaftError(e), `type ${m.type} from ${m.from}: not a RaftError: ${(e as Error).stack}`);
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        }
        if (i % 25 === 0) flushAll(net);
      }
      flushAll(net);
      // Afterwards: heal, let an election settle, and commit a write everywhere.
      net.heal();
      net.tick(60);
      const leader = net.leader();
      assert.ok(leader !== 0, `batch ${batch}: no leader after the fuzz`);
      net.propose(leader, `after-${batch}`);
      net.tick(5);
      for (const id of [1, 2, 3, 4]) {
        assert.equal(net.node(id).applied.at(-1), `after-${batch}`, `batch ${batch}: node ${id} did not apply the write (role ${role})`);
      }
    }
    assert.ok(acted > 100, `only ${acted} messages were acted on`);
    assert.ok((codes.get(RaftErrorCode.InvalidMessage) ?? 0) > 100, `codes: ${JSON.stringify([...codes])}`);
  });
}

test('a forwarded proposal with no entries is refused with ERR_INVALID_MESSAGE, and the leader goes on', () => {
  const net = clusterWith('leader');
  const empty: Message = { ...net.sent.find((m) => m.type === MT.MsgApp)!, type: MT.MsgProp, from: 2, to: 1, term: 0, entries: [] };
  assert.throws(() => net.rn(1).step(empty), (e) => isRaftError(e, RaftErrorCode.InvalidMessage));
  net.propose(1, 'still-works');
  assert.equal(net.node(2).applied.at(-1), 'still-works');
  net.confChange(1, CC.RemoveNode, 4);
  assert.deepEqual(net.node(1).confState.learners, []);
});
