// Command-line flags: raftexample's four (--id, --cluster, --port, --join) plus the
// knobs a real deployment needs. parseConfig validates everything up front, so a bad
// value stops the process with exit status 2 and one clear line, before any disk or
// network is touched.

import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  clientUrlBytesMax,
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
  /** Leader lease reads (--read-lease on). */
  readLease: boolean;
  maxSnapshots: number;
  maxWals: number;
  clusterToken: string;
  requestTimeoutMs: number;
  maxRequestBytes: number;
  logLevel: LogLevel;
  /** json: one JSON object a line (for machines); pretty: coloured text (for people at a terminal). */
  logFormat: LogFormat;
  /** --peer-*: TLS on the peer listener and to peers (peer URLs are then https://); null: plain HTTP. */
  peerTls: TlsPaths | null;
  /** --cert-file, --key-file, --trusted-ca-file, --client-cert-auth: TLS on the client port; null: plain HTTP. */
  clientTls: TlsPaths | null;
  /** --listen-metrics-url: where a listener of its own serves /metrics; null: only GET /-/metrics on the client port. */
  listenMetrics: { host: string; port: number } | null;
  /** --advertise-client-url in canonical form: where this member tells the cluster it serves clients (published through Raft). */
  advertiseClientUrl: string;
}

/** Where a listener's TLS material is (read at start by readTlsFiles, src/tls-files.ts). */
export interface TlsPaths {
  certFile: string;
  keyFile: string;
  trustedCaFile: string | null;
  clientCertAuth: boolean;
}

/** The scheme every peer URL has: https: exactly when the node runs peer TLS. */
export type PeerScheme = 'http:' | 'https:';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A flag problem: main prints the message on one line and exits with EXIT_USAGE. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const EXIT_USAGE = 2;

export interface FlagSpec {
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
  'read-lease': {
    type: 'string',
    default: 'on',
    help: 'on|off: the leader serves linearizable reads under a lease that a heartbeat round renews (off: a round for every batch of reads); needs the same --tick-ms and --election-ticks on every member',
  },
  'max-snapshots': { type: 'string', default: '5', help: 'snapshot files to keep' },
  'max-wals': { type: 'string', default: '5', help: 'WAL segment files to keep once covered by a snapshot' },
  'cluster-token': { type: 'string', default: 'raftexample-cluster', help: 'initial cluster token: clusters with different tokens never talk' },
  'request-timeout-ms': { type: 'string', default: '5000', help: 'a client request not done by then answers 503' },
  'max-request-bytes': { type: 'string', default: String(requestBytesDefault), help: `largest client request body (at most ${putValueBytesMax})` },
  'log-level': { type: 'string', default: 'info', help: LOG_LEVELS.join('|') },
  'log-format': { type: 'string', default: 'json', help: `${LOG_FORMATS.join('|')}: JSON lines, or text for people` },
  'peer-cert-file': { type: 'string', help: 'PEM certificate for the peer listener and for requests to peers (turns on peer TLS)' },
  'peer-key-file': { type: 'string', help: 'PEM private key of --peer-cert-file' },
  'peer-trusted-ca-file': { type: 'string', help: 'PEM CA bundle that peer certificates must chain to (default: system roots)' },
  'peer-client-cert-auth': { type: 'boolean', help: 'refuse peers without a certificate signed by --peer-trusted-ca-file' },
  'cert-file': { type: 'string', help: 'PEM certificate for the client port (turns on client TLS)' },
  'key-file': { type: 'string', help: 'PEM private key of --cert-file' },
  'trusted-ca-file': { type: 'string', help: 'PEM CA bundle that client certificates must chain to' },
  'client-cert-auth': { type: 'boolean', help: 'refuse clients without a certificate signed by --trusted-ca-file' },
  'listen-metrics-url': { type: 'string', help: 'http://host:port: serve Prometheus metrics at /metrics there too (besides GET /-/metrics)' },
  'advertise-client-url': {
    type: 'string',
    help: 'the URL clients reach this member at, published to the cluster (default http://127.0.0.1:<--port>, https:// with --cert-file)',
  },
  help: { type: 'boolean', help: 'print this help' },
} as const satisfies Record<string, FlagSpec>;

