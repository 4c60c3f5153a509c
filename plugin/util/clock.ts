/**
 * Time for the engine loop. The real manager runs on the wall clock; the
 * simulated machine runs the same loop on a virtual clock it advances itself,
 * so a simulation is deterministic and faster than real time.
 */
export interface Clock {
  /** Nanoseconds since an arbitrary origin. */
  now(): number;
  /** Resolves after `ns` nanoseconds of this clock (rejects with the signal's reason if aborted). */
  sleep(ns: number, signal?: AbortSignal): Promise<void>;
}

export const wallClock: Clock = {
  now: () => Number(process.hrtime.bigint()),
  sleep: (ns, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ns / 1e6));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
