// The dashboard at /-/ui on a real 3-node cluster in headless Chromium (Debian's chromium,
// driven by playwright-core): the members and the leader with their terms, the commit index
// moving with writes, a killed leader shown unreachable and replaced, a leader transfer
// through the page's confirmation dialog; and no error in the browser's console.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TestCluster, http, until, type TestNode } from './cluster.ts';

const CHROMIUM = '/usr/bin/chromium';

interface MemberRow {
  id: number;
  role: string;
  term: number | null;
  leader: number | null;
  commit: number | null;
}

/**
 * The members as the page shows them: read from the data-* attributes, never from text. (A
 * string, so the page runs it as written: tsx would wrap the test's own functions in helpers
 * the page does not have.)
 */
const ROWS_SCRIPT = `[...document.querySelectorAll('tr.member')].map((tr) => {
  const d = tr.dataset;
  const num = (v) => (v === undefined || v === '' ? null : Number(v));
  return { id: Number(d.memberId), role: d.role ?? '', term: num(d.term), leader: num(d.leader), commit: num(d.commit) };
})`;

async function rowsOf(page: Page): Promise<MemberRow[]> {
  return page.evaluate(ROWS_SCRIPT) as Promise<MemberRow[]>;
}

async function statusOf(node: TestNode): Promise<{ id: number; term: number; leader: number; commit: number; raftState: string }> {
  const r = await http('GET', `${node.url}/-/status`, undefined, 5000);
  assert.equal(r.status, 200, `status of ${node.id}`);
  return JSON.parse(r.body);
}

test('dashboard: members, commits, a leader killed, a transfer from the page', { timeout: 240_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does so under CI=true)`);
  // Free ports at random: the page reaches the members at the clientURLs they publish.
  const cluster = await TestCluster.start(3, { tickMs: 100 });
  let browser: Browser | null = null;
  t.after(async () => {
    await browser?.close();
    await cluster.destroy();
  });
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));

    // Served by a follower, so killing the leader leaves the page's own node up.
    let leaderId = await cluster.waitLeader();
    let served = cluster.nodes.find((n) => n.id !== leaderId)!;
    await page.goto(`${served.url}/-/ui`);

    await t.test('every member and the leader shown with the terms their /-/status gives', async () => {
      await until('the page to agree with every /-/status', async () => {
        const rows = await rowsOf(page);
        const statuses = await Promise.all(cluster.nodes.map(statusOf));
        if (rows.length !== 3) return undefined;
        for (const s of statuses) {
          const row = rows.find((r) => r.id === s.id);
          const role = s.raftState === 'StateLeader' ? 'leader' : 'follower';
          if (row === undefined || row.term !== s.term || row.leader !== s.leader || row.role !== role) return undefined;
        }
        return rows.filter((r) => r.role === 'leader').length === 1 ? true : undefined;
      }, 30_000);
    });

    await t.test('writes move data-commit on every member', async () => {
      const before = Math.max(...(await rowsOf(page)).map((r) => r.commit ?? 0));
      const leader = cluster.node(await cluster.waitLeader());
      for (let i = 0; i < 20; i++) await cluster.putAcked(leader, `/dash-${i}`, `v${i}`);
      await until('every member to show the commit index past the writes', async () => {
        const rows = await rowsOf(page);
        return rows.length === 3 && rows.every((r) => (r.commit ?? 0) >= before + 20) ? true : undefined;
      }, 30_000);
    });

    await t.test('the leader killed: shown unreachable, and a new leader in a later term', async () => {
      leaderId = await cluster.waitLeader();
      if (leaderId === served.id) {
        served = cluster.nodes.find((n) => n.id !== leaderId)!;
        await page.goto(`${served.url}/-/ui`);
      }
      const oldTerm = (await statusOf(cluster.node(leaderId))).term;
      await cluster.kill(cluster.node(leaderId));
      const rows = await until('the dead leader unreachable and a new leader shown', async () => {
        const r = await rowsOf(page);
        const dead = r.find((row) => row.id === leaderId);
        const leaders = r.filter((row) => row.role === 'leader');
        return dead?.role === 'unreachable' && leaders.length === 1 && (leaders[0]!.term ?? 0) > oldTerm ? r : undefined;
      }, 30_000);
      const newLeader = rows.find((r) => r.role === 'leader')!;
      assert.equal((await statusOf(cluster.node(newLeader.id))).raftState, 'StateLeader');
      const seen = await page.textContent(`tr.member[data-member-id="${leaderId}"]`);
      assert.match(seen ?? '', /last seen \d+(\.\d)? s ago/);
      await until('the timeline to say the member stopped answering', async () =>
        (await page.$('#events li[data-kind="reachability"]')) !== null ? true : undefined,
      );
    });

    await t.test('leadership transferred from the page, through the confirmation dialog', async () => {
      const alive = cluster.nodes.filter((n) => n.running);
      const leader = await cluster.waitLeader(30_000, alive);
      const target = alive.find((n) => n.id !== leader)!;
      const button = `tr.member[data-member-id="${target.id}"] button[data-action="transfer"]`;
      // Cancelled: nothing is sent.
      await page.click(button);
      await page.click('#confirm-cancel');
      assert.equal(await page.textContent('#answer'), 'none yet');
      await page.click(button);
      assert.match((await page.textContent('#confirm-text')) ?? '', new RegExp(`member ${target.id}\\?`));
      await page.click('#confirm-ok');
      await until('the answer of the transfer', async () => {
        const answer = (await page.textContent('#answer')) ?? '';
        return answer.includes('→') ? answer : undefined;
      }, 30_000).then((answer) => assert.match(answer, new RegExp(`→ 200 \\{"leader":${target.id}\\}`)));
      await until('the page to show the new leader', async () => {
        const r = await rowsOf(page);
        return r.find((row) => row.id === target.id)?.role === 'leader' ? true : undefined;
      }, 30_000);
      assert.equal((await statusOf(target)).leader, target.id);
    });

    assert.deepEqual(consoleErrors, [], 'the browser console has no errors');
  } catch (e) {
    console.error(cluster.dumpLogs());
    throw e;
  }
});