export function usage(): string {
  return flagsUsage(['Usage: node dist/main.js [flags]', '', 'Flags:'], FLAGS, 36);
}

/** A usage text: the head lines, then one line per flag with its help and default. */
export function flagsUsage(head: string[], flags: Record<string, FlagSpec>, nameWidth: number): string {
  const lines = [...head];
  for (const [name, spec] of Object.entries(flags)) {
    const arg = spec.type === 'string' ? ' <value>' : '';
    const def = spec.default !== undefined ? ` (default ${spec.default})` : '';
    lines.push(`  --${name}${arg}`.padEnd(nameWidth) + spec.help + def);
  }
  return lines.join('\n') + '\n';
}

/** --log-level and --log-format, checked (shared by the node and the gateway). */
export function logFlags(str: (name: 'log-level' | 'log-format') => string): { logLevel: LogLevel; logFormat: LogFormat } {
  const logLevel = str('log-level');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}: got ${JSON.stringify(logLevel)}`);
  }
  const logFormat = str('log-format');
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new ConfigError(`--log-format must be one of ${LOG_FORMATS.join(', ')}: got ${JSON.stringify(logFormat)}`);
  }
  return { logLevel: logLevel as LogLevel, logFormat: logFormat as LogFormat };
}

/**
 * Parse argv against `flags` (strict, no positionals; node's first error line as a
 * ConfigError). `str` reads a string flag, or its default.
 */
export function parseFlags<F extends Record<string, FlagSpec>>(argv: readonly string[], flags: F): {
  values: Record<string, string | boolean | undefined>;
  str: (name: keyof F & string) => string;
} {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: flags, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new ConfigError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const str = (name: keyof F & string): string => {
    const v = values[name];
    return typeof v === 'string' ? v : String(flags[name]!.default ?? '');
  };
  return { values, str };
}

export type ParseResult = { help: true } | { help: false; config: Config };

/** Parse and validate argv (without node and script). Throws ConfigError on any bad value. */
export function parseConfig(argv: readonly string[], cwd = process.cwd()): ParseResult {
  const { values, str } = parseFlags(argv, FLAGS);
  if (values.help === true) return { help: true };

  const peerTls = tlsPaths(values, 'peer-');
  const clientTls = tlsPaths(values, '');
  const peerUrls = parseCluster(str('cluster'), peerTls !== null ? 'https:' : 'http:');
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
  const { logLevel, logFormat } = logFlags(str);
  const clusterToken = str('cluster-token');
  if (clusterToken.length === 0) throw new ConfigError('--cluster-token must not be empty');

  const port = int('port', str('port'), 1, 65535);
  const advertiseClientUrl = parseAdvertiseClientUrl(values['advertise-client-url'], port, clientTls !== null ? 'https:' : 'http:');
  const dataDir = resolve(cwd, typeof values['data-dir'] === 'string' ? values['data-dir'] : '.');
  const config: Config = {
    id,
    peerUrls,
    port,
    join: values.join === true,
    dataDir,
    walDir: join(dataDir, `raftexample-${id}`),
    snapDir: join(dataDir, `raftexample-${id}-snap`),
    snapshotCount: int('snapshot-count', str('snapshot-count'), 1, Number.MAX_SAFE_INTEGER),
    snapshotCatchupEntries: int('snapshot-catchup-entries', str('snapshot-catchup-entries'), 0, Number.MAX_SAFE_INTEGER),
    tickMs,
    electionTicks,
    heartbeatTicks,
    readLease: onOff('read-lease', str('read-lease')),
    maxSnapshots: int('max-snapshots', str('max-snapshots'), 1, 1_000_000),
    maxWals: int('max-wals', str('max-wals'), 1, 1_000_000),
    clusterToken,
    requestTimeoutMs: int('request-timeout-ms', str('request-timeout-ms'), 1, requestTimeoutMsMax),
    // A body any larger would make an entry that peers, the WAL or a snapshot could not carry.
    maxRequestBytes: int('max-request-bytes', str('max-request-bytes'), 1, putValueBytesMax),
    logLevel,
    logFormat,
    peerTls,
    clientTls,
    listenMetrics: typeof values['listen-metrics-url'] === 'string' ? parseMetricsUrl(values['listen-metrics-url']) : null,
    advertiseClientUrl,
  };
  const peer = new URL(peerUrls[id - 1]!);
  if (Number(peer.port || (peer.protocol === 'https:' ? 443 : 80)) === config.port && isLoopbackOrAny(peer.hostname)) {
    throw new ConfigError(`--port ${config.port} is also this node's peer port in --cluster`);
  }
  return { help: false, config };
}

