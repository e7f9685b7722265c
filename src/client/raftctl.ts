// raftctl: the command-line client on the client library, as etcdctl is on clientv3.
// Human output by default, --json for scripts; exit 0 success, 1 failure, 2 bad usage,
// 3 outcome unknown. runRaftctl returns the exit status, so tests can call it in process too.

import { readFileSync } from 'node:fs';
import Table from 'cli-table3';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Client, ClientError, UnknownOutcomeError, parseEndpoints, type ClientTls, type MemberStatus } from './index.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNKNOWN = 3;

/** The Procfile cluster's client URLs (`npm start`). */
export const DEFAULT_ENDPOINTS = 'http://127.0.0.1:12380,http://127.0.0.1:22380,http://127.0.0.1:32380';

export interface Output {
  write(text: string | Uint8Array): void;
}

export interface Io {
  stdout: Output;
  stderr: Output;
}

interface GlobalFlags {
  endpoints: string;
  json: boolean;
  timeoutMs: number;
  cacert?: string;
  cert?: string;
  key?: string;
}

/** A flag or argument problem found after commander's own checks: exit 2. */
class UsageError extends Error {}

/** One command's work; `command` holds its own arguments and options. */
type Action = (client: Client, flags: GlobalFlags, io: Io, command: Command) => Promise<number>;

export async function runRaftctl(argv: readonly string[], io: Io): Promise<number> {
  let status = EXIT_OK;
  const program = buildProgram(io, (action) => async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    status = await runAction(command, io, action);
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE; // commander printed why
    throw err;
  }
  return status;
}

function buildProgram(io: Io, wrap: (action: Action) => (...args: unknown[]) => Promise<void>): Command {
  const program = new Command('raftctl')
    .description('command-line client of raftexample-ts')
    .exitOverride() // set before the subcommands: they inherit it
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .addOption(new Option('--endpoints <urls>', 'comma-separated client URLs').env('RAFTCTL_ENDPOINTS').default(DEFAULT_ENDPOINTS))
    .option('--json', 'print JSON (for scripts) instead of text', false)
    .option('--timeout-ms <ms>', 'time for each request, retries included', positiveInt('--timeout-ms'), 10_000)
    .option('--cacert <file>', 'PEM CA bundle that the servers\' certificates must chain to (https:// endpoints)')
    .option('--cert <file>', 'PEM client certificate, for servers with --client-cert-auth')
    .option('--key <file>', 'PEM key of --cert');

  program.command('put').description('write KEY = VALUE (done once committed and applied)')
    .argument('<key>').argument('<value>')
    .option('--retry-unknown', 'retry when the outcome is unknown (the write may then be applied twice)', false)
    .action(wrap(put));
  program.command('get').description('read KEY (linearizable unless --serializable)')
    .argument('<key>')
    .option('--serializable', 'read the answering member\'s own state (may be stale)', false)
    .action(wrap(get));

  const member = program.command('member').description('list, add, remove or promote members');
  member.command('list').description('list the members').action(wrap(memberList));
  member.command('add').description('add member ID with its peer URL (then start it with --join)')
    .argument('<id>', 'the new member\'s id', memberId).argument('<peer-url>')
    .option('--learner', 'add it as a learner (no vote until promoted)', false)
    .action(wrap(memberAdd));
  member.command('remove').description('remove member ID (it shuts itself down)')
    .argument('<id>', 'the member\'s id', memberId)
    .action(wrap(memberRemove));
  member.command('promote').description('make learner ID a voter (once it has caught up)')
    .argument('<id>', 'the learner\'s id', memberId)
    .action(wrap(memberPromote));

  program.command('transfer-leader').description('move leadership to voter ID')
    .argument('<id>', 'the voter\'s id', memberId)
    .action(wrap(transferLeader));
  program.command('status').description('a table of every member: id, role, term, leader, commit, applied, client URL')
    .action(wrap(status));
  const endpoint = program.command('endpoint').description('endpoint checks');
  endpoint.command('health').description('GET /-/health at every endpoint').action(wrap(endpointHealth));
  return program;
}

