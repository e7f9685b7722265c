// A small randomized check of Raft's safety properties under loss, reordering, duplication,
// partitions and crash-restarts. The simulator in test/sim does this at scale; this keeps the
// core honest on its own, in well under a second per seed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Message, type PlantedBugs, RaftErrorCode, isRaftError } from '../../src/raft/index.ts';
import { MT, Network, ST, dec, enc, seededRandom } from './network.ts';

function run(seed: number, steps: number, plantedBugs: PlantedBugs = {}): { leaders: number; applied: number } {
  const rnd = seededRandom(seed);
  const ids = [1, 2, 3, 4, 5];
  const net = Network.bootstrap(ids, { seed, config: () => ({ maxSizePerMsg: 64, maxInflightMsgs: 4, plantedBugs }) });
  // Read ctx -> the highest commit index anywhere when the read was asked: a linearizable
  // read must be answered at an index at least that high.
  const readFloor = new Map<string, number>();
  let reads = 0;
  const leaderOfTerm = new Map<number, number>();
  const committedTerm = new Map<number, number>(); // index -> term, once committed anywhere
  let pool: Message[] = [];
  let proposals = 0;

  for (let step = 0; step < steps; step++) {
    // Faults.
    const r = rnd(100);
    if (r < 3) {
      const id = ids[rnd(5)]!;
      const node = net.node(id);
      if (!node.down && node.appliedIndex > node.storage.snapshot().metadata.index) net.compact(id);
    } else if (r < 5) {
      net.heal();
      const a = ids[rnd(5)]!;
      const b = ids[rnd(5)]!;
      if (a !== b) net.cut(a, b);
      if (rnd(2) === 0) net.isolate(ids[rnd(5)]!);
    } else if (r < 7) {
      net.heal();
    } else if (r < 8) {
      const id = ids[rnd(5)]!;
      if (!net.node(id).down) {
        net.crash(id);
        for (const m of pool) if (m.type === MT.MsgSnap && m.to === id && m.from !== id) net.rn(m.from).reportSnapshot(id, false);
        pool = pool.filter((m) => m.to !== id && m.from !== id);
      } else {
        net.restart(id);
      }
    }
    if (rnd(4) === 0) {
      const id = ids[rnd(5)]!;
      if (!net.node(id).down) {
        try {
          net.rn(id).propose(enc(`v${proposals++}`));
        } catch (e) {
          if (!isRaftError(e, RaftErrorCode.ProposalDropped)) throw e;
        }
      }
    }
    if (rnd(4) === 0) {
      const id = ids[rnd(5)]!;
      if (!net.node(id).down) {
        const ctx = `r${reads++}`;
        let floor = 0;
        for (const n of net.nodes.values()) if (!n.down) floor = Math.max(floor, n.rn.status().commit);
        try {
          net.rn(id).readIndex(enc(ctx));
          readFloor.set(ctx, floor);
        } catch (e) {
          if (!isRaftError(e, RaftErrorCode.ProposalDropped)) throw e;
        }
      }
    }
    for (const id of ids) if (!net.node(id).down && rnd(3) !== 0) net.rn(id).tick();
    for (const id of ids) pool.push(...net.flush(id));
    // Deliver a random part of the pool, in random order; sometimes twice; lose some.
    const keep: Message[] = [];
    const now: Message[] = [];
    for (const m of pool) {
      const x = rnd(10);
      if (x < 6) now.push(m);
      else if (x < 9) keep.push(m);
      else if (m.type === MT.MsgSnap && !net.node(m.from).down) net.rn(m.from).reportSnapshot(m.to, false); // lost: the transport says so
      if (x === 0) keep.push(m); // duplicate later
    }
    for (let i = now.length - 1; i > 0; i--) {
      const j = rnd(i + 1);
      [now[i], now[j]] = [now[j]!, now[i]!];
    }
    pool = keep;
    net.deliver(now);

    // Invariants, every step.
    for (const id of ids) {
      const node = net.node(id);
      if (node.down) continue;
      for (const rs of node.reads.splice(0)) {
        const floor = readFloor.get(dec(rs.requestCtx))!;
        assert.ok(rs.index >= floor, `stale read on node ${id}: index ${rs.index} < commit ${floor} seen before it`);
      }
      const st = node.rn.status();
      if (st.softState.raftState === ST.Leader) {
        const prev = leaderOfTerm.get(st.hardState.term);
        assert.ok(prev === undefined || prev === id, `election safety: two leaders in term ${st.hardState.term}`);
        leaderOfTerm.set(st.hardState.term, id);
      }
      for (const e of net.log(id)) {
        if (e.index > node.storage.initialState().hardState.commit) break;
        const t = committedTerm.get(e.index);
        assert.ok(t === undefined || t === e.term, `committed entry ${e.index} changed term on node ${id}`);
        committedTerm.set(e.index, e.term);
      }
    }
  }
  // State machine safety: every node applied a prefix of the same sequence.
  const seqs = ids.map((id) => net.node(id).applied.join('|'));
  const longest = seqs.reduce((a, b) => (b.length > a.length ? b : a));
  for (const s of seqs) assert.ok(longest.startsWith(s), 'applied sequences diverge');
  // Liveness once the faults stop: a leader emerges and everyone converges.
  net.heal();
  for (const id of ids) if (net.node(id).down) net.restart(id);
  net.tick(60);
  const leader = net.leader();
  assert.notEqual(leader, 0, 'a leader after healing');
  net.propose(leader, 'final');
  const final = net.node(leader).applied.join('|');
  assert.ok(final.startsWith(longest), 'the healed leader kept every applied value');
  for (const id of ids) assert.equal(net.node(id).applied.join('|'), final, `node ${id} converged`);
  return { leaders: leaderOfTerm.size, applied: longest.split('|').length };
}

test('safety under random faults: one leader per term, committed entries never change, same applied order', () => {
  // RAFT_FUZZ_SEEDS=200 for a longer hunt; RAFT_FUZZ_FIRST to start elsewhere.
  const first = Number(process.env.RAFT_FUZZ_FIRST ?? 1);
  const seeds = Number(process.env.RAFT_FUZZ_SEEDS ?? 6);
  let progress = 0;
  for (let seed = first; seed < first + seeds; seed++) {
    let result;
    try {
      result = run(seed, 1500);
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`, { cause: e });
    }
    const { leaders, applied } = result;
    assert.ok(leaders >= 1);
    progress += applied;
  }
  assert.ok(progress > 50, 'the cluster made progress despite the faults');
});

test('the same check catches the planted stale-read bug', () => {
  let caught = 0;
  for (let seed = 1; seed <= 6 && caught === 0; seed++) {
    try {
      run(seed, 1500, { readWithoutReadIndex: true });
    } catch (e) {
      if (/stale read/.test((e as Error).message)) caught++;
      else throw e;
    }
  }
  assert.ok(caught > 0);
});