/**
 * --advertise-client-url: scheme://host:port as a peer URL is written, in the scheme the client
 * port speaks (a client told http:// could not talk to a TLS port); absent: this host's loopback.
 */
function parseAdvertiseClientUrl(raw: string | boolean | undefined, port: number, scheme: PeerScheme): string {
  if (typeof raw !== 'string') return `${scheme}//127.0.0.1:${port}`;
  const url = parseClientUrl(raw);
  if (url === null) {
    const what = Buffer.byteLength(raw, 'utf8') > clientUrlBytesMax ? `a URL longer than ${clientUrlBytesMax} bytes` : JSON.stringify(raw);
    throw new ConfigError(`--advertise-client-url: ${what} is not a URL of the form ${scheme}//host:port`);
  }
  if (!url.startsWith(`${scheme}//`)) {
    throw new ConfigError(
      scheme === 'https:'
        ? `--advertise-client-url ${url} is plain HTTP, but the client port runs TLS (--cert-file): it must be https://`
        : `--advertise-client-url ${url} is HTTPS, but the client port runs no TLS: give --cert-file and --key-file, or use http://`,
    );
  }
  return url;
}

/** --listen-metrics-url: plain http://host:port, nothing else (no path, query or credentials). */
function parseMetricsUrl(raw: string): { host: string; port: number } {
  const bad = () => new ConfigError(`--listen-metrics-url must be http://host:port: got ${JSON.stringify(raw)}`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad();
  }
  const plain = u.protocol === 'http:' && u.port !== '' && u.username === '' && u.password === '' && u.search === '' && u.hash === '';
  if (!plain || (u.pathname !== '/' && u.pathname !== '') || /\s/.test(raw)) throw bad();
  // URL keeps an IPv6 host in brackets; listen() wants it bare.
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) };
}

/** A decimal integer flag in [min, max]; shared with the gateway's flags. */
export function int(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new ConfigError(`--${flag} must be an integer: got ${JSON.stringify(raw)}`);
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new ConfigError(`--${flag} must be between ${min} and ${max}: got ${raw}`);
  }
  return v;
}

function onOff(flag: string, raw: string): boolean {
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new ConfigError(`--${flag} must be on or off: got ${JSON.stringify(raw)}`);
}

/**
 * One listener's TLS flags (`prefix` 'peer-' or ''), checked as a set: a certificate needs its
 * key and the reverse; a CA or client-cert-auth needs both; client-cert-auth needs the CA it
 * checks against. No flag at all: null (plain HTTP).
 */
function tlsPaths(values: Record<string, string | boolean | undefined>, prefix: 'peer-' | ''): TlsPaths | null {
  const flag = (name: string) => `--${prefix}${name}`;
  const file = (name: string): string | null => {
    const v = values[`${prefix}${name}`];
    if (v === '') throw new ConfigError(`${flag(name)} must not be empty`);
    return typeof v === 'string' ? v : null;
  };
  const certFile = file('cert-file');
  const keyFile = file('key-file');
  const trustedCaFile = file('trusted-ca-file');
  const clientCertAuth = values[`${prefix}client-cert-auth`] === true;
  if (certFile !== null && keyFile === null) throw new ConfigError(`${flag('cert-file')} needs ${flag('key-file')}`);
  if (keyFile !== null && certFile === null) throw new ConfigError(`${flag('key-file')} needs ${flag('cert-file')}`);
  if (certFile === null || keyFile === null) {
    if (trustedCaFile !== null) throw new ConfigError(`${flag('trusted-ca-file')} needs ${flag('cert-file')} and ${flag('key-file')}`);
    if (clientCertAuth) throw new ConfigError(`${flag('client-cert-auth')} needs ${flag('cert-file')} and ${flag('key-file')}`);
    return null;
  }
  if (clientCertAuth && trustedCaFile === null) {
    throw new ConfigError(`${flag('client-cert-auth')} needs ${flag('trusted-ca-file')}: the CA that must sign the other side's certificate`);
  }
  return { certFile, keyFile, trustedCaFile, clientCertAuth };
}

