// Rules of log replication (Raft §5.3, §5.4.2) and its flow control.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftErrorCode, isRaftError } from '../../src/raft/index.ts';
import { MT, Network, ST, enc, storageWith } from './network.ts';

const terms = (net: Network, id: number) => net.log(id).map((e) => e.term);

/**
 * Figure 8: node 1 (log 1@1 2@2) wins term 4 with node 2 (log 1@1); node 3 (log 1@1 2@3) is cut
 * off. Once node 2 holds 2@2, that entry is on a majority, but it is of term 2: counting replicas
 * must not commit it, since node 3 could still win and overwrite it with 2@3.
 */
function figure8(commitOldTermByCount: boolean): { commitAfterOldEntryReplicated: number; finalCommit: number } {
  const net = new Network({
    config: () => ({ preVote: false, maxSizePerMsg: 1, plantedBugs: { commitOldTermByCount } }),
  });
  net.addNode(1, storageWith([1, 2], { term: 3 }, [1, 2, 3]));
  net.addNode(2, storageWith([1], { term: 3 }, [1, 2, 3]));
  net.addNode(3, storageWith([1, 3], { term: 3 }, [1, 2, 3]));
  net.deliverAll();
  net.isolate(3);
  let commitAfterOldEntryReplicated = -1;
  net.rn(1).campaign();
  net.deliverAll(1000, (m) => {
    if (m.type === MT.MsgAppResp && m.from === 2 && !m.reject && m.index === 2 && commitAfterOldEntryReplicated < 0) {
      commitAfterOldEntryReplicated = net.rn(1).status().commit;
    }
  });
  assert.equal(net.state(1), ST.Leader);
  return { commitAfterOldEntryReplicated, finalCommit: net.rn(1).status().commit };
}

test('Figure 8: a leader does not commit an entry of an earlier term by counting replicas', () => {
  const ok = figure8(false);
  assert.equal(ok.commitAfterOldEntryReplicated, 1, 'entry 2 (term 2) on a majority, still not committed');
  assert.equal(ok.finalCommit, 3, 'committed only once the term-4 entry after it is on a majority');
  const bug = figure8(true);
  assert.equal(bug.commitAfterOldEntryReplicated, 2, 'planted bug commits the old-term entry by counting');
});

test('a follower truncates a conflicting suffix and takes the leader\'s entries', () => {
  const net = new Network({ config: () => ({ preVote: false }) });
  net.addNode(1, storageWith([1, 3], { term: 3 }, [1, 2, 3]));
  net.addNode(2, storageWith([1, 2, 2, 2], { term: 2 }, [1, 2, 3]));
  net.addNode(3, storageWith([1, 3], { term: 3 }, [1, 2, 3]));
  net.deliverAll();
  net.elect(1);
  net.propose(1, 'x');
  assert.deepEqual(terms(net, 2), [3, 4, 4]); // after the snapshot at 1: 2@3, 3@4, 4@4
  assert.deepEqual(terms(net, 2), terms(net, 1));
  assert.equal(net.node(2).applied.at(-1), 'x');
});

test('fast backtracking: the rejection hint skips a whole divergent term per round trip', () => {
  const long = (n: number, t: number) => Array<number>(n).fill(t);
  const leaderLog = [1, ...long(10, 2), ...long(10, 4)];
  const net = new Network({ config: () => ({ preVote: false }) });
  net.addNode(1, storageWith(leaderLog, { term: 4 }, [1, 2, 3]));
  net.addNode(2, storageWith([1, ...long(100, 3)], { term: 4 }, [1, 2, 3]));
  net.addNode(3, storageWith(leaderLog, { term: 4 }, [1, 2, 3]));
  net.deliverAll();
  net.elect(1);
  const rejections = net.sent.filter((m) => m.type === MT.MsgAppResp && m.from === 2 && m.reject);
  assert.ok(rejections.length <= 2, `took ${rejections.length} rejections, one per divergent term`);
  assert.ok(rejections.every((m) => m.rejectHint > 0 || m.logTerm === 1));
  assert.deepEqual(terms(net, 2), terms(net, 1));
});

test('progress: probe sends one append per round trip, replicate streams up to the inflight window', () => {
  const net = Network.bootstrap([1, 2, 3], { config: () => ({ maxInflightMsgs: 3 }) });
  net.elect(1);
  assert.equal(net.rn(1).status().progress!.get(2)!.state, 'replicate');

  // Acks from 2 are lost: the window of 3 fills and the leader stops sending to it.
  net.dropIf = (m) => m.from === 2 && m.type === MT.MsgAppResp;
  const start = net.sent.length;
  for (let i = 0; i < 10; i++) net.propose(1, `p${i}`);
  const appsTo2 = net.sent.slice(start).filter((m) => m.type === MT.MsgApp && m.to === 2 && m.entries.length > 0);
  assert.equal(appsTo2.length, 3);
  assert.equal(net.rn(1).status().commit, net.rn(1).status().lastIndex, 'node 3 keeps the quorum');

  // Unreachable: back to probe, where one append waits for an answer.
  net.rn(1).reportUnreachable(2);
  assert.equal(net.rn(1).status().progress!.get(2)!.state, 'probe');
  net.isolate(2);
  const probeStart = net.sent.length;
  for (let i = 0; i < 5; i++) net.propose(1, `q${i}`);
  const probes = net.sent.slice(probeStart).filter((m) => m.type === MT.MsgApp && m.to === 2 && m.entries.length > 0);
  assert.equal(probes.length, 1);

  // Heal: a heartbeat round unpauses the probe, the answer moves it to replicate, 2 catches up.
  net.heal();
  net.tick(2, [1]);
  assert.equal(net.rn(1).status().progress!.get(2)!.state, 'replicate');
  assert.deepEqual(net.node(2).applied, net.node(1).applied);
});

test('maxSizePerMsg bounds the entry data of every append', () => {
  const net = Network.bootstrap([1, 2, 3], { config: () => ({ maxSizePerMsg: 100 }) });
  net.elect(1);
  net.isolate(2);
  for (let i = 0; i < 10; i++) net.propose(1, `${i}`.padEnd(40, '.'));
  net.heal();
  const start = net.sent.length;
  net.tick(3, [1]);
  const apps = net.sent.slice(start).filter((m) => m.type === MT.MsgApp && m.to === 2 && m.entries.length > 0);
  assert.ok(apps.length >= 4, 'ten 40-byte entries need at least four 100-byte messages');
  for (const m of apps) assert.ok(m.entries.reduce((n, e) => n + e.data.length, 0) <= 100);
  assert.equal(net.node(2).applied.length, 10);
});

test('uncommitted size limit: proposals beyond it are dropped with ERR_PROPOSAL_DROPPED', () => {
  const net = Network.bootstrap([1, 2, 3], { config: () => ({ maxUncommittedEntriesSize: 100 }) });
  net.elect(1);
  net.isolate(2);
  net.isolate(3);
  const big = enc('x'.repeat(40));
  net.rn(1).propose(big);
  net.rn(1).propose(big);
  assert.throws(() => net.rn(1).propose(big), (e) => isRaftError(e, RaftErrorCode.ProposalDropped));
  net.heal();
  net.tick(2, [1]); // entries commit and are applied: the budget frees up
  net.rn(1).propose(big);
  net.deliverAll();
  assert.equal(net.node(3).applied.length, 3);
});
