import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chan, ChanClosedError } from '../src/chan.ts';

test('values come out in order, and for-await ends after close and drain', async () => {
  const c = new Chan<number>(4);
  await c.send(1);
  await c.send(2);
  c.close();
  const got: number[] = [];
  for await (const v of c) got.push(v);
  assert.deepEqual(got, [1, 2]);
});

test('send waits while full and resumes when a value is taken', async () => {
  const c = new Chan<number>(1);
  await c.send(1);
  assert.equal(c.trySend(2), false);
  let sent = false;
  const p = c.send(2).then(() => (sent = true));
  await Promise.resolve();
  assert.equal(sent, false);
  assert.deepEqual(await c.recv(), { done: false, value: 1 });
  await p;
  assert.equal(sent, true);
  assert.equal(c.tryRecv(), 2);
  assert.equal(c.tryRecv(), undefined);
});

test('a waiting receiver gets the next value directly', async () => {
  const c = new Chan<string>(1);
  const r = c.recv();
  await c.send('x');
  assert.deepEqual(await r, { done: false, value: 'x' });
  assert.equal(c.length, 0);
});

test('close fails pending and later sends and ends waiting receivers', async () => {
  const c = new Chan<number>(1);
  await c.send(1);
  const blocked = c.send(2);
  c.close();
  await assert.rejects(blocked, ChanClosedError);
  await assert.rejects(c.send(3), ChanClosedError);
  assert.throws(() => c.trySend(3), ChanClosedError);
  assert.deepEqual(await c.recv(), { done: false, value: 1 });
  assert.equal((await c.recv()).done, true);

  const d = new Chan<number>(1);
  const waiting = d.recv();
  d.close();
  assert.equal((await waiting).done, true);
});

test('capacity must be a positive integer', () => {
  assert.throws(() => new Chan(0), RangeError);
  assert.throws(() => new Chan(1.5), RangeError);
});
