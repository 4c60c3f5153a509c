/**
 * The per-second figures of `hmmv status` that the engine keeps as running
 * totals (promotions, demotions): the rate between two status writes (about
 * one second apart), and the estimated slowdown of the last window.
 */
import type { EngineSnapshot } from '../engine/run.js';
import { histogramAccesses, stallSlowdown } from '../pool/curve.js';

export class TotalsRate {
  private last: { atMs: number; promoted: number; demoted: number } | undefined;
  private rate = { promotedPerSec: 0, demotedPerSec: 0 };

  /** Feeds the totals now; returns the rates since the previous sample (0 at the first). */
  sample(totals: Readonly<Record<string, number>>, nowMs: number): { promotedPerSec: number; demotedPerSec: number } {
    const promoted = totals['promoted'] ?? 0;
    const demoted = totals['demoted'] ?? 0;
    if (this.last && nowMs > this.last.atMs) {
      const dt = (nowMs - this.last.atMs) / 1000;
      this.rate = { promotedPerSec: Math.max(0, promoted - this.last.promoted) / dt, demotedPerSec: Math.max(0, demoted - this.last.demoted) / dt };
    }
    this.last = { atMs: nowMs, promoted, demoted };
    return this.rate;
  }
}

/** Estimated memory-stall slowdown against all-DRAM of the last window (1 = as fast), with the pool's default latencies. */
export function estimatedSlowdown(s: Pick<EngineSnapshot, 'histogram' | 'dramHistogram' | 'accessRatePerPage'>): number {
  const all = histogramAccesses(s.histogram, s.accessRatePerPage);
  const dram = histogramAccesses(s.dramHistogram, s.accessRatePerPage);
  return stallSlowdown(all, dram);
}
