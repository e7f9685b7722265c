// `npx tsx scripts/screenshots.ts [outDir]`: the dashboard's screenshots for the README, taken
// from a real 3-node cluster (temp dir, free ports, killed at the end) in headless Chromium:
// healthy under a light write load, during an election (the leader just killed), and with
// that member down. PNGs in docs/ by default.

import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { request } from 'undici';
import { REPO_ROOT, TestCluster, until } from '../test/e2e/cluster.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const VIEWPORT = { width: 1400, height: 1000 };
/** Slow ticks (election timeout 3 s) so the election stays on screen long enough to be caught. */
const TICK_MS = 300;

/** PUTs to whichever member leads, a few at a time, until stopped: traffic for the charts. */
function writeLoad(cluster: TestCluster): () => Promise<void> {
  let stopped = false;
  let n = 0;
  const worker = async () => {
    while (!stopped) {
      for (const node of cluster.nodes.filter((x) => x.running)) {
        if (stopped) break;
        try {
          const res = await request(`${node.url}/shot-${n++ % 500}`, { method: 'PUT', body: 'x'.repeat(64), headersTimeout: 3000, bodyTimeout: 3000 });
          await res.body.dump();
          if (n % 7 === 0) await (await request(`${node.url}/shot-1`, { headersTimeout: 3000, bodyTimeout: 3000 })).body.dump();
        } catch {
          await new Promise((r) => setTimeout(r, 100)); // a member down: try the next one
        }
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return async () => {
    stopped = true;
    await Promise.all(workers);
  };
}

async function roles(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll('tr.member')].map((tr) => tr.dataset.role)`) as Promise<string[]>;
}

async function main(outDir: string): Promise<void> {
  const cluster = await TestCluster.start(3, { tickMs: TICK_MS });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const stopLoad = writeLoad(cluster);
  try {
    const leader = await cluster.waitLeader();
    const served = cluster.nodes.find((n) => n.id !== leader)!;
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(`${served.url}/-/ui`);
    await new Promise((r) => setTimeout(r, 12_000)); // let the charts fill
    await page.screenshot({ path: join(outDir, 'dashboard-healthy.png'), fullPage: true });

    await cluster.kill(cluster.node(leader));
    // Between the kill and the next leader: first the old one unreachable and nobody leading;
    // then, if the page catches it (a campaign is short), a member campaigning.
    const electionShot = join(outDir, 'dashboard-election.png');
    await until('the leader gone', async () => {
      const r = await roles(page);
      return r.includes('unreachable') && !r.includes('leader') ? true : undefined;
    }, 30_000);
    await page.screenshot({ path: electionShot, fullPage: true });
    const campaigning = await until('a member campaigning', async () => {
      const r = await roles(page);
      if (r.includes('leader')) return false; // over: keep the first picture
      return r.includes('candidate') || r.includes('pre-candidate') ? true : undefined;
    }, 30_000);
    if (campaigning) await page.screenshot({ path: electionShot, fullPage: true });

    await until('a new leader', async () => ((await roles(page)).includes('leader') ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 6000));
    await page.screenshot({ path: join(outDir, 'dashboard-member-down.png'), fullPage: true });
    console.log(`screenshots in ${outDir}`);
  } finally {
    await stopLoad();
    await browser.close();
    await cluster.destroy();
  }
}

await main(resolve(process.argv[2] ?? join(REPO_ROOT, 'docs')));
