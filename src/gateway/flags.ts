// The flags of `gateway start`, parsed and checked up front as the node's are (src/config.ts):
// a bad value is a ConfigError, which the caller turns into exit status 2 and one line.

import { ConfigError, flagsUsage, int, LOG_FORMATS, LOG_LEVELS, logFlags, parseClientUrl, parseFlags, type FlagSpec, type LogFormat, type LogLevel } from '../config.ts';
import { gatewayConnectionsDefault, gatewayConnectionsMax, gatewayEndpointsMax, gatewayRetryDelayMsMax } from '../limits.ts';

/** Where the gateway forwards to: a member's client URL and the TCP address it stands for. */
export interface GatewayEndpoint {
  /** Canonical `http://host:port` or `https://host:port`: how the endpoint is named in logs. */
  url: string;
  /** Without IPv6 brackets, as net.connect wants it. */
  host: string;
  port: number;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface GatewayConfig {
  endpoints: GatewayEndpoint[];
  listen: ListenAddress;
  retryDelayMs: number;
  maxConnections: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

const FLAGS = {
  endpoints: {
    type: 'string',
    default: 'http://127.0.0.1:12380,http://127.0.0.1:22380,http://127.0.0.1:32380',
    help: 'comma-separated client URLs (http:// or https://, host:port) to forward to',
  },
  'listen-addr': { type: 'string', default: '127.0.0.1:23790', help: 'host:port to accept client connections on' },
  'retry-delay-ms': { type: 'string', default: '1000', help: 'how long an endpoint that refused a connection is skipped' },
  'max-connections': { type: 'string', default: String(gatewayConnectionsDefault), help: 'client connections at once; more are closed at once' },
  'log-level': { type: 'string', default: 'info', help: LOG_LEVELS.join('|') },
  'log-format': { type: 'string', default: 'json', help: `${LOG_FORMATS.join('|')}: JSON lines, or text for people` },
  help: { type: 'boolean', help: 'print this help' },
} as const satisfies Record<string, FlagSpec>;

export function gatewayUsage(): string {
  return flagsUsage(['Usage: node dist/main.js gateway start [flags]', '', 'A stateless TCP proxy to the members\' client ports.', '', 'Flags:'], FLAGS, 30);
}

export type GatewayParseResult = { help: true } | { help: false; config: GatewayConfig };

/** Parse and check the flags after `gateway start`. Throws ConfigError on any bad value. */
export function parseGatewayFlags(argv: readonly string[]): GatewayParseResult {
  const { values, str } = parseFlags(argv, FLAGS);
  if (values.help === true) return { help: true };
  const { logLevel, logFormat } = logFlags(str);
  const config: GatewayConfig = {
    endpoints: parseEndpoints(str('endpoints')),
    listen: parseListenAddress(str('listen-addr')),
    retryDelayMs: int('retry-delay-ms', str('retry-delay-ms'), 0, gatewayRetryDelayMsMax),
    maxConnections: int('max-connections', str('max-connections'), 1, gatewayConnectionsMax),
    logLevel,
    logFormat,
  };
  return { help: false, config };
}

/** --endpoints: client URLs as --advertise-client-url takes them (scheme://host:port, no path, query or credentials), no duplicates. */
export function parseEndpoints(raw: string): GatewayEndpoint[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((p) => p.length === 0)) {
    throw new ConfigError(`--endpoints must be a comma-separated list of URLs: got ${JSON.stringify(raw)}`);
  }
  if (parts.length > gatewayEndpointsMax) throw new ConfigError(`--endpoints lists ${parts.length} URLs: at most ${gatewayEndpointsMax}`);
  const seen = new Set<string>();
  return parts.map((part) => {
    const url = parseClientUrl(part);
    if (url === null) throw new ConfigError(`--endpoints: ${JSON.stringify(part.slice(0, 200))} is not a URL of the form http://host:port or https://host:port`);
    if (seen.has(url)) throw new ConfigError(`--endpoints lists ${url} twice`);
    seen.add(url);
    const u = new URL(url);
    return { url, host: bare(u.hostname), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
  });
}

/**
 * --listen-addr: `host:port`, where host is an IPv4 address, a bracketed IPv6 address or a DNS
 * name, and port 1..65535. Nothing else: no scheme, no path, no spaces.
 */
export function parseListenAddress(raw: string): ListenAddress {
  const bad = () => new ConfigError(`--listen-addr must be host:port (e.g. 127.0.0.1:23790 or [::1]:23790): got ${JSON.stringify(raw.slice(0, 200))}`);
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  if (match === null) throw bad();
  let u: URL;
  try {
    u = new URL(`http://${match[1]}:1`); // a special scheme: IPv4 and IPv6 hosts are checked, not opaque
  } catch {
    throw bad();
  }
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`--listen-addr: port must be between 1 and 65535: got ${match[2]}`);
  return { host: bare(u.hostname), port };
}

/** URL keeps an IPv6 host in brackets; net wants it bare. */
function bare(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1');
}
