import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, RaftErrorCode, isRaftError, type Entry } from '../../src/raft/index.ts';

const ent = (index: number, term: number, data = ''): Entry => ({
  index,
  term,
  type: 0,
  data: new TextEncoder().encode(data),
});

test('MemoryStorage: append truncates a conflicting suffix', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
  s.append([ent(2, 2)]);
  assert.equal(s.lastIndex(), 2);
  assert.equal(s.term(2), 2);
  assert.throws(() => s.append([ent(5, 2)]), (e) => isRaftError(e, RaftErrorCode.Unavailable));
});

test('MemoryStorage: compact, snapshot and bounds', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1, 'aa'), ent(2, 1, 'bb'), ent(3, 2, 'cc'), ent(4, 2, 'dd')]);
  assert.equal(s.entries(1, 5, 3).length, 1);
  assert.equal(s.entries(1, 5, 4).length, 2);
  assert.equal(s.entries(1, 5, 0).length, 1);
  const snap = s.createSnapshot(3, { voters: [1, 2], learners: [] }, new Uint8Array([7]));
  assert.equal(snap.metadata.term, 2);
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 2);
  assert.throws(() => s.entries(3, 5, 100), (e) => isRaftError(e, RaftErrorCode.Compacted));
  assert.throws(() => s.compact(2), (e) => isRaftError(e, RaftErrorCode.Compacted));
  assert.throws(() => s.compact(9), (e) => isRaftError(e, RaftErrorCode.Unavailable));
  assert.deepEqual(s.initialState().confState, { voters: [1, 2], learners: [] });
  assert.throws(
    () => s.applySnapshot({ metadata: { index: 2, term: 1, confState: { voters: [], learners: [] } }, data: new Uint8Array() }),
    (e) => isRaftError(e, RaftErrorCode.SnapOutOfDate),
  );
  s.applySnapshot({ metadata: { index: 10, term: 3, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  s.append([ent(11, 3)]);
  assert.equal(s.lastIndex(), 11);
});
