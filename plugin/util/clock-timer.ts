/**
 * Timers on a Clock: a one-shot `after` and a repeating `every`, cancelled by
 * the returned function. On the wall clock they are setTimeout; on a virtual
 * clock they fire when the clock is advanced past them, so code that waits
 * for a grace period or a backoff is tested without sleeping.
 */
import type { Clock } from './clock.js';

export type CancelTimer = () => void;

/** Runs `fn` once after `ms` milliseconds of `clock`. */
export function after(clock: Clock, ms: number, fn: () => void): CancelTimer {
  const ac = new AbortController();
  clock.sleep(Math.max(0, ms) * 1e6, ac.signal).then(
    () => {
      if (!ac.signal.aborted) fn();
    },
    () => undefined,
  );
  return () => ac.abort();
}

/** Runs `fn` every `ms` milliseconds of `clock` (the next wait starts after `fn` returns). */
export function every(clock: Clock, ms: number, fn: () => void): CancelTimer {
  const ac = new AbortController();
  void (async () => {
    for (;;) {
      try {
        await clock.sleep(Math.max(0, ms) * 1e6, ac.signal);
      } catch {
        return;
      }
      if (ac.signal.aborted) return;
      fn();
    }
  })();
  return () => ac.abort();
}
