// TLS with etcd's flags, on real node processes and certificates made by openssl at run
// time: a 3-node cluster with peer mutual TLS and client TLS with client-cert-auth; a node
// whose certificate comes from another CA is refused at the handshake and cannot join; a
// client without a certificate is refused; flags that do not fit together stop the node.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Agent, request } from 'undici';
import { freePort, nodeMain, REPO_ROOT, until, within } from './cluster.ts';
import { makeTestCertificates, type TestCertificates } from '../tls-certs.ts';

interface RunningNode {
  id: number;
  peerPort: number;
  clientPort: number;
  proc: ChildProcess;
  exit: Promise<number | null>;
  log: string;
}

/** Start the built node (`dist/main.js`) with `args`; killed by t.after, its stderr kept in `log`. */
function startNode(t: TestContext, args: string[], ids: { id: number; peerPort: number; clientPort: number }): RunningNode {
  const proc = spawn(process.execPath, [...nodeMain(), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const node: RunningNode = { ...ids, proc, log: '', exit: new Promise((res) => proc.on('exit', (code) => res(code))) };
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (node.log = (node.log + d).slice(-200_000)));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await node.exit;
  });
  return node;
}

/** A TLS client of the client port: trusts the test CA, presents `cert`/`key` when given. */
function tlsClient(t: TestContext, certs: TestCertificates, identity?: { cert: string; key: string }): Agent {
  const agent = new Agent({
    connect: {
      ca: readFileSync(certs.caCert),
      ...(identity ? { cert: readFileSync(identity.cert), key: readFileSync(identity.key) } : {}),
    },
  });
  t.after(() => agent.close());
  return agent;
}

async function https(agent: Agent, method: string, url: string, body?: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { method: method as 'GET', body, dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, body: await res.body.text() };
}

function peerTlsArgs(certs: TestCertificates, cert = certs.nodeCert, key = certs.nodeKey): string[] {
  return ['--peer-cert-file', cert, '--peer-key-file', key, '--peer-trusted-ca-file', certs.caCert, '--peer-client-cert-auth'];
}

function clientTlsArgs(certs: TestCertificates): string[] {
  return ['--cert-file', certs.nodeCert, '--key-file', certs.nodeKey, '--trusted-ca-file', certs.caCert, '--client-cert-auth'];
}

/**
 * A temp dir, removed after the test once every node in `nodes` (filled later) has exited:
 * t.after hooks run in the order they were added, so removing it in a hook of its own ran
 * before startNode's kills, while a node still wrote into it (ENOTEMPTY, seen in npm test).
 */
