/**
 * The migration planner: which pages to promote (NVM -> DRAM) and demote
 * (DRAM -> NVM) this window so DRAM holds the hottest pages within the quota.
 *
 * Decided on the movable-page histograms alone (O(256)):
 * 1. over quota (the quota shrank): demote the coldest DRAM pages first;
 * 2. free DRAM: promote the hottest NVM pages (temperature >= minPromoteTemperature);
 * 3. full DRAM: swap the hottest NVM page for the coldest DRAM page while the
 *    NVM page is hotter by more than `hysteresis` (so near-equal pages do not
 *    trade places every window).
 * Everything within `budgetPages` moves per window (the rate limit; a swap is
 * two moves). Pages moved in this or the last window are not movable (anti-thrash).
 * Then one pass over the pages collects the chosen ones (skipped when the plan is empty).
 */
import type { Bitmap } from '../util/bitmap.js';

export interface PlanInput {
  readonly movableNvm: ArrayLike<number>;
  readonly movableDram: ArrayLike<number>;
  readonly dramPages: number;
  readonly quotaPages: number;
  readonly budgetPages: number;
  readonly hysteresis: number;
  readonly minPromoteTemperature: number;
}

/** Promote every movable NVM page hotter than promoteCut, plus promoteAtCut at promoteCut; demote likewise below demoteCut. */
export interface PlanCounts {
  readonly promote: number;
  readonly demote: number;
  readonly promoteCut: number;
  readonly promoteAtCut: number;
  readonly demoteCut: number;
  readonly demoteAtCut: number;
}

export interface MigrationPlan {
  readonly promote: Uint32Array;
  readonly demote: Uint32Array;
}

const LEVELS = 256;

export function planCounts(input: PlanInput): PlanCounts {
  const { movableNvm, movableDram, hysteresis, minPromoteTemperature } = input;
  let budget = Math.max(0, Math.floor(input.budgetPages));
  let free = input.quotaPages - input.dramPages;

  // Cursor over DRAM pages, coldest first.
  let dT = 0;
  let dLeft = movableDram[0] ?? 0;
  let demote = 0;
  let demoteAtCut = 0;
  const nextDram = (): boolean => {
    while (dLeft === 0 && dT < LEVELS - 1) {
      dT++;
      dLeft = movableDram[dT]!;
      demoteAtCut = 0;
    }
    return dLeft > 0;
  };
  const takeDram = (n: number): void => {
    dLeft -= n;
    demote += n;
    demoteAtCut += n;
    budget -= n;
  };

  // Cursor over NVM pages, hottest first.
  let pT = LEVELS - 1;
  let pLeft = movableNvm[pT] ?? 0;
  let promote = 0;
  let promoteAtCut = 0;
  const nextNvm = (): boolean => {
    while (pLeft === 0 && pT > minPromoteTemperature) {
      pT--;
      pLeft = movableNvm[pT]!;
      promoteAtCut = 0;
    }
    return pLeft > 0 && pT >= minPromoteTemperature;
  };
  const takeNvm = (n: number): void => {
    pLeft -= n;
    promote += n;
    promoteAtCut += n;
    budget -= n;
  };

  // 1. Over quota: demote coldest first.
  while (free < 0 && budget > 0 && nextDram()) {
    const n = Math.min(-free, dLeft, budget);
    takeDram(n);
    free += n;
  }
  // 2. Free DRAM: promote hottest first.
  while (free > 0 && budget > 0 && nextNvm()) {
    const n = Math.min(free, pLeft, budget);
    takeNvm(n);
    free -= n;
  }
  // 3. Swaps while the gain clears the hysteresis.
  while (budget >= 2 && nextNvm() && nextDram() && pT > dT + hysteresis) {
    const n = Math.min(pLeft, dLeft, budget >>> 1);
    takeNvm(n);
    takeDram(n);
  }
  return {
    promote,
    demote,
    promoteCut: promote > 0 ? pT : LEVELS,
    promoteAtCut: promote > 0 ? promoteAtCut : 0,
    demoteCut: demote > 0 ? dT : -1,
    demoteAtCut: demote > 0 ? demoteAtCut : 0,
  };
}

export interface CollectInput {
  readonly temperature: Uint8Array;
  /** Pages with temperature above 0. */
  readonly warm: Bitmap;
  readonly nvm: Bitmap;
  /** Pages moved in this or the last window (anti-thrash: not movable). */
  readonly blocked: Bitmap;
  readonly pageCount: number;
}

/**
 * The one pass that turns plan counts into page lists (in page order). Word at
 * a time: only movable pages of the right tier are looked at (and, for
 * promotion, only warm ones), and the pass
 * stops as soon as both lists are full.
 */
export function collectPlan(pages: CollectInput, counts: PlanCounts): MigrationPlan {
  const promote = new Uint32Array(counts.promote);
  const demote = new Uint32Array(counts.demote);
  const { temperature, warm, nvm, blocked, pageCount } = pages;
  const { promoteCut, promoteAtCut, demoteCut, demoteAtCut } = counts;
  let p = 0;
  let d = 0;
  let pAtCut = 0;
  let dAtCut = 0;
  const words = (pageCount + 31) >>> 5;
  const tailBits = pageCount & 31;
  for (let w = 0; w < words && (p < promote.length || d < demote.length); w++) {
    let movable = ~blocked[w]!;
    if (w === words - 1 && tailBits !== 0) movable &= (1 << tailBits) - 1;
    let candidates = 0;
    if (p < promote.length) {
      // Promotion needs temperature >= 1.
      candidates |= nvm[w]! & movable & warm[w]!;
    }
    if (d < demote.length) candidates |= ~nvm[w]! & movable;
    for (let x = candidates; x !== 0; x &= x - 1) {
      const bit = 31 - Math.clz32(x & -x);
      const page = (w << 5) + bit;
      const t = temperature[page]!;
      if ((nvm[w]! & (1 << bit)) !== 0) {
        if (p < promote.length && (t > promoteCut || (t === promoteCut && pAtCut++ < promoteAtCut))) promote[p++] = page;
      } else if (d < demote.length && (t < demoteCut || (t === demoteCut && dAtCut++ < demoteAtCut))) {
        demote[d++] = page;
      }
    }
  }
  return { promote: promote.subarray(0, p), demote: demote.subarray(0, d) };
}
