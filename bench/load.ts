// Load benchmark: a 3-node loopback cluster in a temp dir, 64 concurrent clients writing
// 128-byte values to the leader for ~10 s (committed writes/s, p50/p99 latency), then
// linearizable and serializable GETs (reads/s). Kills the cluster at the end.
//
//   npm run bench                  # defaults
//   npm run bench -- --seconds 5 --connections 32

import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TestCluster } from '../test/e2e/cluster.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    'value-bytes': { type: 'string', default: '128' },
    keys: { type: 'string', default: '100000' },
    'tick-ms': { type: 'string', default: '100' },
    // Write a V8 CPU profile of each node's write phase into this directory (reads are skipped).
    profile: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const keys = Number(values.keys);
let n = 0;
const value = Buffer.alloc(Number(values['value-bytes']), 'v');

const profileDir = values.profile;
const cluster = await TestCluster.start(3, {
  tickMs: Number(values['tick-ms']),
  logLevel: 'warn',
  ...(profileDir !== undefined ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}),
});
const stop = () => void cluster.destroy().finally(() => process.exit(130));
process.once('SIGINT', stop);
try {
  const leader = cluster.node(await cluster.waitLeader());
  console.log(`cluster up in ${cluster.dir}; leader is node ${leader.id} (${leader.url})`);

    const cpuBefore = cluster.nodes.map((x) => cpuSeconds(x.proc?.pid));
  const writes = await autocannon({
    url: leader.url,
    connections,
    duration: seconds,
    requests: [{ method: 'PUT', body: value, setupRequest: (req) => ({ ...req, path: `/bench-${n++ % keys}` }) }],
  });
  report('PUT (committed writes)', writes);
  // CPU per committed write is steadier than writes/s on a shared machine.
  const perWrite = cluster.nodes.map((x, i) => {
    const used = cpuSeconds(x.proc?.pid) - cpuBefore[i]!;
    return `node ${x.id}${x.id === leader.id ? ' (leader)' : ''} ${((used * 1e6) / Math.max(1, writes['2xx'])).toFixed(0)} µs`;
  });
  if (cpuBefore.every((c) => c > 0)) console.log(`CPU per committed write: ${perWrite.join(', ')}`);
  if (profileDir !== undefined) {
    // A clean exit (SIGTERM) is what makes node write the profile.
    await Promise.all(cluster.nodes.map((x) => cluster.kill(x, 'SIGTERM')));
    for (const x of cluster.nodes) for (const l of x.log.split('\n')) if (/STATS/.test(l)) console.log(`node ${x.id}: ${l}`);
    console.log(`profiles in ${profileDir} (leader was node ${leader.id}, pid ${leader.proc?.pid})`);
  } else {
    await readPhase(leader);
  }
} finally {
  await cluster.destroy();
}

async function readPhase(leader: (typeof cluster.nodes)[number]): Promise<void> {

  let m = 0;
  const reads = await autocannon({
    url: leader.url,
    connections,
    duration: Math.max(3, Math.round(seconds / 2)),
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/bench-${m++ % Math.min(keys, n)}` }) }],
  });
  report('GET linearizable', reads);

  const follower = cluster.nodes.find((x) => x.id !== leader.id)!;
  const freads = await autocannon({
    url: follower.url,
    connections,
    duration: Math.max(3, Math.round(seconds / 2)),
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/bench-${m++ % Math.min(keys, n)}` }) }],
  });
  report('GET linearizable via a follower', freads);
}

function report(what: string, r: Awaited<ReturnType<typeof autocannon>>): void {
  const ok = r['2xx'];
  console.log(
    `${what}: ${(ok / r.duration).toFixed(0)} ok/s (${ok} ok, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts), ` +
      `latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms`,
  );
}

/** user+system CPU seconds of a process so far (Linux /proc); 0 where unavailable. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
