// Child processes of the benchmark's comparison clusters (etcd, Go raftexample): spawned
// with their output kept as a bounded tail for error messages, SIGKILLed on stop; and the
// CPU a process has used so far and its resident memory, from /proc.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const OUTPUT_TAIL_CHARS = 100_000;

export class BenchProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exit: Promise<void>;
  output = '';
  exited = false;

  constructor(name: string, command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
    this.name = name;
    this.proc = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: string) => {
      this.output = (this.output + chunk).slice(-OUTPUT_TAIL_CHARS);
    };
    this.proc.stdout!.setEncoding('utf8').on('data', keep);
    this.proc.stderr!.setEncoding('utf8').on('data', keep);
    this.exit = new Promise((resolve) => {
      this.proc.on('error', (e) => keep(`spawn failed: ${e.message}\n`));
      this.proc.on('close', () => {
        this.exited = true;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  tail(lines = 20): string {
    return `--- ${this.name}${this.exited ? ` (exited ${this.proc.exitCode ?? this.proc.signalCode})` : ''}\n` + this.output.split('\n').slice(-lines).join('\n');
  }

  async kill(): Promise<void> {
    if (!this.exited) this.proc.kill('SIGKILL');
    await this.exit;
  }
}

/** user+system CPU seconds a process has used so far (Linux /proc); NaN where unavailable. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // The command name in field 2 may hold spaces; the fields after it are space-separated.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return NaN;
  }
}

// USER_HZ: 100 on every Linux Node runs on in practice (sysconf is not reachable from Node).
const clockTicksPerSecond = 100;

export interface ResidentMemory {
  /** Resident set size now (VmRSS), bytes. */
  rssBytes: number;
  /** The largest resident set size so far (VmHWM), bytes. */
  peakRssBytes: number;
}

/** A process's resident memory (Linux /proc/<pid>/status); null where unavailable. */
export function residentMemory(pid: number | undefined): ResidentMemory | null {
  if (pid === undefined) return null;
  try {
    return parseResidentMemory(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return null;
  }
}

/** VmRSS and VmHWM of a /proc/<pid>/status text (in kB there), in bytes; null when either is missing. */
export function parseResidentMemory(status: string): ResidentMemory | null {
  const kB = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    return m === null ? null : Number(m[1]) * 1024;
  };
  const rssBytes = kB('VmRSS');
  const peakRssBytes = kB('VmHWM');
  return rssBytes === null || peakRssBytes === null ? null : { rssBytes, peakRssBytes };
}
