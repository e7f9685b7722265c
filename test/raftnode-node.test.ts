// RaftNode in-process on one node: writes commit and apply; a failing fsync is fatal
// (the node stops with the cause, it never retries).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Chan } from '../src/chan.ts';
import { parseConfig } from '../src/config.ts';
import type { ConfChangeRequest } from '../src/httpapi.ts';
import { KvStore, type Commit, type Proposal } from '../src/kvstore.ts';
import { createLogger } from '../src/logger.ts';
import { RaftNode } from '../src/raftnode.ts';
import { nodeFs, type StorageFs } from '../src/storage/index.ts';
import { freePort, until } from './e2e/cluster.ts';

async function startNode(dir: string, fs: StorageFs) {
  const parsed = parseConfig([
    '--id', '1', '--cluster', `http://127.0.0.1:${await freePort()}`, '--port', String(await freePort()),
    '--data-dir', dir, '--tick-ms', '10', '--log-level', 'silent',
  ]);
  if (parsed.help) throw new Error('unreachable');
  const config = parsed.config;
  const proposeC = new Chan<Proposal>(64);
  const confChangeC = new Chan<ConfChangeRequest>(4);
  const commitC = new Chan<Commit>(16);
  const ref: { kv: KvStore | null } = { kv: null };
  const node = await RaftNode.open({
    config, log: createLogger('silent', 1), proposeC, confChangeC, commitC, storageFs: fs,
    kvSnapshot: () => ref.kv!.snapshot(), kvApplied: () => ref.kv!.applied, kvApplying: () => true,
  });
  const kv = (ref.kv = new KvStore({ nodeId: 1, proposeC, commitC, readIndex: () => node.readIndex(), requestTimeoutMs: 2000 }));
  const applying = kv.run();
  await node.listenPeers();
  node.start();
  const stop = async () => {
    proposeC.close();
    confChangeC.close();
    await node.stop().catch(() => undefined);
    kv.stop();
    commitC.close();
    await applying;
  };
  return { node, kv, stop };
}

test('one node: a write is acknowledged once applied, and read back linearizably', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'raftnode-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { node, kv, stop } = await startNode(dir, nodeFs);
  t.after(stop);
  await until('leadership', async () => (node.status().leader === 1 ? true : undefined));
  await kv.put('/a', Buffer.from('1'));
  assert.equal(Buffer.from((await kv.get('/a', false))!).toString(), '1');
  assert.equal(node.unhealthyReason(), null);
  assert.deepEqual(node.members().map((m) => m.id), [1]);
});

test('a failing fsync stops the node as fatal, with the cause', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'raftnode-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let failSync = false;
  const faulty: StorageFs = {
    ...nodeFs,
    open: async (path, flags) => {
      const fh = await nodeFs.open(path, flags);
      return {
        write: (b, o, l, p) => fh.write(b, o, l, p),
        read: (b, o, l, p) => fh.read(b, o, l, p),
        datasync: () => (failSync ? Promise.reject(new Error('EIO: injected')) : fh.datasync()),
        sync: () => (failSync ? Promise.reject(new Error('EIO: injected')) : fh.sync()),
        truncate: (n) => fh.truncate(n),
        stat: () => fh.stat(),
        close: () => fh.close(),
      };
    },
  };
  const { node, kv, stop } = await startNode(dir, faulty);
  t.after(stop);
  await until('leadership', async () => (node.status().leader === 1 ? true : undefined));
  failSync = true;
  await assert.rejects(kv.put('/a', Buffer.from('1')));
  const reason = await node.finished;
  assert.equal(reason.kind, 'fatal');
  assert.match(reason.kind === 'fatal' ? String(reason.error) : '', /EIO|WAL/);
});
