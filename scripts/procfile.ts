// `npm start`: runs every process of a Procfile the way goreman does. Unlike foreman's `nf`,
// a process that exits (a node removed from the cluster exits 0) leaves the others running;
// SIGINT/SIGTERM are passed to every process, and the runner exits when all have exited.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface ProcfileEntry {
  name: string;
  command: string;
}

const LINE = /^([A-Za-z0-9_-]+):\s*(.+)$/;

/** Parses `name: command` lines; blank lines and `#` comments are skipped, anything else is an error. */
export function parseProcfile(text: string): ProcfileEntry[] {
  const entries: ProcfileEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = LINE.exec(line);
    if (m === null) throw new Error(`Procfile line ${i + 1}: expected "name: command", got ${JSON.stringify(line)}`);
    if (entries.some((e) => e.name === m[1])) throw new Error(`Procfile line ${i + 1}: duplicate name ${m[1]}`);
    entries.push({ name: m[1]!, command: m[2]! });
  });
  if (entries.length === 0) throw new Error('Procfile: no processes');
  return entries;
}

function pipeLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, prefix: string): void {
  let rest = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) to.write(`${prefix}${l}\n`);
  });
  from.on('end', () => {
    if (rest !== '') to.write(`${prefix}${rest}\n`);
  });
}

/** Starts every entry; resolves with 0 if each exited 0 or by the signal we passed on, else 1. */
export function runProcfile(entries: ProcfileEntry[]): Promise<number> {
  const width = Math.max(...entries.map((e) => e.name.length));
  const running = new Map<string, ChildProcess>();
  let stopping = false;
  let failed = false;
  return new Promise((resolve) => {
    const stopAll = (signal: NodeJS.Signals) => {
      stopping = true;
      for (const child of running.values()) child.kill(signal);
    };
    process.on('SIGINT', () => stopAll('SIGINT'));
    process.on('SIGTERM', () => stopAll('SIGTERM'));
    for (const { name, command } of entries) {
      const prefix = `${name.padEnd(width)} | `;
      const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
      running.set(name, child);
      pipeLines(child.stdout!, process.stdout, prefix);
      pipeLines(child.stderr!, process.stderr, prefix);
      child.on('exit', (code, signal) => {
        running.delete(name);
        const how = signal !== null ? `signal ${signal}` : `status ${code}`;
        process.stdout.write(`${prefix}exited with ${how}\n`);
        if (!(code === 0 || (stopping && signal !== null))) failed = true;
        if (running.size === 0) resolve(failed ? 1 : 0);
      });
    }
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = process.argv[2] ?? 'Procfile';
  let entries: ProcfileEntry[];
  try {
    entries = parseProcfile(readFileSync(path, 'utf8'));
  } catch (e) {
    process.stderr.write(`procfile: ${(e as Error).message}\n`);
    process.exit(2);
  }
  process.exitCode = await runProcfile(entries);
}