async function runAction(command: Command, io: Io, action: Action): Promise<number> {
  const flags = command.optsWithGlobals<GlobalFlags>();
  let client: Client;
  try {
    client = new Client({ endpoints: parseEndpoints(flags.endpoints.split(',')), requestTimeoutMs: flags.timeoutMs, tls: tlsOf(flags) });
  } catch (err) {
    return report(flags, io, err instanceof TypeError || err instanceof UsageError ? new UsageError(err.message) : err);
  }
  try {
    return await action(client, flags, io, command);
  } catch (err) {
    return report(flags, io, err);
  } finally {
    await client.close();
  }
}

function tlsOf(flags: GlobalFlags): ClientTls | undefined {
  if (flags.cacert === undefined && flags.cert === undefined && flags.key === undefined) return undefined;
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new UsageError('--cert and --key go together');
  const read = (flag: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return { ca: read('--cacert', flags.cacert), cert: read('--cert', flags.cert), key: read('--key', flags.key) };
}

/** Prints an error (JSON on stdout with --json, a line on stderr always) and says which exit status it means. */
function report(flags: GlobalFlags, io: Io, err: unknown): number {
  const exit = err instanceof UsageError ? EXIT_USAGE : err instanceof UnknownOutcomeError ? EXIT_UNKNOWN : EXIT_FAILURE;
  const e = err instanceof Error ? err : new Error(String(err));
  if (flags.json) {
    const detail = e instanceof ClientError ? { status: e.status, code: e.code } : {};
    const type = e instanceof UsageError ? 'UsageError' : e.name;
    printJson(io, { error: { type, message: e.message, ...detail } });
  }
  io.stderr.write(`raftctl: ${exit === EXIT_UNKNOWN ? 'outcome unknown: ' : ''}${e.message}\n`);
  return exit;
}

async function put(client: Client, flags: GlobalFlags, io: Io, command: Command): Promise<number> {
  const [key, value] = command.processedArgs as [string, string];
  await client.put(key, value, { retryUnknown: command.opts<{ retryUnknown: boolean }>().retryUnknown });
  if (flags.json) printJson(io, { ok: true, key });
  else io.stdout.write('OK\n');
  return EXIT_OK;
}

async function get(client: Client, flags: GlobalFlags, io: Io, command: Command): Promise<number> {
  const [key] = command.processedArgs as [string];
  const value = await client.get(key, { serializable: command.opts<{ serializable: boolean }>().serializable });
  if (value === null) {
    if (flags.json) printJson(io, { key, found: false });
    io.stderr.write(`raftctl: key not found: ${key}\n`);
    return EXIT_FAILURE;
  }
  if (flags.json) printJson(io, { key, found: true, ...jsonValue(value) });
  else io.stdout.write(Buffer.concat([value, Buffer.from('\n')]));
  return EXIT_OK;
}

async function memberList(client: Client, flags: GlobalFlags, io: Io): Promise<number> {
  const members = await client.members();
  if (flags.json) printJson(io, { members });
  else printTable(io, ['ID', 'ROLE', 'PEER URL', 'CLIENT URL'], members.map((m) => [m.id, m.role, m.peerURL, m.clientURL ?? '']));
  return EXIT_OK;
}

async function memberAdd(client: Client, flags: GlobalFlags, io: Io, command: Command): Promise<number> {
  const [id, peerURL] = command.processedArgs as [number, string];
  const learner = command.opts<{ learner: boolean }>().learner;
  await client.addMember(id, peerURL, { learner });
  const role = learner ? 'learner' : 'voter';
  if (flags.json) printJson(io, { ok: true, id, peerURL, role });
  else io.stdout.write(`Member ${id} added as a ${role}: start it with --join\n`);
  return EXIT_OK;
}

async function memberRemove(client: Client, flags: GlobalFlags, io: Io, command: Command): Promise<number> {
  const [id] = command.processedArgs as [number];
  await client.removeMember(id);
  if (flags.json) printJson(io, { ok: true, id });
  else io.stdout.write(`Member ${id} removed\n`);
  return EXIT_OK;
}

async function memberPromote(client: Client, flags: GlobalFlags, io: Io, command: Command): Promise<number> {
  const [id] = command.processedArgs as [number];
  await client.promoteMember(id);
  if (flags.json) printJson(io, { ok: true, id, role: 'voter' });
  else io.stdout.write(`Member ${id} promoted to voter\n`);
  return EXIT_OK;
}

async function transferLeader(client: Client, flags: GlobalFlags, io: Io, command: Command): Promise<number> {
  const [id] = command.processedArgs as [number];
  const leader = await client.transferLeader(id);
  if (flags.json) printJson(io, { leader });
  else io.stdout.write(`Leader is now member ${leader}\n`);
  return EXIT_OK;
}

async function status(client: Client, flags: GlobalFlags, io: Io): Promise<number> {
  const rows = await client.status();
  if (flags.json) printJson(io, { members: rows.map(statusJson) });
  else printTable(io, ['ID', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'CLIENT URL', 'ERROR'], rows.map(statusRow));
  return rows.every((r) => r.status !== null) ? EXIT_OK : EXIT_FAILURE;
}

async function endpointHealth(client: Client, flags: GlobalFlags, io: Io): Promise<number> {
  const endpoints = await client.health();
  if (flags.json) printJson(io, { endpoints });
  else {
    for (const e of endpoints) {
      io.stdout.write(e.health ? `${e.endpoint} is healthy: took ${e.tookMs} ms\n` : `${e.endpoint} is unhealthy: ${e.reason}\n`);
    }
  }
  return endpoints.every((e) => e.health) ? EXIT_OK : EXIT_FAILURE;
}

/** A member's role as a person reads it: its Raft state for a voter (leader, follower, candidate), else learner. */
function roleOf(row: MemberStatus): string {
  if (row.member.role === 'learner') return 'learner';
  return row.status === null ? 'voter' : row.status.raftState.replace(/^State/, '').toLowerCase();
}

function statusRow(row: MemberStatus): (string | number)[] {
  const s = row.status;
  return [row.member.id, roleOf(row), s?.term ?? '', s?.leader ?? '', s?.commit ?? '', s?.applied ?? '', row.clientURL ?? '', row.error ?? ''];
}

function statusJson(row: MemberStatus): object {
  const s = row.status;
  const fields = s === null ? {} : { term: s.term, leader: s.leader, commit: s.commit, applied: s.applied, raftState: s.raftState };
  return { id: row.member.id, role: roleOf(row), peerURL: row.member.peerURL, clientURL: row.clientURL, ...fields, error: row.error };
}

/** A UTF-8 value as text; anything else as base64, so JSON never mangles bytes. */
function jsonValue(value: Buffer): { value: string } | { valueBase64: string } {
  try {
    return { value: new TextDecoder('utf-8', { fatal: true }).decode(value) };
  } catch {
    return { valueBase64: value.toString('base64') };
  }
}

function printJson(io: Io, value: unknown): void {
  io.stdout.write(JSON.stringify(value) + '\n');
}

function printTable(io: Io, head: string[], rows: (string | number)[][]): void {
  const table = new Table({ head, style: { head: [], border: [] } }); // no colours: output is often piped
  table.push(...rows);
  io.stdout.write(table.toString() + '\n');
}

function memberId(raw: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new InvalidArgumentError('want a positive integer');
  return Number(raw);
}

function positiveInt(flag: string): (raw: string) => number {
  return (raw) => {
    if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new InvalidArgumentError(`${flag} wants a positive integer`);
    return Number(raw);
  };
}
