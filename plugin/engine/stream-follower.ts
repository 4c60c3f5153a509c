/**
 * Moves DRAM along with the streams StreamDetector found (stream.ts), every
 * `stepNs` between window closes: demotes the DRAM pages the stream's back has
 * passed (less a trailing margin), then promotes the NVM pages up to `leadNs`
 * ahead of its front, as far as the quota allows (what it demoted plus free
 * quota). Positions come from the stream's velocity; each window close
 * corrects them. The planner is told what the follower will need (the lead
 * region), and its promotions of pages the stream is about to leave are
 * dropped (they would be demoted again within the window).
 *
 * Cost per step: the pages in the swept ranges (a bit test each), and their moves.
 */
import { Tier } from '../host/memory-host.js';
import type { Migrator } from './migrator.js';
import type { PageState } from './page-state.js';
import { streamAt, wrap, type Stream, type StreamDetector } from './stream.js';

export interface FollowerOptions {
  /** Time between steps. */
  readonly stepNs: number;
  /** How far ahead of the front to promote, as time at the stream's speed (plus a quarter of its length). */
  readonly leadNs: number;
  /** Most pages one step may move (both directions), e.g. the rate limit times the step. */
  readonly maxPagesPerStep: number;
}

export class StreamFollower {
  /** Pages moved since the last call of takeMoved() (for the planner's budget). */
  private moved = 0;

  constructor(
    private readonly state: PageState,
    private readonly migrator: Migrator,
    private readonly detector: StreamDetector,
    private readonly quota: () => number,
    private readonly options: FollowerOptions,
  ) {}

  /** Streams seen where their velocity said, at least once after they were found (one guess is not acted on). */
  followed(): Stream[] {
    return this.detector.streams.filter((s) => s.confirmations >= 1);
  }

  get active(): boolean {
    return this.followed().length > 0;
  }

  takeMoved(): number {
    const m = this.moved;
    this.moved = 0;
    return m;
  }

  /** Pages the follower will hold ahead of the streams' fronts (the planner leaves them free). */
  reservedPages(): number {
    let r = 0;
    for (const s of this.followed()) r += Math.ceil(this.leadPages(s));
    return r;
  }

  /** Pages the follower keeps behind the stream's back (it may not have passed them yet). */
  marginPages(s: Stream): number {
    return Math.abs(s.front - s.back) / 8;
  }

  /** Pages the follower promotes ahead of the stream's front. */
  leadPages(s: Stream): number {
    return Math.abs(s.velocity) * this.options.leadNs + Math.abs(s.front - s.back) / 4;
  }

  /** Drops promotions of pages the streams' backs will pass within `horizonNs`. */
  filterPromotions(pages: Uint32Array, nowNs: number, horizonNs: number): Uint32Array {
    if (!this.active || pages.length === 0) return pages;
    const n = this.state.pageCount;
    const doomed: Array<[number, number]> = [];
    for (const s of this.followed()) {
      const { back } = streamAt(s, nowNs);
      const later = back + s.velocity * horizonNs;
      const lo = Math.min(back, later);
      const hi = Math.max(back, later);
      if (hi - lo >= n) return new Uint32Array(0);
      doomed.push([wrap(lo, n), wrap(hi, n)]);
    }
    const inside = (p: number): boolean =>
      doomed.some(([a, b]) => (a <= b ? p >= a && p < b : p >= a || p < b));
    return pages.filter((p) => !inside(p));
  }

  async step(nowNs: number, signal?: AbortSignal): Promise<void> {
    const { state, migrator, options } = this;
    const n = state.pageCount;
    const nvm = state.nvm;
    const isNvm = (p: number): boolean => (nvm[p >>> 5]! & (1 << (p & 31))) !== 0;
    const demote: number[] = [];
    const promote: number[] = [];
    let budget = options.maxPagesPerStep;
    for (const s of this.followed()) {
      const { front, back } = streamAt(s, nowNs);
      const dir = s.velocity >= 0 ? 1 : -1;
      // Behind: everything from the demote cursor to the back, less a trailing margin.
      const demoteTo = back - dir * this.marginPages(s);
      if ((demoteTo - s.behindTo) * dir > n) s.behindTo = demoteTo - dir * n;
      while ((demoteTo - s.behindTo) * dir > 0 && budget > 0) {
        const p = wrap(s.behindTo, n);
        if (!isNvm(p)) {
          demote.push(p);
          budget--;
        }
        s.behindTo += dir;
      }
      // Ahead: from the promote cursor (never behind the back) to the lead.
      const target = front + dir * this.leadPages(s);
      if ((back - s.aheadTo) * dir > 0) s.aheadTo = back;
      let room = this.quota() - migrator.dramPages + demote.length - promote.length;
      while ((target - s.aheadTo) * dir > 0 && budget > 0 && room > 0) {
        const p = wrap(s.aheadTo, n);
        if (isNvm(p)) {
          promote.push(p);
          budget--;
          room--;
        }
        s.aheadTo += dir;
      }
    }
    if (demote.length > 0) await migrator.moveAll(Uint32Array.from(new Set(demote)), Tier.NVM, signal);
    if (promote.length > 0) await migrator.moveAll(Uint32Array.from(new Set(promote)), Tier.DRAM, signal);
    this.moved += demote.length + promote.length;
  }
}
