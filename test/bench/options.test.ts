// The benchmark's flags: defaults, --compare, and strict refusals.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchArgs } from '../../bench/options.ts';

test('defaults: ours only, one round, the issue load (64 clients, 128-byte values, 10 s)', () => {
  const o = parseBenchArgs([], {}, '/home/u');
  assert.deepEqual(o.systems, ['ours']);
  assert.equal(o.rounds, 1);
  assert.equal(o.connections, 64);
  assert.equal(o.valueBytes, 128);
  assert.equal(o.seconds, 10);
  assert.equal(o.readSeconds, 5);
  // Past the JIT's warm-up (a node's optimizing compiler still took a tenth of the leader's
  // CPU in the 8 s after a 2 s warm-up), and etcd 3.4's default snapshot interval for both.
  assert.equal(o.warmupSeconds, 10);
  assert.equal(o.snapshotCount, 100_000);
  assert.equal(o.reportPath, 'bench/report.html');
  assert.equal(o.cacheDir, '/home/u/.cache/raftexample-ts-bench');
  assert.equal(o.profileDir, undefined);
  assert.equal(o.client, 'raw');
});

test('--compare runs all three in two interleaved rounds unless told otherwise', () => {
  const o = parseBenchArgs(['--compare'], { XDG_CACHE_HOME: '/c' });
  assert.deepEqual(o.systems, ['ours', 'etcd', 'raftexample']);
  assert.equal(o.rounds, 2);
  assert.equal(o.cacheDir, '/c/raftexample-ts-bench');
  const p = parseBenchArgs(['--compare', '--rounds', '3', '--seconds', '4', '--systems', 'ours,etcd', '--report', '/tmp/r.html', '--profile', '/tmp/p']);
  assert.deepEqual(p.systems, ['ours', 'etcd']);
  assert.equal(p.rounds, 3);
  assert.equal(p.readSeconds, 3);
  assert.equal(p.reportPath, '/tmp/r.html');
  assert.equal(p.profileDir, '/tmp/p');
  const q = parseBenchArgs(['--warmup-seconds', '0', '--snapshot-count', '10000']);
  assert.equal(q.warmupSeconds, 0);
  assert.equal(q.snapshotCount, 10_000);
  assert.equal(parseBenchArgs(['--client', 'undici']).client, 'undici');
});

test('bad numbers, unknown systems and unknown flags are refused with the flag named', () => {
  assert.throws(() => parseBenchArgs(['--seconds', '1.5']), /--seconds must be a whole number from 1 to 3600, not "1.5"/);
  assert.throws(() => parseBenchArgs(['--connections', '0']), /--connections/);
  assert.throws(() => parseBenchArgs(['--connections', '1e3']), /--connections/);
  assert.throws(() => parseBenchArgs(['--rounds', '']), /--rounds/);
  assert.throws(() => parseBenchArgs(['--snapshot-count', '0']), /--snapshot-count must be a whole number from 1/);
  assert.throws(() => parseBenchArgs(['--systems', 'ours,consul']), /unknown system "consul"/);
  assert.throws(() => parseBenchArgs(['--secs', '3']), /Unknown option '--secs'/);
  assert.throws(() => parseBenchArgs(['--client', 'fetch']), /--client must be raw or undici, not "fetch"/);
});
