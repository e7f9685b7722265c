// Command-line flags: raftexample's four (--id, --cluster, --port, --join) plus the
// knobs a real deployment needs. parseConfig validates everything up front, so a bad
// value stops the process with exit status 2 and one clear line, before any disk or
// network is touched.

import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  electionTimeoutMsMax,
  electionToHeartbeatRatioMin,
  peerUrlBytesMax,
  putValueBytesMax,
  requestBytesDefault,
  requestTimeoutMsMax,
} from './limits.ts';

export interface Config {
  id: number;
  /** Peer URLs in --cluster order, normalised to `http://host:port`; node i is peerUrls[i-1]. */
  peerUrls: string[];
  port: number;
  join: boolean;
  dataDir: string;
  walDir: string;
  snapDir: string;
  snapshotCount: number;
  snapshotCatchupEntries: number;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  maxSnapshots: number;
  maxWals: number;
  clusterToken: string;
  requestTimeoutMs: number;
  maxRequestBytes: number;
  logLevel: LogLevel;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A flag problem: main prints the message on one line and exits with EXIT_USAGE. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const EXIT_USAGE = 2;

interface FlagSpec {
  type: 'string' | 'boolean';
  default?: string;
  help: string;
}

const FLAGS = {
  id: { type: 'string', default: '1', help: 'node id: the position (1-based) of this node in --cluster' },
  cluster: { type: 'string', default: 'http://127.0.0.1:9021', help: 'comma-separated peer URLs of the cluster' },
  port: { type: 'string', default: '9121', help: 'key-value HTTP API port' },
  join: { type: 'boolean', help: 'join an existing cluster (after POST /<id> on a member)' },
  'data-dir': { type: 'string', help: 'where raftexample-<id>/ (WAL) and raftexample-<id>-snap/ live (default: working directory)' },
  'snapshot-count': { type: 'string', default: '10000', help: 'applied entries between snapshots' },
  'snapshot-catchup-entries': { type: 'string', default: '10000', help: 'entries kept after a snapshot for slow followers' },
  'tick-ms': { type: 'string', default: '100', help: 'Raft tick interval in milliseconds' },
  'election-ticks': { type: 'string', default: '10', help: 'election timeout in ticks (at least 5 heartbeats, at most 50 s)' },
  'heartbeat-ticks': { type: 'string', default: '1', help: 'heartbeat interval in ticks' },
  'max-snapshots': { type: 'string', default: '5', help: 'snapshot files to keep' },
  'max-wals': { type: 'string', default: '5', help: 'WAL segment files to keep once covered by a snapshot' },
  'cluster-token': { type: 'string', default: 'raftexample-cluster', help: 'initial cluster token: clusters with different tokens never talk' },
  'request-timeout-ms': { type: 'string', default: '5000', help: 'a client request not done by then answers 503' },
  'max-request-bytes': { type: 'string', default: String(requestBytesDefault), help: `largest client request body (at most ${putValueBytesMax})` },
  'log-level': { type: 'string', default: 'info', help: LOG_LEVELS.join('|') },
  help: { type: 'boolean', help: 'print this help' },
} as const satisfies Record<string, FlagSpec>;

export function usage(): string {
  const lines = ['Usage: npx tsx src/main.ts [flags]', '', 'Flags:'];
  for (const [name, spec] of Object.entries(FLAGS) as [string, FlagSpec][]) {
    const arg = spec.type === 'string' ? ` <value>` : '';
    const def = spec.default !== undefined ? ` (default ${spec.default})` : '';
    lines.push(`  --${name}${arg}`.padEnd(36) + spec.help + def);
  }
  return lines.join('\n') + '\n';
}

export type ParseResult = { help: true } | { help: false; config: Config };

/** Parse and validate argv (without node and script). Throws ConfigError on any bad value. */
export function parseConfig(argv: readonly string[], cwd = process.cwd()): ParseResult {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new ConfigError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values.help === true) return { help: true };
  const str = (name: keyof typeof FLAGS): string => {
    const v = values[name];
    return typeof v === 'string' ? v : String((FLAGS[name] as FlagSpec).default ?? '');
  };

