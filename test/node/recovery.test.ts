import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Membership } from '../../src/node/membership.ts';
import { deriveClusterId } from '../../src/node/recovery.ts';
import { decodeSnapshotData, encodeSnapshotData } from '../../src/node/snapshot-data.ts';

test('snapshot data carries the member URL table, the removed set and the kv state', () => {
  const m = new Membership();
  m.add(1, 'http://127.0.0.1:12379');
  m.add(2, 'http://127.0.0.1:22379');
  m.add(3, 'http://127.0.0.1:32379');
  m.remove(3);
  const kv = new Uint8Array([1, 2, 3, 4]);
  const back = decodeSnapshotData(encodeSnapshotData(m, kv));
  assert.deepEqual(back.membership.list(), [
    { id: 1, peerURL: 'http://127.0.0.1:12379' },
    { id: 2, peerURL: 'http://127.0.0.1:22379' },
  ]);
  assert.deepEqual([...back.membership.removed], [3]);
  assert.deepEqual([...back.kv], [1, 2, 3, 4]);
  assert.throws(() => decodeSnapshotData(new Uint8Array([9])), /version/);
});

test('re-adding a removed member takes it off the removed list', () => {
  const m = new Membership();
  m.remove(4);
  m.add(4, 'http://127.0.0.1:42379');
  assert.equal(m.removed.has(4), false);
});

test('the cluster id depends on the token and the initial URLs', () => {
  const urls = ['http://127.0.0.1:12379', 'http://127.0.0.1:22379'];
  assert.equal(deriveClusterId('t', urls), deriveClusterId('t', [...urls]));
  assert.notEqual(deriveClusterId('t', urls), deriveClusterId('u', urls));
  assert.notEqual(deriveClusterId('t', urls), deriveClusterId('t', [...urls, 'http://127.0.0.1:32379']));
  assert.match(deriveClusterId('t', urls), /^[0-9a-f]{16}$/);
});
