// `gateway start` as users run it: every bad flag refused with a clear message (exit status 2
// and one line from the process), --help, and a real gateway process that forwards and stops
// cleanly on SIGTERM and SIGINT with its lifecycle logged.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { test, type TestContext } from 'node:test';
import { ConfigError } from '../../src/config.ts';
import { parseGatewayFlags } from '../../src/gateway/flags.ts';
import { gatewayConnectionsDefault } from '../../src/limits.ts';
import { freePort, nodeMain, REPO_ROOT, until, within } from '../e2e/cluster.ts';

test('the flags have working defaults, and take URLs, addresses and integers as given', () => {
  const defaults = parseGatewayFlags([]);
  assert.ok(!defaults.help);
  assert.deepEqual(defaults.config.endpoints.map((e) => e.url), ['http://127.0.0.1:12380', 'http://127.0.0.1:22380', 'http://127.0.0.1:32380']);
  assert.deepEqual(defaults.config.listen, { host: '127.0.0.1', port: 23790 });
  assert.equal(defaults.config.retryDelayMs, 1000);
  assert.equal(defaults.config.maxConnections, gatewayConnectionsDefault);

  const parsed = parseGatewayFlags([
    '--endpoints', 'https://node-1.example:2379, http://[::1]:12380,http://10.0.0.3',
    '--listen-addr', '[::1]:23790', '--retry-delay-ms', '0', '--max-connections', '7',
  ]);
  assert.ok(!parsed.help);
  assert.deepEqual(parsed.config.endpoints, [
    { url: 'https://node-1.example:2379', host: 'node-1.example', port: 2379 },
    { url: 'http://[::1]:12380', host: '::1', port: 12380 },
    { url: 'http://10.0.0.3', host: '10.0.0.3', port: 80 },
  ]);
  assert.deepEqual(parsed.config.listen, { host: '::1', port: 23790 });
  assert.equal(parsed.config.retryDelayMs, 0);
  assert.equal(parsed.config.maxConnections, 7);
  assert.deepEqual(parseGatewayFlags(['--help']), { help: true });
});

test('every bad flag is refused, saying which and why', () => {
  const cases: [string[], RegExp][] = [
    [['--endpoints', ''], /--endpoints must be a comma-separated list/],
    [['--endpoints', 'http://a:1,,http://b:1'], /--endpoints must be a comma-separated list/],
    [['--endpoints', '127.0.0.1:2379'], /--endpoints: "127.0.0.1:2379" is not a URL of the form/],
    [['--endpoints', 'ftp://a:1'], /is not a URL of the form http:\/\/host:port/],
    [['--endpoints', 'http://a:1/v2'], /is not a URL/],
    [['--endpoints', 'http://user:pw@a:1'], /is not a URL/],
    [['--endpoints', 'http://a:99999'], /is not a URL/],
    [['--endpoints', 'http://a:1?x'], /is not a URL/],
    [['--endpoints', 'http://a:1,http://a:1'], /--endpoints lists http:\/\/a:1 twice/],
    [['--endpoints', Array.from({ length: 1025 }, (_, i) => `http://a:${i + 1}`).join(',')], /at most 1024/],
    [['--listen-addr', '127.0.0.1'], /--listen-addr must be host:port/],
    [['--listen-addr', 'http://127.0.0.1:1'], /--listen-addr must be host:port/],
    [['--listen-addr', '::1:23790'], /--listen-addr must be host:port/],
    [['--listen-addr', '999.0.0.1:23790'], /--listen-addr must be host:port/],
    [['--listen-addr', '127.0.0.1:0'], /port must be between 1 and 65535/],
    [['--listen-addr', '127.0.0.1:65536'], /port must be between 1 and 65535/],
    [['--listen-addr', ' 127.0.0.1:1'], /--listen-addr must be host:port/],
    [['--retry-delay-ms', '1.5'], /--retry-delay-ms must be an integer/],
    [['--retry-delay-ms', '3600001'], /--retry-delay-ms must be between 0 and 3600000/],
    [['--max-connections', '0'], /--max-connections must be between 1 and 65536/],
    [['--max-connections', 'lots'], /--max-connections must be an integer/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['--log-format', 'xml'], /--log-format must be one of/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['stray'], /positional argument/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => parseGatewayFlags(argv), (e: unknown) => e instanceof ConfigError && message.test(e.message), argv.join(' '));
  }
});

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/main.js <args>` to its end. */
function run(args: string[]): Promise<RunResult> {
  const proc = spawn(process.execPath, [...nodeMain(), ...args], { cwd: REPO_ROOT });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('a bad flag, a missing or unknown command: exit status 2 and one line on stderr', async () => {
  const cases: [string[], RegExp][] = [
    [['gateway', 'start', '--endpoints', 'http://127.0.0.1:1/path'], /^raftexample gateway: --endpoints: .* is not a URL/],
    [['gateway', 'start', '--listen-addr', 'nowhere'], /^raftexample gateway: --listen-addr must be host:port/],
    [['gateway'], /^raftexample gateway: a command is missing/],
    [['gateway', 'stop'], /^raftexample gateway: unknown command "stop"/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
  const help = await run(['gateway', 'start', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: node dist\/main.js gateway start/);
  assert.match(help.stdout, /--retry-delay-ms/);
});

/** A gateway process on a free port in front of `endpoints`, SIGKILLed after the test if still running. */
async function spawnGateway(t: TestContext, endpoints: string[]) {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [...nodeMain(), 'gateway', 'start', '--endpoints', endpoints.join(','), '--listen-addr', `127.0.0.1:${port}`, '--retry-delay-ms', '200'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const gateway = { port, proc, log: '', exit: new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code))) };
  proc.stderr.on('data', (d: Buffer) => (gateway.log += d.toString()));
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  await until('the gateway to start', async () => (/"msg":"started"/.test(gateway.log) ? true : undefined), 60_000);
  return gateway;
}

function roundTrip(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    socket.end(data);
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`a gateway process forwards, logs an endpoint going down, and stops cleanly on ${signal}`, async (t) => {
    const echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    t.after(() => echo.close());
    const deadPort = await freePort();
    const echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
    const gateway = await spawnGateway(t, [`http://127.0.0.1:${deadPort}`, echoUrl]);
    assert.equal(await roundTrip(gateway.port, 'hello'), 'hello');
    assert.equal(await roundTrip(gateway.port, 'again'), 'again');
    assert.match(gateway.log, new RegExp(`"endpoint":"http://127.0.0.1:${deadPort}".*"msg":"endpoint down"`));

    gateway.proc.kill(signal);
    assert.equal(await within(gateway.exit, 30_000, 'still running'), 0);
    const messages = gateway.log.trim().split('\n').map((line) => (JSON.parse(line) as { msg: string; self: string }));
    assert.deepEqual(messages.map((m) => m.msg).filter((m) => m !== 'endpoint down'), ['started', 'stopping', 'stopped']);
    assert.ok(messages.every((m) => m.self === 'gateway'));
  });
}