/**
 * Split and check --cluster: every URL scheme://host:port with the node's one peer scheme
 * (https: with peer TLS, http: without), no path, no duplicates.
 */
export function parseCluster(raw: string, scheme: PeerScheme = 'http:'): string[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p.length === 0)) {
    throw new ConfigError(`--cluster must be a comma-separated list of URLs: got ${JSON.stringify(raw)}`);
  }
  const urls = parts.map((p) => {
    const u = parsePeerUrl(p);
    if (u === null) {
      const what = Buffer.byteLength(p, 'utf8') > peerUrlBytesMax ? `a URL longer than ${peerUrlBytesMax} bytes` : JSON.stringify(p);
      throw new ConfigError(`--cluster: ${what} is not a peer URL of the form ${scheme}//host:port`);
    }
    const problem = peerSchemeProblem(u, scheme);
    if (problem !== null) throw new ConfigError(`--cluster: ${problem}`);
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
 * Why the canonical peer URL `url` does not fit a node whose peers speak `scheme`, or null
 * when it does. Shared with POST /<id>.
 */
export function peerSchemeProblem(url: string, scheme: PeerScheme): string | null {
  if (url.startsWith(`${scheme}//`)) return null;
  return scheme === 'https:'
    ? `${url} is plain HTTP, but this node runs peer TLS (--peer-cert-file): peer URLs must be https://`
    : `${url} is HTTPS, but this node runs no peer TLS: give --peer-cert-file and --peer-key-file, or use http://`;
}

/**
 * `http://host:port` or `https://host:port` in canonical form, or null when `s` is not such a
 * URL or is longer than peerUrlBytesMax (before or after canonicalising): every node's member
 * table must be able to carry it. Shared with POST /<id>, which also checks the scheme
 * against the node's (peerSchemeProblem).
 */
export function parsePeerUrl(s: string): string | null {
  return parseServiceUrl(s, peerUrlBytesMax);
}

/** A client URL (--advertise-client-url) as parsePeerUrl reads a peer URL, bounded by clientUrlBytesMax. */
export function parseClientUrl(s: string): string | null {
  return parseServiceUrl(s, clientUrlBytesMax);
}

function parseServiceUrl(s: string, bytesMax: number): string | null {
  if (Buffer.byteLength(s, 'utf8') > bytesMax) return null;
  // WHATWG URL parsing quietly drops control characters and spaces (a leading NUL, a tab
  // inside): a peer URL must be written as it is meant.
  if (/[\s\u0000-\u001f\u007f]/.test(s)) return null;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '' || u.username !== '' || u.password !== '') return null;
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') return null;
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  if (port < 1 || port > 65535) return null;
  const url = `${u.protocol}//${u.host}`;
  return Buffer.byteLength(url, 'utf8') > bytesMax ? null : url;
}

function isLoopbackOrAny(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]' || host === '0.0.0.0' || host === '[::]';
}

/**
 * Test-only switches that break a promise on purpose, so the chaos suite (chaos/) can prove it
 * notices. Read from the environment here and nowhere else; never set in production.
 */
export interface TestSwitches {
  /** RAFTEXAMPLE_TEST_GET_SKIPS_READ_INDEX=1: a linearizable GET answers from local state, as ?serializable does. */
  getSkipsReadIndex: boolean;
  /** RAFTEXAMPLE_TEST_ACK_PUT_BEFORE_COMMIT=1: a PUT answers 204 once proposed, before it commits (raftexample's behaviour). */
  ackPutBeforeCommit: boolean;
}

export function testSwitchesFromEnv(env: NodeJS.ProcessEnv = process.env): TestSwitches {
  return {
    getSkipsReadIndex: env.RAFTEXAMPLE_TEST_GET_SKIPS_READ_INDEX === '1',
    ackPutBeforeCommit: env.RAFTEXAMPLE_TEST_ACK_PUT_BEFORE_COMMIT === '1',
  };
}
