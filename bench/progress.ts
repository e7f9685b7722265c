// Progress on stderr while the benchmark runs: a bar redrawn in place when stderr is a
// terminal, plain lines (a phase's start and end) when it is a file or a pipe.

export interface ProgressReporter {
  /** A phase of `seconds` begins; the returned callback takes the load generator's progress. */
  phase(label: string, seconds: number): (elapsedMs: number, ok: number) => void;
  /** The phase that began last has ended. */
  done(): void;
  /** A line of its own (a step outside a timed phase). */
  note(text: string): void;
}

const BAR_CELLS = 30;

/** "[#######-----]" for fraction in [0, 1]. */
export function renderBar(fraction: number, cells = BAR_CELLS): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * cells);
  return `[${'#'.repeat(filled)}${'-'.repeat(cells - filled)}]`;
}

export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const tty = stream.isTTY === true;
  let current = '';
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    phase(label, seconds) {
      current = label;
      if (!tty) stream.write(`${label} ...\n`);
      return (elapsedMs, ok) => {
        if (!tty) return;
        const rate = elapsedMs > 0 ? Math.round(ok / (elapsedMs / 1000)) : 0;
        stream.write(`\r\x1b[2K${renderBar(elapsedMs / (seconds * 1000))} ${label} ${(elapsedMs / 1000).toFixed(1)}/${seconds} s ${rate.toLocaleString('en-US')} ok/s`);
        drawn = true;
      };
    },
    done() {
      clear();
      if (!tty) stream.write(`${current} done\n`);
    },
    note(text) {
      clear();
      stream.write(`${text}\n`);
    },
  };
}
