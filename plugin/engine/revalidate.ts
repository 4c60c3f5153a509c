/**
 * Telling a phase change from noise, and acting on it.
 *
 * The multi-level queue leaves a page that was hot alone for up to 2^L
 * windows: its temperature is what it was when last measured. That is right
 * while the hot set holds still, and wrong when it moves: the old hot pages
 * keep DRAM on old evidence while the new ones, measured fresh in NVM, cannot
 * outrank them. The sign is in the evidence itself: NVM pages at least as hot
 * as one window of hot evidence makes a cold page (temperature.ts
 * hotTemperature: a warm page that was lucky in one window stays below it)
 * which the plan cannot promote, while DRAM holds the quota. When there are
 * `threshold` of them the DRAM pages' queue levels are dropped to 0, so every
 * one of them is measured again in the next window and keeps DRAM only on
 * fresh evidence.
 * A stable hot set larger than the quota triggers this every window, which
 * costs a window's scan of the DRAM pages (the queue's saving on them), never
 * a migration.
 *
 * Cost: O(pages / 32) word operations when it fires, nothing otherwise.
 */
import { popcount32 } from '../util/bitmap.js';
import { LEVEL_BITS, type PageState } from './page-state.js';

/**
 * The queue samples its settled pages: each window a due share of every
 * level is scanned. If most of the settled pages scanned this window (at
 * least SETTLED_SAMPLE of them) were not hot any more, the ones left alone
 * are very likely cold as well: the workload changed, and every page goes
 * back to level 0 (revalidateAll). A few going down is noise.
 */
export const SETTLED_SAMPLE = 32;

export function settledPagesChanged(settledScanned: number, settledDown: number): boolean {
  return settledScanned >= SETTLED_SAMPLE && settledDown * 2 > settledScanned;
}

/** Every page back to queue level 0, due next window. Returns the pages that were left alone before. */
export function revalidateAll(state: PageState): number {
  const { scan, level, words, pageCount } = state;
  let madeDue = 0;
  for (let w = 0; w < words; w++) {
    const li = LEVEL_BITS * w;
    for (let k = 0; k < LEVEL_BITS; k++) level[li + k] = 0;
    const all = w === words - 1 && (pageCount & 31) !== 0 ? (1 << (pageCount & 31)) - 1 : -1;
    const newlyDue = all & ~scan[w]!;
    if (newlyDue !== 0) madeDue += popcount32(newlyDue);
    scan[w] = all;
  }
  return madeDue;
}

/** NVM pages hot this window and left in NVM by the plan, above which DRAM is re-measured. */
export function revalidationThreshold(quotaPages: number): number {
  return Math.max(8, Math.floor(quotaPages / 64));
}

/**
 * Movable NVM pages at `hotTemperature` or above that a plan promoting
 * `promoted` and demoting `demoted` pages leaves in NVM, counted only if the
 * DRAM pages the plan keeps all look hot too: otherwise the planner swaps
 * them in by itself, and the ones it does not are warm pages held back by the
 * hysteresis, not by stale evidence.
 */
export function stuckHotPages(
  movableNvm: ArrayLike<number>,
  movableDram: ArrayLike<number>,
  hotTemperature: number,
  promoted: number,
  demoted: number,
): number {
  let hot = 0;
  for (let t = hotTemperature; t < movableNvm.length; t++) hot += movableNvm[t]!;
  if (hot <= promoted) return 0;
  // The coldest DRAM page the plan keeps.
  let left = demoted;
  for (let t = 0; t < movableDram.length; t++) {
    const here = movableDram[t]!;
    if (here > left) return t >= hotTemperature ? hot - promoted : 0;
    left -= here;
  }
  return hot - promoted;
}

/**
 * Drops every DRAM page to queue level 0 and makes it due in the next window.
 * Returns the pages that were left alone before (now due).
 */
export function revalidateDram(state: PageState): number {
  const { nvm, scan, level, words, pageCount } = state;
  const tailBits = pageCount & 31;
  let madeDue = 0;
  for (let w = 0; w < words; w++) {
    let dram = ~nvm[w]!;
    if (w === words - 1 && tailBits !== 0) dram &= (1 << tailBits) - 1;
    if (dram === 0) continue;
    const li = LEVEL_BITS * w;
    for (let k = 0; k < LEVEL_BITS; k++) level[li + k] = level[li + k]! & ~dram;
    const newlyDue = dram & ~scan[w]!;
    if (newlyDue !== 0) {
      madeDue += popcount32(newlyDue);
      scan[w] = scan[w]! | dram;
    }
  }
  return madeDue;
}
