// The node's inbox holds proposals for the next Ready bounded by count and by bytes: what does
// not fit stays in proposeC (whose own bound then refuses writes with 503), never in memory here.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chan } from '../../src/chan.ts';
import { entryBytesMax, inboxProposalBytesMax, inboxProposalsMax } from '../../src/limits.ts';
import { Inbox } from '../../src/node/inbox.ts';
import { ProposalState, type ConfChangeRequest, type Proposal } from '../../src/queues.ts';

const proposal = (data: Uint8Array): Proposal => ({ data, state: ProposalState.Queued, fail: () => undefined });

/** Let the inbox's consumer loop run until it waits again. */
const settle = () => new Promise((r) => setImmediate(r));

function start(capacity: number) {
  const proposeC = new Chan<Proposal>(capacity);
  const inbox = new Inbox();
  inbox.consume(proposeC, new Chan<ConfChangeRequest>(1));
  return { proposeC, inbox };
}

test('the inbox takes at most inboxProposalsMax proposals; the rest wait in proposeC until a Ready takes them', async () => {
  const { proposeC, inbox } = start(inboxProposalsMax + 100);
  const small = new Uint8Array(8);
  for (let i = 0; i < inboxProposalsMax + 10; i++) assert.ok(proposeC.trySend(proposal(small)));
  await settle();
  assert.equal(inbox.proposals.length, inboxProposalsMax);
  assert.equal(proposeC.length, 10);
  assert.equal(inbox.takeProposals().length, inboxProposalsMax);
  inbox.drainedForNow();
  await settle();
  assert.equal(inbox.proposals.length, 10);
  proposeC.close();
});

test('the inbox stops taking proposals once they reach inboxProposalBytesMax', async () => {
  const { proposeC, inbox } = start(16);
  const large = new Uint8Array(entryBytesMax); // one buffer, weighed once per proposal
  const fit = Math.ceil(inboxProposalBytesMax / entryBytesMax);
  for (let i = 0; i < fit + 2; i++) assert.ok(proposeC.trySend(proposal(large)));
  await settle();
  assert.equal(inbox.proposals.length, fit);
  assert.equal(proposeC.length, 2);
  inbox.takeProposals();
  inbox.drainedForNow();
  await settle();
  assert.equal(inbox.proposals.length, 2);
  proposeC.close();
});
