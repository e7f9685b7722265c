// `gateway start [flags]`: parse the flags (exit 2 and one line on a bad one), run the gateway
// until SIGINT or SIGTERM, then close it and resolve with the exit status.

import { ConfigError, EXIT_USAGE } from '../config.ts';
import { createLogger } from '../logger.ts';
import { gatewayUsage, parseGatewayFlags, type GatewayConfig } from './flags.ts';
import { Gateway } from './gateway.ts';

/** argv: everything after `gateway`. */
export async function runGatewayCommand(argv: readonly string[]): Promise<number> {
  if (argv[0] !== 'start') {
    const what = argv[0] === undefined ? 'a command is missing' : `unknown command ${JSON.stringify(argv[0])}`;
    process.stderr.write(`raftexample gateway: ${what}: the only one is "gateway start" (see gateway start --help)\n`);
    return EXIT_USAGE;
  }
  let config: GatewayConfig;
  try {
    const parsed = parseGatewayFlags(argv.slice(1));
    if (parsed.help) {
      process.stdout.write(gatewayUsage());
      return 0;
    }
    config = parsed.config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`raftexample gateway: ${e.message} (see gateway start --help)\n`);
    return EXIT_USAGE;
  }
  return serve(config);
}

async function serve(config: GatewayConfig): Promise<number> {
  const log = createLogger(config.logLevel, 'gateway', config.logFormat);
  const gateway = new Gateway({ endpoints: config.endpoints, retryDelayMs: config.retryDelayMs, maxConnections: config.maxConnections, log });
  // Signals are caught from the start: a SIGTERM during listen() still stops cleanly.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  let address;
  try {
    address = await gateway.listen(config.listen);
  } catch (err) {
    log.fatal({ err, listen: config.listen }, 'cannot listen');
    return 1;
  }
  log.info(
    { listen: `${address.address}:${address.port}`, endpoints: config.endpoints.map((e) => e.url), retryDelayMs: config.retryDelayMs, maxConnections: config.maxConnections, pid: process.pid },
    'started',
  );
  const signal = await signalled;
  log.info({ signal, connections: gateway.connectionCount }, 'stopping');
  await gateway.close();
  log.info('stopped');
  return 0;
}
