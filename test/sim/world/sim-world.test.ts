// A node host's process lives: a crash stops its timers, closes its listeners and loses its
// unsynced files; a restart gets fresh views of the same disk and clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeAll } from '../../../src/storage/fs.ts';
import { PATH_MESSAGES } from '../../../src/transport/headers.ts';
import { SimWorld } from './sim-world.ts';

const TIMEOUTS = { connectTimeoutMs: 100, requestTimeoutMs: 1000, snapshotTimeoutMs: 1000 };
const ok = { bodyBytesMax: () => 100, handle: async () => ({ status: 204, body: new Uint8Array(0) }) };

test('crash(): timers stop, listeners close, unsynced data may go; restart() runs a new process on the same disk', async () => {
  const world = new SimWorld(3);
  const one = world.node('n1', 'http://n1:1', { clockRate: 1.5, clockOffsetMs: 10 });
  const two = world.node('n2', 'http://n2:1');
  const first = one.start();
  two.start();
  await first.network.listen(one.url, ok);
  let ticks = 0;
  first.timers.every(() => ticks++, 15); // every 10 ms of virtual time on a clock 1.5× fast
  await world.scheduler.complete(
    (async () => {
      const fh = await first.fs.open('/synced', 'w');
      await writeAll(fh, Buffer.from('kept'), 0);
      await fh.sync();
    })(),
  );
  await world.scheduler.runUntil(100);
  assert.ok(ticks >= 9 && ticks <= 10, `${ticks}`);
  assert.equal(first.clock.now(), 160);
  one.crash();
  const ticksAtCrash = ticks;
  await world.scheduler.runUntil(200);
  assert.equal(ticks, ticksAtCrash);
  const refused = await world.scheduler.complete(two.running!.network.connect(one.url, TIMEOUTS).request({ method: 'POST', path: PATH_MESSAGES, headers: {}, body: new Uint8Array(0) }));
  assert.equal(refused.status, 0);
  assert.throws(() => two.start(), /a process is running/);

  const second = one.start();
  await second.network.listen(one.url, ok);
  assert.equal(second.clock.now(), 10 + world.scheduler.now * 1.5); // the machine's clock went on
  const names = await world.scheduler.complete(second.fs.readdir('/'));
  assert.ok(names.length <= 1); // the file's name was never synced: kept or lost with the crash
  const answered = await world.scheduler.complete(two.running!.network.connect(one.url, TIMEOUTS).request({ method: 'POST', path: PATH_MESSAGES, headers: {}, body: new Uint8Array(0) }));
  assert.equal(answered.status, 204);
});
