import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseClientUrl, parseConfig, parsePeerUrl, usage } from '../src/config.ts';
import { clientUrlBytesMax } from '../src/limits.ts';
import { readTlsFiles } from '../src/tls-files.ts';
import { makeTestCertificates } from './tls-certs.ts';

function cfg(args: string[]) {
  const r = parseConfig(args, '/data');
  assert.equal(r.help, false);
  if (r.help) throw new Error('unreachable');
  return r.config;
}

test("raftexample's defaults", () => {
  const c = cfg([]);
  assert.equal(c.id, 1);
  assert.deepEqual(c.peerUrls, ['http://127.0.0.1:9021']);
  assert.equal(c.port, 9121);
  assert.equal(c.join, false);
  assert.equal(c.walDir, '/data/raftexample-1');
  assert.equal(c.snapDir, '/data/raftexample-1-snap');
  assert.equal(c.snapshotCount, 10000);
  assert.equal(c.snapshotCatchupEntries, 10000);
  assert.equal(c.tickMs, 100);
  assert.equal(c.electionTicks, 10);
  assert.equal(c.heartbeatTicks, 1);
  assert.equal(c.maxRequestBytes, 1.5 * 1024 * 1024);
});

test('the README walkthrough flags', () => {
  const c = cfg([
    '--id', '4', '--cluster',
    'http://127.0.0.1:12379,http://127.0.0.1:22379,http://127.0.0.1:32379,http://127.0.0.1:42379',
    '--port', '42380', '--join', '--data-dir', 'x', '--tick-ms', '20', '--log-level', 'warn',
  ]);
  assert.equal(c.id, 4);
  assert.equal(c.peerUrls.length, 4);
  assert.equal(c.port, 42380);
  assert.equal(c.join, true);
  assert.equal(c.walDir, '/data/x/raftexample-4');
  assert.equal(c.tickMs, 20);
});

test('--read-lease is on unless turned off', () => {
  const on = parseConfig([]);
  const off = parseConfig(['--read-lease', 'off']);
  assert.ok(!on.help && !off.help);
  assert.equal(on.config.readLease, true);
  assert.equal(off.config.readLease, false);
});

test('--help is reported, and usage lists every flag', () => {
  assert.deepEqual(parseConfig(['--help']), { help: true });
  for (const f of ['--id', '--cluster', '--port', '--join', '--data-dir', '--snapshot-count', '--snapshot-catchup-entries',
    '--tick-ms', '--election-ticks', '--heartbeat-ticks', '--read-lease', '--max-snapshots', '--max-wals', '--cluster-token',
    '--request-timeout-ms', '--max-request-bytes', '--log-level', '--peer-cert-file', '--peer-key-file',
    '--peer-trusted-ca-file', '--peer-client-cert-auth', '--cert-file', '--key-file', '--trusted-ca-file', '--client-cert-auth',
    '--advertise-client-url']) {
    assert.match(usage(), new RegExp(`${f}\\b`));
  }
});

