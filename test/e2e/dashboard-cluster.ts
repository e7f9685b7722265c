// A TestCluster whose client ports follow raftexample's layout (client port = peer port + 1),
// the convention the dashboard falls back on to reach a member that has not published its
// clientURL through Raft (src/ui/member-url.ts). Cleanup as TestCluster.start's.

import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, TestNode, freePort, type NodeOptions } from './cluster.ts';

export type { TestCluster, TestNode };

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Two free loopback ports, p and p + 1. */
async function adjacentFreePorts(): Promise<[number, number]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const peer = await freePort();
    if (peer < 65535 && (await portIsFree(peer + 1))) return [peer, peer + 1];
  }
  throw new Error('no two adjacent free ports');
}

export async function startWithClientPortAfterPeerPort(n: number, opts: NodeOptions = {}): Promise<TestCluster> {
  const c = new TestCluster(opts);
  c.dir = await mkdtemp(join(tmpdir(), 'raftexample-e2e-'));
  const taken = new Set<number>();
  while (c.nodes.length < n) {
    const [peer, client] = await adjacentFreePorts();
    if (taken.has(peer) || taken.has(client)) continue;
    taken.add(peer).add(client);
    c.nodes.push(new TestNode(c.nodes.length + 1, peer, client));
  }
  for (const node of c.nodes) c.spawn(node, c.clusterArg(n), false);
  try {
    await c.waitLeader();
  } catch (e) {
    console.error(c.dumpLogs());
    await c.destroy();
    throw e;
  }
  return c;
}
