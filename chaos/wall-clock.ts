// Preloaded into every chaos node (node --import): the wall clock (Date.now) runs off by an
// offset the nemesis writes to the file named in RAFTEXAMPLE_CHAOS_CLOCK_FILE, so it can jump
// forwards and backwards while the node runs. Raft's ticks must not care: they are monotonic.

import { readFileSync } from 'node:fs';

const clockFile = process.env.RAFTEXAMPLE_CHAOS_CLOCK_FILE;
if (clockFile !== undefined) {
  const realNow = Date.now.bind(Date);
  let offsetMs = 0;
  const reread = (): void => {
    try {
      const parsed = Number(readFileSync(clockFile, 'utf8').trim());
      if (Number.isFinite(parsed)) offsetMs = parsed;
    } catch {
      offsetMs = 0; // no file yet: no skew
    }
  };
  reread();
  setInterval(reread, 100).unref();
  Date.now = () => realNow() + offsetMs;
}
