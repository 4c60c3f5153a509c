/**
 * The end of a monitoring window.
 *
 * Scanned pages with evidence or warmth get their temperature updated (and the
 * histograms adjusted); the multi-level queue moves every scanned page up a
 * level if it was hot (seen in at least `hotRounds` rounds of the window), down
 * if not, 32 pages at a time with bit operations on the level bitmaps; the next window's scan set is built from the level bitmaps
 * and a phase mask per level. A page at level L is scanned once every 2^L
 * windows, in a phase set by its index (so each window scans an even share of
 * each level); between scans it is left alone, its accessed bit not cleared.
 *
 * Cost: O(pages / 32) word operations, plus per-page work only for scanned
 * pages that were seen or are still warm (found 32 at a time through the
 * pending and warm bitmaps), and hot pages that settled high are not visited.
 *
 * Afterwards `state.scratch` holds the scanned pages seen in at least
 * `markRounds` rounds this window (until the next round overwrites it;
 * stream.ts reads it).
 */
import { bitmapCount, popcount32 } from '../util/bitmap.js';
import type { TemperatureHistograms } from './histograms.js';
import { MAX_LEVEL, scanPeriod, type PageState } from './page-state.js';
import { nextTemperature, TEMPERATURE_LEVELS } from './temperature.js';

export interface WindowStats {
  /** Pages per temperature, all pages and DRAM only. */
  readonly all: Uint32Array;
  readonly dram: Uint32Array;
  /** Pages per temperature that may move now (not moved in this or the last window), by tier. */
  readonly movableNvm: Uint32Array;
  readonly movableDram: Uint32Array;
  /** Pages scanned this window, seen this window, due next window. */
  scannedPages: number;
  seenPages: number;
  nextScanPages: number;
  nvmPages: number;
}

export function createWindowStats(): WindowStats {
  return {
    all: new Uint32Array(TEMPERATURE_LEVELS),
    dram: new Uint32Array(TEMPERATURE_LEVELS),
    movableNvm: new Uint32Array(TEMPERATURE_LEVELS),
    movableDram: new Uint32Array(TEMPERATURE_LEVELS),
    scannedPages: 0,
    seenPages: 0,
    nextScanPages: 0,
    nvmPages: 0,
  };
}

/** PHASE_MASKS[L][r]: the bits b of a word whose pages at level L are due in windows ≡ r (mod 2^L). */
const PHASE_MASKS: Uint32Array[] = Array.from({ length: MAX_LEVEL + 1 }, (_, level) => {
  const period = scanPeriod(level);
  return Uint32Array.from({ length: period }, (_, r) => {
    let mask = 0;
    for (let b = 0; b < 32; b++) if ((b & (period - 1)) === r) mask |= 1 << b;
    return mask >>> 0;
  });
});

/** Level counts (index = level), from the level bitmaps. */
export function levelCounts(state: PageState): Uint32Array {
  const counts = new Uint32Array(MAX_LEVEL + 1);
  let above = 0;
  for (let l = 1; l <= MAX_LEVEL; l++) above += counts[l] = bitmapCount(state.levels[l]!);
  counts[0] = state.pageCount - above;
  return counts;
}

/** Bits of a word whose bit-sliced 4-bit counter (planes a..d, least significant first) is at least k. */
function counterAtLeast(a: number, b: number, c: number, d: number, k: number): number {
  if (k <= 0) return ~0;
  if (k > 15) return 0;
  // Compare from the most significant plane down: "greater so far" and "equal so far".
  let greater = 0;
  let equal = ~0;
  if (k & 8) equal &= d; else { greater |= equal & d; equal &= ~d; }
  if (k & 4) equal &= c; else { greater |= equal & c; equal &= ~c; }
  if (k & 2) equal &= b; else { greater |= equal & b; equal &= ~b; }
  if (k & 1) equal &= a; else { greater |= equal & a; equal &= ~a; }
  return greater | equal;
}

