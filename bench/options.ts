// The benchmark's flags, parsed strictly: whole numbers in range, known system names.

import { parseArgs } from 'node:util';
import type { GeneratorClient } from './load-generator.ts';
import type { BenchConfig } from './round.ts';
import type { SystemName } from './systems/system.ts';

export interface BenchOptions extends BenchConfig {
  compare: boolean;
  rounds: number;
  systems: SystemName[];
  reportPath: string;
  etcdBinary: string;
  cacheDir: string;
  /** Write V8 CPU profiles of ours' write phase here, and print the leader's top functions. */
  profileDir: string | undefined;
}

export const USAGE = `usage: npm run bench -- [--seconds 10] [--connections 64] [--value-bytes 128] [--compare] [--rounds N]
       [--report bench/report.html] [--warmup-seconds 10] [--read-seconds S] [--check-keys 5000]
       [--snapshot-count 100000]
       [--systems ours,etcd,raftexample] [--etcd /usr/bin/etcd] [--cache-dir DIR] [--profile DIR]
       [--client raw|undici]`;

const ALL_SYSTEMS: SystemName[] = ['ours', 'etcd', 'raftexample'];

export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv = process.env, home = env.HOME ?? '/tmp'): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      seconds: { type: 'string', default: '10' },
      'warmup-seconds': { type: 'string', default: '10' },
      'snapshot-count': { type: 'string', default: '100000' },
      'read-seconds': { type: 'string' },
      connections: { type: 'string', default: '64' },
      'value-bytes': { type: 'string', default: '128' },
      'check-keys': { type: 'string', default: '5000' },
      compare: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      systems: { type: 'string' },
      report: { type: 'string', default: 'bench/report.html' },
      etcd: { type: 'string', default: '/usr/bin/etcd' },
      'cache-dir': { type: 'string' },
      profile: { type: 'string' },
      client: { type: 'string', default: 'raw' },
    },
  });
  const seconds = wholeNumber('seconds', values.seconds, 1, 3600);
  const compare = values.compare;
  const systems = values.systems === undefined ? (compare ? ALL_SYSTEMS : ['ours' as const]) : systemList(values.systems);
  return {
    seconds,
    warmupSeconds: wholeNumber('warmup-seconds', values['warmup-seconds'], 0, 600),
    snapshotCount: wholeNumber('snapshot-count', values['snapshot-count'], 1, 1_000_000_000),
    readSeconds: values['read-seconds'] === undefined ? Math.max(3, Math.round(seconds / 2)) : wholeNumber('read-seconds', values['read-seconds'], 1, 3600),
    connections: wholeNumber('connections', values.connections, 1, 4096),
    valueBytes: wholeNumber('value-bytes', values['value-bytes'], 16, 65536),
    checkKeys: wholeNumber('check-keys', values['check-keys'], 1, 10_000_000),
    compare,
    rounds: values.rounds === undefined ? (systems.length > 1 ? 2 : 1) : wholeNumber('rounds', values.rounds, 1, 100),
    systems,
    reportPath: values.report,
    etcdBinary: values.etcd,
    cacheDir: values['cache-dir'] ?? `${env.XDG_CACHE_HOME ?? `${home}/.cache`}/raftexample-ts-bench`,
    profileDir: values.profile,
    client: generatorClient(values.client),
  };
}

function generatorClient(raw: string): GeneratorClient {
  if (raw !== 'raw' && raw !== 'undici') throw new Error(`--client must be raw or undici, not ${JSON.stringify(raw)}`);
  return raw;
}

function wholeNumber(flag: string, raw: string | undefined, min: number, max: number): number {
  if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new Error(`--${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function systemList(raw: string): SystemName[] {
  const names = raw.split(',').filter((s) => s !== '');
  for (const name of names) if (!ALL_SYSTEMS.includes(name as SystemName)) throw new Error(`--systems: unknown system ${JSON.stringify(name)} (known: ${ALL_SYSTEMS.join(', ')})`);
  if (names.length === 0) throw new Error('--systems: name at least one system');
  return [...new Set(names)] as SystemName[];
}
