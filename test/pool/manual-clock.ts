import type { Clock } from '../../plugin/util/clock.js';

/** A clock moved by hand: sleep() resolves when advance() passes its time. */
export class ManualClock implements Clock {
  private t = 0;
  private timers: { at: number; resolve: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ns: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal!.reason);
      };
      const timer = { at: this.t + ns, resolve: () => (signal?.removeEventListener('abort', onAbort), resolve()) };
      this.timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  async advance(ns: number): Promise<void> {
    this.t += ns;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    due.forEach((x) => x.resolve());
    await new Promise((r) => setImmediate(r));
  }
}