const bad: [string, string[], RegExp][] = [
  ['id outside the cluster list', ['--id', '2'], /--id 2 is not in --cluster/],
  ['id zero', ['--id', '0'], /--id/],
  ['id not a number', ['--id', 'one'], /--id must be an integer/],
  ['URL that does not parse', ['--cluster', 'http://127.0.0.1:1,::nope'], /not a peer URL/],
  ['URL with a path', ['--cluster', 'http://127.0.0.1:1/raft'], /not a peer URL/],
  ['https without peer TLS', ['--cluster', 'https://127.0.0.1:1'], /https:\/\/127.0.0.1:1 is HTTPS, but this node runs no peer TLS/],
  ['http with peer TLS', ['--cluster', 'https://127.0.0.1:1,http://127.0.0.1:2', '--peer-cert-file', 'c', '--peer-key-file', 'k'],
    /--cluster: http:\/\/127.0.0.1:2 is plain HTTP, but this node runs peer TLS/],
  ['peer cert without key', ['--peer-cert-file', 'c'], /--peer-cert-file needs --peer-key-file/],
  ['peer key without cert', ['--peer-key-file', 'k'], /--peer-key-file needs --peer-cert-file/],
  ['peer CA without cert', ['--peer-trusted-ca-file', 'ca'], /--peer-trusted-ca-file needs --peer-cert-file and --peer-key-file/],
  ['peer client-cert-auth without a CA', ['--cluster', 'https://127.0.0.1:1', '--peer-cert-file', 'c', '--peer-key-file', 'k',
    '--peer-client-cert-auth'], /--peer-client-cert-auth needs --peer-trusted-ca-file/],
  ['client cert without key', ['--cert-file', 'c'], /--cert-file needs --key-file/],
  ['client key without cert', ['--key-file', 'k'], /--key-file needs --cert-file/],
  ['client-cert-auth without cert', ['--client-cert-auth'], /--client-cert-auth needs --cert-file and --key-file/],
  ['client-cert-auth without a CA', ['--cert-file', 'c', '--key-file', 'k', '--client-cert-auth'], /--client-cert-auth needs --trusted-ca-file/],
  ['empty cert path', ['--cert-file=', '--key-file', 'k'], /--cert-file must not be empty/],
  ['empty URL in the list', ['--cluster', 'http://127.0.0.1:1,'], /comma-separated/],
  ['duplicate URL', ['--cluster', 'http://127.0.0.1:1,http://127.0.0.1:1'], /twice/],
  ['election shorter than 5 heartbeats', ['--election-ticks', '4'], /at least 5x/],
  ['election shorter than 5 heartbeats (2)', ['--election-ticks', '10', '--heartbeat-ticks', '3'], /at least 5x/],
  ['election longer than 50 s', ['--tick-ms', '1000', '--election-ticks', '51'], /longer than 50000 ms/],
  ['port out of range', ['--port', '70000'], /--port must be between 1 and 65535/],
  ['port zero', ['--port', '0'], /--port/],
  ['negative port', ['--port=-1'], /--port must be an integer/],
  ['unknown flag', ['--bogus'], /Unknown option '--bogus'/],
  ['positional argument', ['extra'], /positional/],
  ['bad log level', ['--log-level', 'loud'], /--log-level/],
  ['zero snapshot count', ['--snapshot-count', '0'], /--snapshot-count/],
  ['read lease neither on nor off', ['--read-lease', 'yes'], /--read-lease must be on or off/],
  ['client port equal to own peer port', ['--cluster', 'http://127.0.0.1:9121'], /also this node's peer port/],
];
for (const [name, args, re] of bad) {
  test(`bad value → ConfigError (exit 2): ${name}`, () => {
    assert.throws(() => parseConfig(args), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  });
}

test('peer URLs are normalised', () => {
  assert.equal(parsePeerUrl('http://127.0.0.1:42379/'), 'http://127.0.0.1:42379');
  assert.equal(parsePeerUrl('http://[::1]:42379'), 'http://[::1]:42379');
  assert.equal(parsePeerUrl('ftp://x:1'), null);
  assert.equal(parsePeerUrl('127.0.0.1:1'), null);
});

test('a peer URL with control characters or spaces in it is refused, though the URL parser would drop them', () => {
  for (const s of ['\u0000http://127.0.0.1:1', 'http://127.0.0.1:1\u0000', 'http://127.0.\t0.1:1', 'http://127.0.0.1 :1', 'http://127.0.0.1:1\n']) {
    assert.equal(parsePeerUrl(s), null, JSON.stringify(s));
  }
  assert.equal(parsePeerUrl('http://127.0.0.1:1'), 'http://127.0.0.1:1');
});

test('https peer URLs are normalised too, and a TLS node keeps them', () => {
  assert.equal(parsePeerUrl('https://127.0.0.1:42379/'), 'https://127.0.0.1:42379');
  assert.equal(parsePeerUrl('https://node-1.example:443'), 'https://node-1.example');
  const c = cfg(['--cluster', 'https://127.0.0.1:12379,https://127.0.0.1:22379', '--peer-cert-file', 'p.crt', '--peer-key-file', 'p.key',
    '--peer-trusted-ca-file', 'ca.crt', '--peer-client-cert-auth', '--cert-file', 'c.crt', '--key-file', 'c.key']);
  assert.deepEqual(c.peerUrls, ['https://127.0.0.1:12379', 'https://127.0.0.1:22379']);
  assert.deepEqual(c.peerTls, { certFile: 'p.crt', keyFile: 'p.key', trustedCaFile: 'ca.crt', clientCertAuth: true });
  assert.deepEqual(c.clientTls, { certFile: 'c.crt', keyFile: 'c.key', trustedCaFile: null, clientCertAuth: false });
  assert.equal(cfg([]).peerTls, null);
  assert.equal(cfg([]).clientTls, null);
});

test('TLS files are read at start: a missing, non-PEM or mismatched file is one line naming the flag, never the key', async (t) => {
  const certs = await makeTestCertificates();
  t.after(() => rm(certs.dir, { recursive: true, force: true }));
  const files = readTlsFiles({ certFile: certs.nodeCert, keyFile: certs.nodeKey, trustedCaFile: certs.caCert, clientCertAuth: true }, 'peer-');
  assert.match(files.cert.toString(), /BEGIN CERTIFICATE/);
  assert.equal(files.clientCertAuth, true);
  const dir = await mkdtemp(join(tmpdir(), 'raftexample-tlsfiles-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'garbage.pem'), 'not a certificate');
  const cases: [paths: Parameters<typeof readTlsFiles>[0], re: RegExp][] = [
    [{ certFile: join(dir, 'none.crt'), keyFile: certs.nodeKey, trustedCaFile: null, clientCertAuth: false }, /^--cert-file .*none\.crt: cannot read it \(ENOENT\)$/],
    [{ certFile: certs.nodeCert, keyFile: dir, trustedCaFile: null, clientCertAuth: false }, /^--key-file .*: cannot read it \(EISDIR\)$/],
    [{ certFile: certs.nodeCert, keyFile: certs.nodeKey, trustedCaFile: join(dir, 'garbage.pem'), clientCertAuth: false }, /^--trusted-ca-file .*garbage\.pem: not a PEM file$/],
    [{ certFile: certs.nodeCert, keyFile: certs.clientKey, trustedCaFile: null, clientCertAuth: false }, /^--cert-file, --key-file, --trusted-ca-file: not usable for TLS \(.*\)$/],
  ];
  for (const [paths, re] of cases) {
    assert.throws(() => readTlsFiles(paths, ''), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n') && !e.message.includes('PRIVATE KEY'), e.message);
      return true;
    });
  }
});

test('--advertise-client-url: by default this host on --port, https:// with client TLS; canonical when given', () => {
  assert.equal(cfg(['--port', '12380']).advertiseClientUrl, 'http://127.0.0.1:12380');
  assert.equal(cfg(['--port', '12380', '--cert-file', 'c.crt', '--key-file', 'c.key']).advertiseClientUrl, 'https://127.0.0.1:12380');
  assert.equal(cfg(['--advertise-client-url', 'http://node-1.example:12380/']).advertiseClientUrl, 'http://node-1.example:12380');
  assert.equal(cfg(['--advertise-client-url', 'http://[::1]:80']).advertiseClientUrl, 'http://[::1]');
  const tls = ['--cert-file', 'c.crt', '--key-file', 'c.key'];
  assert.equal(cfg([...tls, '--advertise-client-url', 'https://node-1.example:2379']).advertiseClientUrl, 'https://node-1.example:2379');
});

test('--advertise-client-url must be a scheme://host:port URL in the client port scheme, and not over its bound', () => {
  const refused: [string[], RegExp][] = [
    [['--advertise-client-url', 'node-1:12380'], /--advertise-client-url: "node-1:12380" is not a URL of the form http:\/\/host:port/],
    [['--advertise-client-url', 'ftp://node-1:12380'], /is not a URL/],
    [['--advertise-client-url', 'http://node-1:12380/kv'], /is not a URL/],
    [['--advertise-client-url', 'http://user@node-1:12380'], /is not a URL/],
    [['--advertise-client-url', 'http://node-1:12380?x=1'], /is not a URL/],
    [['--advertise-client-url', 'http://node-1 :12380'], /is not a URL/],
    [['--advertise-client-url', ''], /is not a URL/],
    [['--advertise-client-url', `http://${'h'.repeat(clientUrlBytesMax)}:1`], new RegExp(`a URL longer than ${clientUrlBytesMax} bytes`)],
    [['--advertise-client-url', 'https://node-1:12380'], /is HTTPS, but the client port runs no TLS/],
    [['--cert-file', 'c.crt', '--key-file', 'c.key', '--advertise-client-url', 'http://node-1:12380'], /is plain HTTP, but the client port runs TLS/],
  ];
  for (const [args, message] of refused) assert.throws(() => cfg(args), (e: unknown) => e instanceof ConfigError && message.test(e.message), args.join(' '));
  assert.equal(parseClientUrl(`http://${'h'.repeat(clientUrlBytesMax - 'http://'.length)}`)?.length, clientUrlBytesMax);
});
