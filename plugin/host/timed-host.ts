/**
 * Where a manager's time goes on its memory host: a MemoryHost wrapped so
 * that every call of the engine's per-round and per-window methods (accessed
 * and dirty bits, the dirty log, migrate, the tier map, huge-page units, tier
 * usage) adds its wall time to a per-method tally. The manager shows the
 * tally in its status file (`hostCalls`): on a slow or loaded host it says
 * whether windows stretch because of DAMON, the soft-dirty scans or moving
 * pages. Cost: two Date.now() and a few additions per call (calls are per
 * round, not per page).
 */
import type { MemoryHost } from './memory-host.js';

/** Calls of one method so far, their total and longest wall time (ms). */
export interface CallTally {
  calls: number;
  totalMs: number;
  maxMs: number;
}

export const TIMED_METHODS = ['testAndClearAccessed', 'testAndClearDirty', 'drainDirtyLog', 'migrate', 'readTierMap', 'hugePageUnits', 'tierUsage'] as const;
export type TimedMethod = (typeof TIMED_METHODS)[number];

export interface TimedHost {
  readonly host: MemoryHost;
  /** A copy of the tallies of the methods called at least once. */
  tallies(): Partial<Record<TimedMethod, CallTally>>;
}

/**
 * Wraps `host`; the wrapper behaves as `host` does (same results, same
 * errors: a failed call is timed too). `now` is injectable for tests.
 */
export function timedHost(host: MemoryHost, now: () => number = Date.now): TimedHost {
  const tally = new Map<TimedMethod, CallTally>();
  const timed = new Set<string | symbol>(TIMED_METHODS);
  const record = (method: TimedMethod, start: number) => {
    const ms = now() - start;
    let t = tally.get(method);
    if (!t) tally.set(method, (t = { calls: 0, totalMs: 0, maxMs: 0 }));
    t.calls++;
    t.totalMs += ms;
    if (ms > t.maxMs) t.maxMs = ms;
  };
  const wrapped = new Proxy(host, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const fn = v as (...a: unknown[]) => unknown;
      if (!timed.has(prop)) return fn.bind(target);
      const method = prop as TimedMethod;
      return async (...args: unknown[]) => {
        const start = now();
        try {
          return await fn.apply(target, args);
        } finally {
          record(method, start);
        }
      };
    },
  });
  return {
    host: wrapped,
    tallies: () => Object.fromEntries([...tally].map(([k, t]) => [k, { ...t }])),
  };
}
