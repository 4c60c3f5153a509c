/**
 * `hmmv status --watch`: redraws the status every interval, like top. On a
 * terminal it uses the alternate screen (the shell's screen comes back on
 * exit) and redraws in place; otherwise it prints each frame after a line
 * with the time, so a log reads as a series of snapshots.
 */
export interface WatchOptions {
  /** One frame's text (the table and the pool). */
  render(): Promise<string>;
  intervalMs: number;
  /** Stop after this many frames (default: until SIGINT/SIGTERM). */
  count?: number;
  out?: NodeJS.WriteStream;
}

const ALT_SCREEN_ON = '\u001b[?1049h\u001b[?25l';
const ALT_SCREEN_OFF = '\u001b[?25h\u001b[?1049l';
const HOME_CLEAR = '\u001b[H\u001b[2J';

export async function watchStatus(o: WatchOptions): Promise<void> {
  const out = o.out ?? process.stdout;
  const tty = out.isTTY === true;
  let stopped = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (tty) out.write(ALT_SCREEN_ON);
  try {
    for (let frame = 1; !stopped; frame++) {
      const text = await o.render();
      const time = new Date().toLocaleTimeString('en-GB', { hour12: false });
      const head = `hmmv status, every ${(o.intervalMs / 1000).toFixed(1)} s, at ${time}${tty ? ' (Ctrl-C quits)' : ''}`;
      out.write(tty ? `${HOME_CLEAR}${head}\n\n${text}\n` : `== ${head}\n${text}\n\n`);
      if (o.count !== undefined && frame >= o.count) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, o.intervalMs);
        wake = () => (clearTimeout(t), resolve());
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (tty) out.write(ALT_SCREEN_OFF);
  }
}
