// The scheduler runs events in (time, sequence) order and drains microtasks after each;
// per-node clocks skew and drift; timers fire on virtual time; randomness is seeded.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep } from '../../../src/world.ts';
import { Prng } from '../prng.ts';
import { Scheduler, SimClock, SimRandom, SimTimers } from './scheduler.ts';

test('events run in time order, equal times in the order they were scheduled; runUntil(time) advances the clock', async () => {
  const scheduler = new Scheduler();
  const ran: string[] = [];
  scheduler.at(5, () => ran.push('b@5'));
  scheduler.at(1, () => ran.push('a@1'));
  scheduler.at(5, () => ran.push('c@5'));
  const cancelled = scheduler.at(3, () => ran.push('never'));
  cancelled.cancelled = true;
  scheduler.at(9, () => ran.push('d@9'));
  assert.equal(await scheduler.runUntil(6), 'time');
  assert.deepEqual(ran, ['a@1', 'b@5', 'c@5']);
  assert.equal(scheduler.now, 6);
  assert.equal(await scheduler.runUntil(() => ran.length === 4), 'condition');
  assert.equal(scheduler.now, 9);
  assert.equal(await scheduler.runUntil(() => false), 'idle');
});

test('after every event the microtasks it started run to the end before the next event', async () => {
  const scheduler = new Scheduler();
  const ran: string[] = [];
  const chain = async (name: string) => {
    for (let step = 0; step < 3; step++) {
      await Promise.resolve();
      ran.push(`${name}${step}`);
    }
    await new Promise<void>((resolve) => process.nextTick(resolve));
    ran.push(`${name}-end`);
  };
  scheduler.at(1, () => void chain('a'));
  scheduler.at(1, () => void chain('b'));
  await scheduler.runUntil(10);
  assert.deepEqual(ran, ['a0', 'a1', 'a2', 'a-end', 'b0', 'b1', 'b2', 'b-end']);
});

test('complete() runs until the work settles, and says so when it never can', async () => {
  const scheduler = new Scheduler();
  assert.equal(await scheduler.complete(scheduler.sleep(25).then(() => scheduler.now)), 25);
  await assert.rejects(scheduler.complete(new Promise(() => {})), /did not settle \(idle/);
  await assert.rejects(scheduler.complete(scheduler.sleep(1).then(() => Promise.reject(new Error('boom')))), /boom/);
});

test('a node clock is virtual time × rate + offset, stays continuous when its rate changes, and only jumps forward', async () => {
  const scheduler = new Scheduler();
  const clock = new SimClock(scheduler, 2, 1000);
  assert.equal(clock.now(), 1000);
  await scheduler.runUntil(10);
  assert.equal(clock.now(), 1020);
  clock.setRate(0.5);
  assert.equal(clock.now(), 1020);
  await scheduler.runUntil(30);
  assert.equal(clock.now(), 1030);
  clock.jumpForward(70);
  assert.equal(clock.now(), 1100);
  assert.throws(() => clock.jumpForward(-1));
});

test('timers fire on the node clock: timeouts, intervals, clear, and kill() (a crashed process runs nothing)', async () => {
  const scheduler = new Scheduler();
  const fast = new SimTimers(scheduler, new SimClock(scheduler, 2));
  const fired: string[] = [];
  fast.after(() => fired.push(`timeout@${scheduler.now}`), 100); // 100 ms on a clock twice as fast: 50 virtual
  const tick = fast.every(() => fired.push(`tick@${scheduler.now}`), 40);
  const cleared = fast.after(() => fired.push('cleared'), 10);
  fast.clear(cleared);
  fast.clear(cleared); // harmless twice
  await scheduler.runUntil(65);
  assert.deepEqual(fired, ['tick@20', 'tick@40', 'timeout@50', 'tick@60']);
  fast.clear(tick);
  await scheduler.runUntil(200);
  assert.equal(fired.length, 4);

  const doomed = new SimTimers(scheduler, new SimClock(scheduler));
  doomed.every(() => fired.push('doomed'), 5);
  doomed.kill();
  doomed.after(() => fired.push('after kill'), 5);
  await scheduler.runUntil(300);
  assert.equal(fired.length, 4);
  assert.equal(doomed.count, 0);

  const timers = new SimTimers(scheduler, new SimClock(scheduler));
  const before = scheduler.now;
  await scheduler.complete(sleep(timers, 0)); // as in Node, a timeout below 1 ms waits 1 ms
  assert.equal(scheduler.now, before + 1);
});

test('SimRandom is seeded: the same seed the same numbers, within range, also beyond 2^32', () => {
  const draw = (seed: number) => {
    const random = new SimRandom(new Prng(seed));
    return Array.from({ length: 50 }, (_, k) => random.int(k % 2 === 0 ? 10 : 2 ** 48));
  };
  const a = draw(3);
  assert.deepEqual(a, draw(3));
  assert.notDeepEqual(a, draw(4));
  assert.ok(a.every((v, k) => Number.isSafeInteger(v) && v >= 0 && v < (k % 2 === 0 ? 10 : 2 ** 48)));
  assert.ok(a.some((v, k) => k % 2 === 1 && v >= 2 ** 32));
  assert.throws(() => new SimRandom(new Prng(1)).int(0));
});