/** `hotRounds`: rounds a page must be seen in during a window to go up a queue level (1: seen at all). */
export function closeWindow(state: PageState, hist: TemperatureHistograms, out: WindowStats, hotRounds = 1, markRounds = hotRounds): void {
  const { temperature, pending, warm, scan, nvm, pageCount, words, scratch } = state;
  const [, l1, l2, l3, l4] = state.levels as [unknown, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  const next = state.windowIndex + 1;
  const m1 = PHASE_MASKS[1]![next & 1]!;
  const m2 = PHASE_MASKS[2]![next & 3]!;
  const m3 = PHASE_MASKS[3]![next & 7]!;
  const m4 = PHASE_MASKS[4]![next & 15]!;
  const tailBits = pageCount & 31;
  let scannedPages = 0;
  let seenPages = 0;
  let nextScanPages = 0;
  let nvmPages = 0;

  for (let w = 0; w < words; w++) {
    const scanned = scan[w]!;
    const inNvm = nvm[w]!;
    let a = l1[w]!, b = l2[w]!, c = l3[w]!, d = l4[w]!;
    scratch[w] = 0;
    if (scanned !== 0) {
      let seen = 0;
      // Only scanned pages with evidence or warmth need per-page work.
      const work = scanned & (pending[w]! | warm[w]!);
      pending[w] = pending[w]! & ~scanned;
      let warmWord = warm[w]!;
      const [r0, r1, r2, r3] = state.reads as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
      const [w0, w1, w2, w3] = state.writes as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
      const ra = r0[w]!, rb = r1[w]!, rc = r2[w]!, rd = r3[w]!;
      const wa = w0[w]!, wb = w1[w]!, wc = w2[w]!, wd = w3[w]!;
      for (let x = work; x !== 0; x &= x - 1) {
        const bit = 31 - Math.clz32(x & -x);
        const page = (w << 5) + bit;
        const reads = ((ra >>> bit) & 1) | (((rb >>> bit) & 1) << 1) | (((rc >>> bit) & 1) << 2) | (((rd >>> bit) & 1) << 3);
        const writes = ((wa >>> bit) & 1) | (((wb >>> bit) & 1) << 1) | (((wc >>> bit) & 1) << 2) | (((wd >>> bit) & 1) << 3);
        const t = temperature[page]!;
        let nt: number;
        if ((reads | writes) !== 0) {
          seen |= 1 << bit;
          nt = nextTemperature(t, reads, writes);
        } else {
          nt = nextTemperature(t, 0, 0);
        }
        if (nt !== t) {
          temperature[page] = nt;
          hist.retemper((inNvm & (1 << bit)) !== 0, t, nt);
          if (nt === 0) warmWord &= ~(1 << bit);
          else warmWord |= 1 << bit;
        }
      }
      warm[w] = warmWord;
      // The scanned pages' evidence is folded in: clear their counters.
      const keep = ~scanned;
      r0[w] = ra & keep; r1[w] = rb & keep; r2[w] = rc & keep; r3[w] = rd & keep;
      w0[w] = wa & keep; w1[w] = wb & keep; w2[w] = wc & keep; w3[w] = wd & keep;
      // Queue levels, 32 pages at once: hot -> up (saturating), else down.
      const up = scanned & seen & counterAtLeast(ra, rb, rc, rd, hotRounds);
      const down = scanned & ~up;
      scratch[w] = scanned & counterAtLeast(ra, rb, rc, rd, markRounds);
      const stay = ~scanned;
      const l0 = ~(a | b | c | d);
      const na = (a & stay) | (l0 & up) | (b & down);
      const nb = (b & stay) | (a & up) | (c & down);
      const nc = (c & stay) | (b & up) | (d & down);
      const nd = (d & stay) | (c & up) | (d & up);
      a = na; b = nb; c = nc; d = nd;
      l1[w] = a; l2[w] = b; l3[w] = c; l4[w] = d;
      scannedPages += popcount32(scanned);
      if (seen !== 0) seenPages += popcount32(seen);
    }
    let due = ~(a | b | c | d) | (a & m1) | (b & m2) | (c & m3) | (d & m4);
    if (w === words - 1 && tailBits !== 0) due &= (1 << tailBits) - 1;
    scan[w] = due;
    if (due !== 0) nextScanPages += popcount32(due);
    if (inNvm !== 0) nvmPages += popcount32(inNvm);
  }
  state.windowIndex = next;

  const { all, dram, movableNvm, movableDram } = out;
  for (let t = 0; t < TEMPERATURE_LEVELS; t++) {
    dram[t] = hist.dram[t]!;
    all[t] = hist.dram[t]! + hist.nvm[t]!;
    movableDram[t] = hist.dram[t]!;
    movableNvm[t] = hist.nvm[t]!;
  }
  // Pages moved in this or the last window may not move again yet: take them out.
  const { movedNow, movedBefore } = state;
  for (let w = 0; w < words; w++) {
    const moved = movedNow[w]! | movedBefore[w]!;
    if (moved === 0) continue;
    for (let x = moved; x !== 0; x &= x - 1) {
      const bit = 31 - Math.clz32(x & -x);
      const t = temperature[(w << 5) + bit]!;
      if ((nvm[w]! & (1 << bit)) !== 0) movableNvm[t]!--;
      else movableDram[t]!--;
    }
  }
  out.scannedPages = scannedPages;
  out.seenPages = seenPages;
  out.nextScanPages = nextScanPages;
  out.nvmPages = nvmPages;
}
