/**
 * Progress of a sequence of runs (`hmmv sim`: one per policy; `hmmv scenario`:
 * one per case and policy), on stderr.
 *
 * On a terminal (stdout and stderr both TTYs: with stdout piped, e.g. into
 * `less`, a bar redrawn on stderr would scribble over it) a live bar from
 * cli-progress: what runs, percent of all runs, elapsed and remaining time,
 * redrawn at most 10 times a second. Otherwise one line per finished run, so a
 * log or CI output gets a line it can read, not a stream of carriage returns.
 */
import cliProgress from 'cli-progress';

export interface RunProgress {
  /** Run `index` of `total` (1-based), labelled `label`, is `fraction` (0..1) done. */
  update(label: string, index: number, total: number, fraction: number): void;
  /** All runs are over (or failed): ends the bar, reports a run left unfinished. */
  stop(): void;
}

export interface ProgressOptions {
  /** Shown before each line, e.g. `hmmv sim`. */
  title: string;
  quiet?: boolean;
  /** Default: process.stderr, live when it and process.stdout are terminals. */
  stream?: NodeJS.WritableStream;
  live?: boolean;
  /** Milliseconds clock (tests). */
  nowMs?: () => number;
}

const seconds = (ms: number): string => {
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
};

export function isLiveTerminal(): boolean {
  return process.stdout.isTTY === true && process.stderr.isTTY === true;
}

export function createRunProgress(o: ProgressOptions): RunProgress {
  if (o.quiet) return { update: () => {}, stop: () => {} };
  const stream = o.stream ?? process.stderr;
  const now = o.nowMs ?? (() => Date.now());
  const started = now();
  let current: { label: string; index: number; total: number; since: number; fraction: number } | undefined;

  const finishedLine = (c: NonNullable<typeof current>, how: string): string =>
    `[${o.title}] run ${c.index}/${c.total} ${c.label} ${how} in ${seconds(now() - c.since)} (${seconds(now() - started)} elapsed)\n`;

  if (!(o.live ?? isLiveTerminal())) {
    return {
      update(label, index, total, fraction) {
        if (current && (current.index !== index || current.label !== label)) {
          if (current.fraction < 1) stream.write(finishedLine(current, 'ended'));
        }
        if (!current || current.index !== index || current.label !== label) current = { label, index, total, since: now(), fraction: 0 };
        if (fraction >= 1 && current.fraction < 1) stream.write(finishedLine(current, 'done'));
        current.fraction = fraction;
      },
      stop() {
        if (current && current.fraction < 1) stream.write(finishedLine(current, `stopped at ${Math.round(100 * current.fraction)}%`));
        current = undefined;
      },
    };
  }

  // The bar counts permille of all runs; its ETA is cli-progress's, from the rate so far.
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `[${o.title}] {bar} {percentage}% | run {run}/{runs} {label} | {duration_formatted} elapsed, {eta_formatted} left`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
      etaBuffer: 50,
      etaAsynchronousUpdate: true,
      forceRedraw: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let begun = false;
  return {
    update(label, index, total, fraction) {
      const value = Math.round((1000 * (index - 1 + Math.min(1, Math.max(0, fraction)))) / total);
      const payload = { run: index, runs: total, label };
      if (!begun) {
        bar.start(1000, value, payload);
        begun = true;
      } else bar.update(value, payload);
    },
    stop() {
      if (begun) bar.stop();
      begun = false;
    },
  };
}
