// `npm start`'s Procfile runner: goreman's behaviour, where one process exiting leaves the rest.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseProcfile } from '../scripts/procfile.ts';

test('parseProcfile: names and commands, comments and blank lines skipped', () => {
  const text = '# a comment\n\nraftexample1: exec node a.js --id 1\nraftexample2:  exec node a.js --id 2\n';
  assert.deepEqual(parseProcfile(text), [
    { name: 'raftexample1', command: 'exec node a.js --id 1' },
    { name: 'raftexample2', command: 'exec node a.js --id 2' },
  ]);
});

test('parseProcfile: a malformed line, a duplicate name or no process is an error naming the line', () => {
  assert.throws(() => parseProcfile('web node a.js\n'), /line 1: expected "name: command"/);
  assert.throws(() => parseProcfile('a: x\na: y\n'), /line 2: duplicate name a/);
  assert.throws(() => parseProcfile('# only a comment\n'), /no processes/);
});

test('the repository Procfile runs the three raftexample nodes', async () => {
  const { readFile } = await import('node:fs/promises');
  const entries = parseProcfile(await readFile('Procfile', 'utf8'));
  assert.deepEqual(entries.map((e) => e.name), ['raftexample1', 'raftexample2', 'raftexample3']);
  for (const [i, e] of entries.entries()) assert.match(e.command, new RegExp(`--id ${i + 1} .*--port ${i + 1}2380`));
});

test('a process that exits leaves the others running; SIGTERM stops them all and the runner exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'procfile-'));
  const procfile = join(dir, 'Procfile');
  await writeFile(procfile, 'quits: exit 0\nstays: echo pid=$$; exec sleep 60\n');
  const runner = spawn(process.execPath, ['--import', 'tsx', 'scripts/procfile.ts', procfile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  runner.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => runner.on('exit', (code) => r(code)));
  t.after(async () => {
    runner.kill('SIGKILL');
    const pid = /pid=(\d+)/.exec(out)?.[1];
    if (pid !== undefined) try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
    await rm(dir, { recursive: true, force: true });
  });
  const until = async (what: () => boolean, label: string) => {
    for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(what(), `timed out waiting for ${label}; output so far:\n${out}`);
  };
  await until(() => out.includes('quits | exited with status 0') && /pid=\d+/.test(out), 'quits to exit');
  const pid = Number(/pid=(\d+)/.exec(out)![1]);
  assert.doesNotThrow(() => process.kill(pid, 0), 'the other process must still be running');
  assert.doesNotMatch(out, /stays\s*\| exited/);
  runner.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(out, /stays \| exited with signal SIGTERM/);
});