async function tempDir(t: TestContext, prefix: string, nodes: RunningNode[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(async () => {
    for (const n of nodes) if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exit));
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  return dir;
}

test('a 3-node cluster on peer mutual TLS and client TLS: writes replicate, strangers are refused at the handshake', async (t) => {
  const certs = await makeTestCertificates();
  t.after(() => rm(certs.dir, { recursive: true, force: true }));
  const nodes: RunningNode[] = [];
  const dir = await tempDir(t, 'raftexample-tls-e2e-', nodes);
  const ports: { id: number; peerPort: number; clientPort: number }[] = [];
  for (let id = 1; id <= 4; id++) ports.push({ id, peerPort: await freePort(), clientPort: await freePort() });
  const peerUrl = (i: number) => `https://127.0.0.1:${ports[i - 1]!.peerPort}`;
  const clientUrl = (i: number) => `https://127.0.0.1:${ports[i - 1]!.clientPort}`;
  const common = (i: number) => ['--id', String(i), '--port', String(ports[i - 1]!.clientPort), '--data-dir', dir, '--tick-ms', '50'];
  for (let i = 1; i <= 3; i++) {
    nodes.push(startNode(t, [...common(i), '--cluster', [1, 2, 3].map(peerUrl).join(','), ...peerTlsArgs(certs), ...clientTlsArgs(certs)], ports[i - 1]!));
  }
  try {
    const client = tlsClient(t, certs, { cert: certs.clientCert, key: certs.clientKey });
    await until('a leader all three agree on', async () => {
      const leaders = new Set<number>();
      for (let i = 1; i <= 3; i++) leaders.add(JSON.parse((await https(client, 'GET', `${clientUrl(i)}/-/status`)).body).leader as number);
      return leaders.size === 1 && !leaders.has(0) ? true : undefined;
    }, 30_000);

    // Written on one node, read (linearizably) on the others: it went over the TLS peer links.
    await until('PUT acknowledged', async () => ((await https(client, 'PUT', `${clientUrl(1)}/tls-key`, 'over-tls')).status === 204 ? true : undefined));
    for (const i of [2, 3]) assert.deepEqual(await https(client, 'GET', `${clientUrl(i)}/tls-key`), { status: 200, body: 'over-tls' });

    // --client-cert-auth: no certificate, or one from another CA, fails the handshake.
    await assert.rejects(https(tlsClient(t, certs), 'GET', `${clientUrl(1)}/tls-key`));
    await assert.rejects(https(tlsClient(t, certs, { cert: certs.strangerCert, key: certs.strangerKey }), 'GET', `${clientUrl(1)}/tls-key`));

    // A TLS cluster takes https:// peer URLs only.
    const plain = await https(client, 'POST', `${clientUrl(1)}/4`, `http://127.0.0.1:${ports[3]!.peerPort}`);
    assert.equal(plain.status, 400);
    assert.match(plain.body, /https:\/\/ with peer TLS/);

    // Node 4 is added, then started with a certificate from another CA: every member refuses
    // its handshake, so it never learns the cluster id and stops without a WAL.
    assert.equal((await https(client, 'POST', `${clientUrl(1)}/4`, peerUrl(4))).status, 204);
    const cluster4 = ['--cluster', [1, 2, 3, 4].map(peerUrl).join(','), '--join'];
    const stranger = startNode(t, [...common(4), ...cluster4, ...peerTlsArgs(certs, certs.strangerCert, certs.strangerKey)], ports[3]!);
    nodes.push(stranger);
    const strangerExit = await within(stranger.exit, 30_000, 'still running after 30 s');
    assert.ok(strangerExit !== 0 && strangerExit !== 'still running after 30 s', `the stranger node: ${strangerExit}`);
    assert.match(stranger.log, /no member answered with the cluster id/);

    // The same node with a certificate from the cluster's CA joins and catches up.
    const member = startNode(t, [...common(4), ...cluster4, ...peerTlsArgs(certs), ...clientTlsArgs(certs)], ports[3]!);
    nodes.push(member);
    await until('node 4 serves the key', async () => {
      const r = await https(client, 'GET', `${clientUrl(4)}/tls-key`);
      return r.status === 200 ? r.body : undefined;
    }, 30_000).then((v) => assert.equal(v, 'over-tls'));

    for (const n of nodes) assert.doesNotMatch(n.log, /PRIVATE KEY/, `node ${n.id} logged key material`);
  } catch (e) {
    for (const n of nodes) console.error(`--- node ${n.id}\n${n.log.split('\n').slice(-30).join('\n')}`);
    throw e;
  }
});

test('TLS flags that do not fit together stop the node with exit 2 and one line', async (t) => {
  const certs = await makeTestCertificates();
  t.after(() => rm(certs.dir, { recursive: true, force: true }));
  const nodes: RunningNode[] = [];
  const dir = await tempDir(t, 'raftexample-tls-flags-', nodes);
  const peerPort = await freePort();
  const clientPort = await freePort();
  const ids = { id: 1, peerPort, clientPort };
  const base = ['--id', '1', '--port', String(clientPort), '--data-dir', dir];
  const cases: [args: string[], line: RegExp][] = [
    [[...base, '--cluster', `http://127.0.0.1:${peerPort}`, ...peerTlsArgs(certs)], /is plain HTTP, but this node runs peer TLS/],
    [[...base, '--cluster', `https://127.0.0.1:${peerPort}`], /is HTTPS, but this node runs no peer TLS/],
    [[...base, '--cluster', `https://127.0.0.1:${peerPort}`, '--peer-cert-file', certs.nodeCert], /--peer-cert-file needs --peer-key-file/],
    [[...base, '--cluster', `https://127.0.0.1:${peerPort}`, ...peerTlsArgs(certs, join(certs.dir, 'missing.crt'))], /--peer-cert-file .*missing\.crt: cannot read it \(ENOENT\)/],
    [[...base, '--cluster', `https://127.0.0.1:${peerPort}`, ...peerTlsArgs(certs, certs.nodeCert, certs.clientKey)], /not usable for TLS/],
  ];
  nodes.push(...cases.map(([args]) => startNode(t, args, ids)));
  for (const [i, node] of nodes.entries()) {
    assert.equal(await within(node.exit, 30_000, 'still running after 30 s'), 2, node.log);
    const lines = node.log.trimEnd().split('\n');
    assert.equal(lines.length, 1, node.log);
    assert.match(lines[0]!, cases[i]![1]);
    assert.doesNotMatch(node.log, /PRIVATE KEY|    at /);
  }
});
