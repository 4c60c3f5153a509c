/**
 * A Clock the simulator advances itself. `sleep` registers a timer; the
 * simulator calls `advanceTo(t)`, which fires every timer due by t in time
 * order (ties in the order they were set) and lets the woken code run until it
 * waits again before firing the next one. Nothing depends on the wall clock, so
 * a run is deterministic.
 */
import type { Clock } from '../../util/clock.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
  cancelled: boolean;
}

/** Lets every promise chain woken so far run until it blocks again. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class VirtualClock implements Clock {
  private nowNs: number;
  private seq = 0;
  /** Binary min-heap on (at, seq). */
  private readonly heap: Timer[] = [];

  constructor(startNs = 0) {
    this.nowNs = startNs;
  }

  now(): number {
    return this.nowNs;
  }

  sleep(ns: number, signal?: AbortSignal): Promise<void> {
    if (!(ns >= 0)) ns = 0;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        timer.cancelled = true;
        reject(signal!.reason);
      };
      const timer: Timer = {
        at: this.nowNs + ns,
        seq: this.seq++,
        cancelled: false,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.push(timer);
    });
  }

  /** Time of the earliest pending timer, or Infinity. */
  nextTimerAt(): number {
    this.dropCancelled();
    return this.heap.length > 0 ? this.heap[0]!.at : Infinity;
  }

  pendingTimers(): number {
    let n = 0;
    for (const t of this.heap) if (!t.cancelled) n++;
    return n;
  }

  /** Fires all timers due at or before `t` in order, then sets the time to `t`. */
  async advanceTo(t: number): Promise<void> {
    if (t < this.nowNs) throw new Error(`virtual clock cannot go back from ${this.nowNs} ns to ${t} ns`);
    for (;;) {
      this.dropCancelled();
      const first = this.heap[0];
      if (first === undefined || first.at > t) break;
      this.pop();
      this.nowNs = first.at;
      first.resolve();
      await settle();
    }
    this.nowNs = t;
  }

  /** Lets code woken outside advanceTo (e.g. by an abort) run to its next wait. */
  settle(): Promise<void> {
    return settle();
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
