/** Brute-force references the engine's O(pages) algorithms are checked against. */
import type { HotSetCut } from '../../plugin/engine/hot-set.js';
import type { Clock } from '../../plugin/util/clock.js';

/** A clock that never waits: each sleep advances it (engine tests run whole windows at once). */
export function steppingClock(): Clock {
  let t = 0;
  return {
    now: () => t,
    sleep: (ns, signal) => {
      if (signal?.aborted) return Promise.reject(signal.reason);
      t += ns;
      return new Promise((r) => setImmediate(r));
    },
  };
}

/** Seeded PRNG for tests (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Temperatures of the hottest `quota` pages with temperature >= 1, by comparison sort. */
export function bruteForceHotTemperatures(temps: ArrayLike<number>, quota: number): number[] {
  return Array.from(temps).filter((t) => t >= 1).sort((a, b) => b - a).slice(0, quota);
}

/** The pages of a hot-set cut, ties at the threshold to the lowest page indices (out[i] = 1). */
export function markHotSet(temperature: Uint8Array, cut: HotSetCut, out: Uint8Array): void {
  let takenAtThreshold = 0;
  for (let i = 0; i < temperature.length; i++) {
    const t = temperature[i]!;
    let hot = t > cut.threshold;
    if (!hot && t === cut.threshold && takenAtThreshold < cut.takeAtThreshold) {
      takenAtThreshold++;
      hot = true;
    }
    out[i] = hot ? 1 : 0;
  }
}

/**
 * The engine's per-page state as plain numbers, one page at a time: what the
 * bit-sliced counters, level planes, scan set and histograms must equal.
 */
export class ReferenceEngine {
  readonly temperature: number[];
  readonly level: number[];
  readonly reads: number[];
  readonly writes: number[];
  readonly scan: boolean[];
  readonly nvm: boolean[];
  movedNow = new Set<number>();
  movedBefore = new Set<number>();
  window = 0;

  constructor(readonly pageCount: number, readonly nextTemperature: (t: number, reads: number, writes: number) => number) {
    this.temperature = new Array<number>(pageCount).fill(0);
    this.level = new Array<number>(pageCount).fill(0);
    this.reads = new Array<number>(pageCount).fill(0);
    this.writes = new Array<number>(pageCount).fill(0);
    this.scan = new Array<boolean>(pageCount).fill(true);
    this.nvm = new Array<boolean>(pageCount).fill(false);
  }

  /** Round of the current window (0-based) and, after round 0, the pages seen in every round so far (the sieve). */
  roundIndex = 0;
  readonly alive: boolean[] = [];

  /** Whether the next round harvests page p: every due page in a window's first round, then the survivors. */
  harvesting(p: number): boolean {
    return this.roundIndex === 0 ? this.scan[p]! : this.alive[p] === true;
  }

  harvestCount(): number {
    let n = 0;
    for (let p = 0; p < this.pageCount; p++) if (this.harvesting(p)) n++;
    return n;
  }

  /**
   * One round: the harvested pages among `accessed` gain a round of evidence
   * (at most 15) and survive; the others drop out for the window; a written
   * page gains a written round if it was harvested and seen this round.
   */
  round(accessed: Iterable<number>, written: Iterable<number>): void {
    const seen = new Set(accessed);
    for (let p = 0; p < this.pageCount; p++) {
      if (!this.harvesting(p)) {
        this.alive[p] = false;
        continue;
      }
      const hit = seen.has(p);
      if (hit) this.reads[p] = Math.min(15, this.reads[p]! + 1);
      this.alive[p] = hit;
    }
    for (const p of new Set(written)) if (this.alive[p]) this.writes[p] = Math.min(15, this.writes[p]! + 1);
    this.roundIndex++;
  }

  /** `hotRounds`: rounds seen for a page to climb a level (1: seen at all); pages whose new temperature is in [holdFrom, holdTo] do not climb. */
  closeWindow(hotRounds = 1, holdFrom = 1, holdTo = 0): void {
    const next = this.window + 1;
    for (let p = 0; p < this.pageCount; p++) {
      if (this.scan[p]) {
        const t = this.temperature[p]!;
        const seen = this.reads[p]! + this.writes[p]! > 0;
        this.temperature[p] = seen ? this.nextTemperature(t, this.reads[p]!, this.writes[p]!) : t <= 1 ? 0 : t - (t >>> 1);
        const held = this.temperature[p]! >= holdFrom && this.temperature[p]! <= holdTo;
        const hot = seen && this.reads[p]! >= hotRounds && !held;
        this.level[p] = hot ? Math.min(4, this.level[p]! + 1) : Math.max(0, this.level[p]! - 1);
        this.reads[p] = 0;
        this.writes[p] = 0;
      }
      const period = 1 << this.level[p]!;
      this.scan[p] = this.level[p] === 0 || p % period === next % period;
    }
    this.window = next;
    this.roundIndex = 0;
  }

  markMoved(page: number): void {
    this.movedNow.add(page);
  }

  rotateMoved(): void {
    this.movedBefore = this.movedNow;
    this.movedNow = new Set();
  }

  /** Pages per temperature: all, DRAM, and movable (not moved now or before) by tier. */
  histograms(): { all: number[]; dram: number[]; movableNvm: number[]; movableDram: number[] } {
    const h = { all: zeros(256), dram: zeros(256), movableNvm: zeros(256), movableDram: zeros(256) };
    for (let p = 0; p < this.pageCount; p++) {
      const t = this.temperature[p]!;
      h.all[t]!++;
      if (!this.nvm[p]) h.dram[t]!++;
      if (this.movedNow.has(p) || this.movedBefore.has(p)) continue;
      if (this.nvm[p]) h.movableNvm[t]!++;
      else h.movableDram[t]!++;
    }
    return h;
  }
}

const zeros = (n: number): number[] => new Array<number>(n).fill(0);
