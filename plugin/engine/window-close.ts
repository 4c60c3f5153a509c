/**
 * The end of a monitoring window, in one pass over all pages (the engine's
 * only O(pages) pass besides collecting a non-empty plan):
 * - scanned pages: temperature update, queue level up (seen) or down (unseen),
 *   skip set to 2^(level-1) windows, window evidence reset;
 * - pages the queue left alone: one fewer window to skip, temperature kept;
 * - the next window's scan set (pages with nothing left to skip);
 * - temperature histograms: all pages, and pages eligible to move (not moved
 *   in this or the previous window) by tier, for the hot set and the planner.
 */
import { MAX_LEVEL, makeQueue, queueLevel, queueSkip, skipWindowsForLevel, type PageState } from './page-state.js';
import { popcount32 } from '../util/bitmap.js';
import { nextTemperature, TEMPERATURE_LEVELS } from './temperature.js';

export interface WindowHistograms {
  /** Pages per temperature, all pages. */
  readonly all: Uint32Array;
  /** Pages per temperature in DRAM (all of them, for reports and the pool). */
  readonly dram: Uint32Array;
  /** Pages per temperature that may move now, by tier. */
  readonly movableNvm: Uint32Array;
  readonly movableDram: Uint32Array;
  /** Pages per queue level after this window. */
  readonly levels: Uint32Array;
  /** Pages due for scanning in the next window. */
  nextScanPages: number;
  nvmPages: number;
}

export function createHistograms(): WindowHistograms {
  return {
    all: new Uint32Array(TEMPERATURE_LEVELS),
    dram: new Uint32Array(TEMPERATURE_LEVELS),
    movableNvm: new Uint32Array(TEMPERATURE_LEVELS),
    movableDram: new Uint32Array(TEMPERATURE_LEVELS),
    levels: new Uint32Array(MAX_LEVEL + 1),
    nextScanPages: 0,
    nvmPages: 0,
  };
}

export function closeWindow(state: PageState, h: WindowHistograms): void {
  h.all.fill(0);
  h.dram.fill(0);
  h.movableNvm.fill(0);
  h.movableDram.fill(0);
  h.levels.fill(0);
  const { temperature, queue, window: win, scan, nvm, movedNow, movedBefore, pageCount } = state;
  const { all, dram, movableNvm, movableDram, levels } = h;
  let nextScanPages = 0;
  let nvmPages = 0;

  for (let w = 0, base = 0; base < pageCount; w++, base += 32) {
    const scanned = scan[w]!;
    const inNvm = nvm[w]!;
    const moved = movedNow[w]! | movedBefore[w]!;
    const end = Math.min(32, pageCount - base);
    let nextScan = 0;
    for (let b = 0; b < end; b++) {
      const page = base + b;
      const bit = 1 << b;
      const q = queue[page]!;
      let level = queueLevel(q);
      let skip: number;
      let t = temperature[page]!;
      if ((scanned & bit) !== 0) {
        const e = win[page]!;
        t = nextTemperature(t, e & 0x0f, e >>> 4);
        temperature[page] = t;
        win[page] = 0;
        if (e !== 0) {
          if (level < MAX_LEVEL) level++;
        } else if (level > 0) {
          level--;
        }
        skip = skipWindowsForLevel(level);
      } else {
        skip = queueSkip(q) - 1;
      }
      queue[page] = makeQueue(level, skip);
      if (skip === 0) nextScan |= bit;
      levels[level]!++;
      all[t]!++;
      if ((inNvm & bit) !== 0) {
        nvmPages++;
        if ((moved & bit) === 0) movableNvm[t]!++;
      } else {
        dram[t]!++;
        if ((moved & bit) === 0) movableDram[t]!++;
      }
    }
    scan[w] = nextScan;
    if (nextScan !== 0) nextScanPages += popcount32(nextScan);
  }
  h.nextScanPages = nextScanPages;
  h.nvmPages = nvmPages;
}
