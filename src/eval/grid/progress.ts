/**
 * Progress of a grid run: a one-line bar with an ETA redrawn in place on a terminal, plain lines otherwise (logs,
 * pipes, CI). Hand-written: a redrawn line is a dozen lines of code, not worth a dependency.
 * The ETA is (time per cell run so far in this invocation) × (cells left); cells skipped on resume do not count.
 */
export interface GridProgress {
  /** `total` cells in the grid, `done` of them already finished by an earlier run. */
  start(total: number, done: number): void;
  /** A cell finished: `label` says which, `detail` its result in a few words. */
  cell(label: string, detail: string): void;
  /** A message that must stay visible (skipped methods, warnings). */
  note(message: string): void;
  finish(): void;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

interface Stream {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** A progress display on `stream` (default stderr): a bar when it is a terminal, lines otherwise; `quiet` prints nothing. */
export function createProgress(options: { stream?: Stream; quiet?: boolean; tty?: boolean } = {}): GridProgress {
  if (options.quiet) return { start() {}, cell() {}, note() {}, finish() {} };
  const stream: Stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  let total = 0;
  let done = 0;
  let ranHere = 0;
  let t0 = 0;
  let lineShown = false;

  const eta = (): string => (ranHere === 0 ? '?' : formatDuration(((performance.now() - t0) / ranHere) * (total - done)));
  const bar = (label: string): string => {
    const width = 24;
    const frac = total === 0 ? 1 : done / total;
    const filled = Math.round(frac * width);
    const head = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${Math.floor(frac * 100)}%  ${formatDuration(performance.now() - t0)} elapsed, ETA ${eta()}  `;
    const cols = stream.columns ?? 100;
    return (head + label).slice(0, Math.max(10, cols - 1));
  };
  const clear = () => {
    if (tty && lineShown) stream.write('\r\x1b[2K');
    lineShown = false;
  };
  return {
    start(t, d) {
      total = t;
      done = d;
      t0 = performance.now();
      if (tty) {
        stream.write(bar(d > 0 ? `(${d} cells done earlier)` : ''));
        lineShown = true;
      } else stream.write(`grid: ${t} cells${d > 0 ? `, ${d} already done (resuming)` : ''}\n`);
    },
    cell(label, detail) {
      done++;
      ranHere++;
      if (tty) {
        clear();
        stream.write(bar(`${label} ${detail}`));
        lineShown = true;
      } else stream.write(`[${done}/${total}] ${label}: ${detail} (ETA ${eta()})\n`);
    },
    note(message) {
      clear();
      stream.write(`${message}\n`);
      if (tty) {
        stream.write(bar(''));
        lineShown = true;
      }
    },
    finish() {
      clear();
    },
  };
}