  const peerUrls = parseCluster(str('cluster'));
  const id = int('id', str('id'), 1, Number.MAX_SAFE_INTEGER);
  if (id > peerUrls.length) {
    throw new ConfigError(`--id ${id} is not in --cluster: it lists ${peerUrls.length} URL(s), so --id must be 1..${peerUrls.length}`);
  }
  const tickMs = int('tick-ms', str('tick-ms'), 1, electionTimeoutMsMax);
  const electionTicks = int('election-ticks', str('election-ticks'), 1, 1_000_000);
  const heartbeatTicks = int('heartbeat-ticks', str('heartbeat-ticks'), 1, 1_000_000);
  if (electionTicks < electionToHeartbeatRatioMin * heartbeatTicks) {
    throw new ConfigError(
      `election timeout (${electionTicks} ticks) must be at least ${electionToHeartbeatRatioMin}x the heartbeat (${heartbeatTicks} ticks)`,
    );
  }
  if (electionTicks * tickMs > electionTimeoutMsMax) {
    throw new ConfigError(`election timeout ${electionTicks * tickMs} ms is longer than ${electionTimeoutMsMax} ms`);
  }
  const logLevel = str('log-level');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}: got ${JSON.stringify(logLevel)}`);
  }
  const clusterToken = str('cluster-token');
  if (clusterToken.length === 0) throw new ConfigError('--cluster-token must not be empty');

  const dataDir = resolve(cwd, typeof values['data-dir'] === 'string' ? values['data-dir'] : '.');
  const config: Config = {
    id,
    peerUrls,
    port: int('port', str('port'), 1, 65535),
    join: values.join === true,
    dataDir,
    walDir: join(dataDir, `raftexample-${id}`),
    snapDir: join(dataDir, `raftexample-${id}-snap`),
    snapshotCount: int('snapshot-count', str('snapshot-count'), 1, Number.MAX_SAFE_INTEGER),
    snapshotCatchupEntries: int('snapshot-catchup-entries', str('snapshot-catchup-entries'), 0, Number.MAX_SAFE_INTEGER),
    tickMs,
    electionTicks,
    heartbeatTicks,
    maxSnapshots: int('max-snapshots', str('max-snapshots'), 1, 1_000_000),
    maxWals: int('max-wals', str('max-wals'), 1, 1_000_000),
    clusterToken,
    requestTimeoutMs: int('request-timeout-ms', str('request-timeout-ms'), 1, requestTimeoutMsMax),
    // A body any larger would make an entry that peers, the WAL or a snapshot could not carry.
    maxRequestBytes: int('max-request-bytes', str('max-request-bytes'), 1, putValueBytesMax),
    logLevel: logLevel as LogLevel,
  };
  const peer = new URL(peerUrls[id - 1]!);
  if (Number(peer.port || 80) === config.port && isLoopbackOrAny(peer.hostname)) {
    throw new ConfigError(`--port ${config.port} is also this node's peer port in --cluster`);
  }
  return { help: false, config };
}

function int(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new ConfigError(`--${flag} must be an integer: got ${JSON.stringify(raw)}`);
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new ConfigError(`--${flag} must be between ${min} and ${max}: got ${raw}`);
  }
  return v;
}

/** Split and check --cluster: every URL http://host:port, no path, no duplicates. */
export function parseCluster(raw: string): string[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p.length === 0)) {
    throw new ConfigError(`--cluster must be a comma-separated list of URLs: got ${JSON.stringify(raw)}`);
  }
  const urls = parts.map((p) => {
    const u = parsePeerUrl(p);
    if (u === null) {
      const what = Buffer.byteLength(p, 'utf8') > peerUrlBytesMax ? `a URL longer than ${peerUrlBytesMax} bytes` : JSON.stringify(p);
      throw new ConfigError(`--cluster: ${what} is not a peer URL of the form http://host:port`);
    }
    return u;
  });
  const seen = new Set<string>();
  for (const u of urls) {
    if (seen.has(u)) throw new ConfigError(`--cluster lists ${u} twice`);
    seen.add(u);
  }
  return urls;
}

/**
 * `http://host:port` in canonical form, or null when `s` is not such a URL or is longer than
 * peerUrlBytesMax (before or after canonicalising): every node's member table must be able to
 * carry it. Shared with POST /<id>.
 */
export function parsePeerUrl(s: string): string | null {
  if (Buffer.byteLength(s, 'utf8') > peerUrlBytesMax) return null;
  // WHATWG URL parsing quietly drops control characters and spaces (a leading NUL, a tab
  // inside): a peer URL must be written as it is meant.
  if (/[\s\u0000-\u001f\u007f]/.test(s)) return null;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' || u.hostname === '' || u.username !== '' || u.password !== '') return null;
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') return null;
  const port = Number(u.port || 80);
  if (port < 1 || port > 65535) return null;
  const url = `http://${u.host}`;
  return Buffer.byteLength(url, 'utf8') > peerUrlBytesMax ? null : url;
}

function isLoopbackOrAny(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]' || host === '0.0.0.0' || host === '[::]';
}
