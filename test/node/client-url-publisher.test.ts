// The client URL publisher against a scripted node: it proposes only once the node is ready
// (a ReadIndex round answered, the log applied up to it), not at all when the applied table
// already has its URL, and retries failures one at a time with a bounded, doubling delay.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ServiceError } from '../../src/errors.ts';
import { ClientUrlPublisher, type ClientUrlPublisherOptions } from '../../src/node/client-url-publisher.ts';
import { decodeClientUrlRecord } from '../../src/node/client-url-record.ts';
import { realClock, realTimers } from '../../src/world.ts';

const URL_ADVERTISED = 'http://127.0.0.1:12380';

/** A node as the publisher sees it: what it has applied, and what a proposal does. */
class ScriptedNode {
  applied = 0;
  commit = 5;
  published: string | undefined = undefined;
  readFailures: Error[] = [];
  /** What each proposal does: 'apply' (commits soon), 'drop' (fails at once), 'lose' (never heard of). */
  proposalFates: ('apply' | 'drop' | 'lose')[] = [];
  proposed: Uint8Array[] = [];
  reads = 0;
  logLines: { msg: string; retryInMs?: number }[] = [];

  options(overrides: Partial<ClientUrlPublisherOptions> = {}): ClientUrlPublisherOptions {
    return {
      memberId: 1,
      clientUrl: URL_ADVERTISED,
      readIndex: async () => {
        this.reads++;
        const failure = this.readFailures.shift();
        if (failure !== undefined) throw failure;
        return this.commit;
      },
      applied: () => this.applied,
      published: () => this.published,
      propose: (data, failed) => {
        this.proposed.push(data);
        const fate = this.proposalFates.shift() ?? 'apply';
        if (fate === 'drop') failed(new ServiceError('ERR_NO_LEADER'));
        if (fate === 'apply') setImmediate(() => (this.published = decodeClientUrlRecord(data)!.clientUrl));
      },
      clock: realClock,
      timers: realTimers,
      log: pino({ level: 'info' }, { write: (line: string) => void this.logLines.push(JSON.parse(line)) }),
      attemptTimeoutMs: 10_000,
      retryDelayMsMin: 2,
      retryDelayMsMax: 8,
      pollIntervalMs: 1,
      ...overrides,
    };
  }
}

test('a record that is not in the applied table is proposed once, for this member and URL', async () => {
  const node = new ScriptedNode();
  node.applied = node.commit;
  const publisher = new ClientUrlPublisher(node.options());
  assert.equal(await publisher.run(), 'published');
  assert.equal(node.proposed.length, 1);
  assert.deepEqual(decodeClientUrlRecord(node.proposed[0]!), { memberId: 1, clientUrl: URL_ADVERTISED });
  assert.ok(node.logLines.some((l) => l.msg === 'client URL published'));
});

test('a record that matches the applied table is not proposed again', async () => {
  const node = new ScriptedNode();
  node.applied = node.commit;
  node.published = URL_ADVERTISED;
  assert.equal(await new ClientUrlPublisher(node.options()).run(), 'alreadyPublished');
  assert.equal(node.proposed.length, 0);
});

test('it decides only once the log is applied up to the read index: a restarted node finds its own record there', async () => {
  const node = new ScriptedNode();
  node.applied = 2; // restarted: the record (index 4) is committed but not applied yet
  setTimeout(() => {
    node.published = URL_ADVERTISED;
    node.applied = node.commit;
  }, 20);
  assert.equal(await new ClientUrlPublisher(node.options()).run(), 'alreadyPublished');
  assert.equal(node.proposed.length, 0);
});

test('no leader, a dropped proposal and a lost one are retried one at a time, with a doubling delay up to its bound, and logged', async () => {
  const node = new ScriptedNode();
  node.applied = node.commit;
  node.readFailures = [new ServiceError('ERR_NO_LEADER'), new ServiceError('ERR_READ_TIMEOUT')];
  node.proposalFates = ['drop', 'lose', 'apply'];
  const publisher = new ClientUrlPublisher(node.options({ attemptTimeoutMs: 30 }));
  assert.equal(await publisher.run(), 'published');
  assert.equal(node.reads, 5);
  assert.equal(node.proposed.length, 3);
  const retries = node.logLines.filter((l) => l.msg === 'publishing client URL failed, will retry');
  assert.deepEqual(retries.map((l) => l.retryInMs), [2, 4, 8, 8]);
});

test('stop ends a publisher waiting to retry, and it reads no more', async () => {
  const node = new ScriptedNode();
  node.readFailures = [new ServiceError('ERR_NO_LEADER')];
  const publisher = new ClientUrlPublisher(node.options({ retryDelayMsMin: 60_000, retryDelayMsMax: 60_000 }));
  const running = publisher.run();
  while (node.reads === 0) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 5));
  publisher.stop();
  assert.equal(await running, 'stopped');
  assert.equal(node.reads, 1);
  assert.equal(node.proposed.length, 0);
});
