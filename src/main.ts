// Entry point, once built (`npm run build`): `node dist/main.js --id N --cluster URL,... --port P [--join]`
// (`npx tsx src/main.ts` runs the sources unbuilt, for development).
// Start-up: validate flags → look at the data dir → replay snapshot + WAL → peer
// listener → raft → client listener (and the metrics listener) → publish the client URL
// through Raft (in the background) → "ready". SIGINT/SIGTERM run it backwards: stop
// taking requests, let those in flight finish, stop raft, sync and close the WAL, exit 0.
// `gateway start ...` runs the TCP gateway instead (src/gateway/), before any node flag is parsed.

import { setFlagsFromString } from 'node:v8';
import { ConfigError, EXIT_USAGE, parseConfig, testSwitchesFromEnv, usage, type Config } from './config.ts';
import { runGatewayCommand } from './gateway/command.ts';
import { buildApp } from './httpapi.ts';
import { clientListenBacklog, uiEventsMax } from './limits.ts';
import { createLogger, type Logger } from './logger.ts';
import { ServiceMetrics, listenMetrics } from './metrics.ts';
import type { StopReason } from './node/raft-node.ts';
import { openNodeWithStore } from './node-store.ts';
import { worldWith } from './node/world.ts';
import { readTlsFiles } from './tls-files.ts';
import { createHttpNetwork, type TlsFiles } from './transport/index.ts';
import { ClusterWatch, memberDispatcher } from './ui/cluster-watch.ts';
import { EventRing } from './ui/event-ring.ts';

const EXIT_FATAL = 1;

/**
 * How far V8 lets the old generation grow past what the last full GC left alive. Left to
 * itself V8 picks up to 4× when allocation is fast, as it is under a write load: a leader with
 * 60 MB alive held 150-200 MB of heap, and its resident size rose with it. At 1.5× it does a
 * few more full collections (their marking mostly on a helper thread) and stays near its
 * state. A --heap-growing-percent given to node itself wins.
 */
const HEAP_GROWING_PERCENT = 50;

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'gateway') return runGatewayCommand(argv.slice(1));
  if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  let config: Config;
  let tls: ListenerTls;
  try {
    const parsed = parseConfig(argv);
    if (parsed.help) {
      process.stdout.write(usage());
      return 0;
    }
    config = parsed.config;
    // Certificates are read once, here: a missing or unreadable file is a flag problem.
    tls = {
      peer: config.peerTls === null ? null : readTlsFiles(config.peerTls, 'peer-'),
      client: config.clientTls === null ? null : readTlsFiles(config.clientTls, ''),
    };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`raftexample: ${e.message} (see --help)\n`);
    return EXIT_USAGE;
  }
  const log = createLogger(config.logLevel, config.id, config.logFormat);
  try {
    return await run(config, tls, log);
  } catch (e) {
    log.fatal({ err: e }, 'cannot start');
    return EXIT_FATAL;
  }
}

/** The TLS material of the two listeners (null: plain HTTP). */
interface ListenerTls {
  peer: TlsFiles | null;
  client: TlsFiles | null;
}

async function run(cfg: Config, tls: ListenerTls, log: Logger): Promise<number> {
  log.info({ id: cfg.id, cluster: cfg.peerUrls, port: cfg.port, dataDir: cfg.dataDir, join: cfg.join, pid: process.pid }, 'started');
  const metrics = new ServiceMetrics();
  const events = new EventRing(cfg.id, uiEventsMax);
  const testSwitches = testSwitchesFromEnv();
  const { node, kv, proposeC, confChangeC, commitC } = await openNodeWithStore(
    // Peer TLS is a property of the HTTP network the node is given.
    { metrics, events, config: cfg, log, world: worldWith({ network: createHttpNetwork(tls.peer) }) },
    { testSwitches },
  );
  if (testSwitches.getSkipsReadIndex || testSwitches.ackPutBeforeCommit) log.warn({ testSwitches }, 'test-only switches on: this node breaks its promises');
  metrics.attach({ status: () => node.status(), kv });
  const applying = kv.run();

  await node.listenPeers();
  node.start();
  const peerScheme = tls.peer !== null ? 'https:' : 'http:';
  const readiness = { listenersOpen: false };
  const watch = new ClusterWatch({
    self: { id: cfg.id, status: () => node.status(), members: () => node.members(), metricsText: () => metrics.text().then((t) => t.body) },
    events,
    clientScheme: tls.client !== null ? 'https:' : 'http:',
    dispatcher: memberDispatcher(tls.client),
  });
  const ui = { watch, events };
  const app = buildApp({ kv, node, confChangeC, maxRequestBytes: cfg.maxRequestBytes, peerScheme, tls: tls.client, readiness, metrics, ui });
  await listenClients(app, cfg.port);
  const metricsServer = cfg.listenMetrics === null ? null : await listenMetrics(metrics, cfg.listenMetrics);
  readiness.listenersOpen = true;
  // Clients can reach us now: tell the cluster where (through Raft, once we have a leader).
  node.publishClientUrl();
  log.info({ id: cfg.id, clusterId: node.clusterId, peerUrl: cfg.peerUrls[cfg.id - 1], clientUrl: cfg.advertiseClientUrl, port: cfg.port, dataDir: cfg.dataDir, peerTls: tls.peer !== null, clientTls: tls.client !== null }, 'ready');

  const signalled = new Promise<StopReason>((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'stopping');
      resolve({ kind: 'stopped' });
    };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
  const reason = await Promise.race([signalled, node.finished]);
  if (reason.kind === 'fatal') return fatal(log, reason.error);
  // A fatal error while we wind down still ends with a non-zero status.
  void node.finished.then((r) => {
    if (r.kind === 'fatal') process.exit(fatal(log, r.error));
  });

  // Backwards: clients first. A removed member can commit nothing more, so fail its waiters now.
  if (reason.kind === 'removed') kv.stop();
  await within(app.close(), cfg.requestTimeoutMs + 1000);
  metricsServer?.closeAllConnections();
  metricsServer?.close();
  if (reason.kind === 'stopped') await node.transferLeadership();
  proposeC.close();
  confChangeC.close();
  await node.stop();
  kv.stop();
  commitC.close();
  await applying;
  log.info({ reason: reason.kind }, 'stopped');
  return 0;
}

/** All interfaces, as raftexample does; IPv4 only where the host has no IPv6. */
async function listenClients(app: ReturnType<typeof buildApp>, port: number): Promise<void> {
  try {
    await app.listen({ host: '::', port, backlog: clientListenBacklog });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw e;
    await app.listen({ host: '0.0.0.0', port, backlog: clientListenBacklog });
  }
}

function fatal(log: Logger, err: Error): number {
  log.fatal({ err }, 'fatal error, stopping');
  return EXIT_FATAL;
}

function within(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    void p.finally(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`raftexample: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(EXIT_FATAL);
  },
);
