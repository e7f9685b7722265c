// kill -9 a process in the middle of writing, at a random instant, three times over:
// every batch it acknowledged (after its fsync) must come back.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../src/storage/index.ts';
import { withTmp } from './helpers.ts';

const child = fileURLToPath(new URL('./fixtures/wal-writer.ts', import.meta.url));
const opts = { segmentBytes: 4096, maxWals: 1 };

/** Run the writer until it has acknowledged something, let it run a random while longer, kill -9 it. */
function runAndKill(dir: string, extraMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let acked = 0;
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | null = null;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) acked = Number(l.split(' ')[1]);
      timer ??= setTimeout(() => p.kill('SIGKILL'), extraMs);
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`writer exited with ${code}: ${err}`));
    });
  });
}

test('kill -9 at random instants never loses an acknowledged batch', { timeout: 30_000 }, () =>
  withTmp(async (tmp) => {
    const dir = join(tmp, 'raftexample-7');
    let ackedEver = 0;
    for (let round = 0; round < 3; round++) {
      const acked = await runAndKill(dir, 50 + Math.floor(Math.random() * 250));
      assert.ok(acked > ackedEver, `round ${round} made progress`);
      ackedEver = acked;
      const markers = await Wal.snapshotMarkers(dir, opts);
      const at = markers.at(-1) ?? { index: 0, term: 0 };
      const r = await Wal.open(dir, at, opts);
      const last = r.entries.at(-1)?.index ?? at.index;
      assert.ok(last >= acked, `round ${round}: recovered up to ${last}, acknowledged ${acked}`);
      assert.ok(r.hardState.commit >= acked, `commit ${r.hardState.commit} < acknowledged ${acked}`);
      r.entries.forEach((e, i) => {
        assert.equal(e.index, at.index + 1 + i);
        assert.equal(Buffer.from(e.data).toString(), `entry-${e.index}`);
      });
      await r.wal.close();
    }
  }));
