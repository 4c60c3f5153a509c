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
 * promotion, only warm ones), and the pass stops as soon as both lists are
 * full. A page can only be taken if its temperature is on the right side of
 * its cut, so the temperatures of a word's 32 pages are first compared with
 * the cuts four at a time (SWAR on their bytes, atLeastMask) and only pages
 * that pass are looked at one by one: a promotion cut high in the histogram
 * skips the many warm pages below it at about one word operation per four.
 * Once the pages at a cut are all taken (promoteAtCut, demoteAtCut), the
 * comparison moves one past the cut, so the rest of the pass skips that
 * bucket too: the pass costs O(words visited) plus O(pages taken), not a
 * look at every page of the cut's bucket up to where the other list fills.
 * While only promotions are left to find, a word is first tested on its
 * temperatures alone (one array read): most words hold none above the cut.
 */
export function collectPlan(pages: CollectInput, counts: PlanCounts): MigrationPlan {
  const promote = new Uint32Array(counts.promote);
  const demote = new Uint32Array(counts.demote);
  const { temperature, warm, nvm, blocked, pageCount } = pages;
  const { promoteCut, promoteAtCut, demoteCut, demoteAtCut } = counts;
  // Temperatures as words (4 pages each) where the layout allows it; otherwise every candidate is looked at.
  const quads = LITTLE_ENDIAN && temperature.byteOffset % 4 === 0 ? new Uint32Array(temperature.buffer, temperature.byteOffset, temperature.length >>> 2) : undefined;
  const quadWords = quads === undefined ? 0 : quads.length >>> 3; // words whose 32 temperatures are all in `quads`
  let p = 0;
  let d = 0;
  let pAtCut = 0;
  let dAtCut = 0;
  const words = (pageCount + 31) >>> 5;
  const tailBits = pageCount & 31;
  // The lowest temperature a promotion may still take, and the one a demotion must stay below: the cut
  // itself while pages at the cut may be taken, then one past it (the filter then skips the cut's bucket,
  // which can be most of the warm pages: else each of them was looked at and turned down, to the end).
  let pFrom = promoteAtCut > 0 ? promoteCut : promoteCut + 1;
  let dBelow = demoteAtCut > 0 ? demoteCut + 1 : demoteCut;
  // Their SWAR constants (quadFlags), for cuts of 1..128 (every cut the planner makes today).
  let pLow = pFrom >= 1 && pFrom <= 128;
  let pK = Math.imul(128 - pFrom, 0x01010101);
  let dLow = dBelow >= 1 && dBelow <= 128;
  let dK = Math.imul(128 - dBelow, 0x01010101);
  for (let w = 0; w < words && (p < promote.length || d < demote.length); w++) {
    if (d >= demote.length && pLow) {
      // Promotions only: words with no temperature at or above pFrom have nothing to take, and
      // finding them reads one array (V8 checks each array a loop reads once per iteration).
      while (w < quadWords && quadFlags(quads!, w << 3, pK) === 0) w++;
      if (w >= words) break;
    }
    let movable = ~blocked[w]!;
    if (w === words - 1 && tailBits !== 0) movable &= (1 << tailBits) - 1;
    const inNvm = nvm[w]! | 0;
    let promotable = p < promote.length ? inNvm & movable & warm[w]! : 0;
    let demotable = d < demote.length ? ~inNvm & movable : 0;
    if ((promotable | demotable) === 0) continue;
    if (w < quadWords) {
      const q = w << 3;
      if (promotable !== 0) promotable &= pLow ? pageOrder(quadFlags(quads!, q, pK)) : atLeastMask(quads!, q, pFrom);
      if (demotable !== 0 && dBelow < LEVELS) demotable &= ~(dLow ? pageOrder(quadFlags(quads!, q, dK)) : atLeastMask(quads!, q, dBelow));
    }
    for (let x = promotable | demotable; x !== 0; x &= x - 1) {
      const bit = 31 - Math.clz32(x & -x);
      const page = (w << 5) + bit;
      const t = temperature[page]!;
      if ((inNvm & (1 << bit)) !== 0) {
        if (p < promote.length && (t > promoteCut || (t === promoteCut && pAtCut++ < promoteAtCut))) promote[p++] = page;
      } else if (d < demote.length && (t < demoteCut || (t === demoteCut && dAtCut++ < demoteAtCut))) {
        demote[d++] = page;
      }
    }
    if (pFrom === promoteCut && pAtCut >= promoteAtCut) {
      pFrom = promoteCut + 1;
      pLow = pFrom <= 128;
      pK = Math.imul(128 - pFrom, 0x01010101);
    }
    if (dBelow === demoteCut + 1 && dAtCut >= demoteAtCut) {
      dBelow = demoteCut;
      dLow = dBelow >= 1 && dBelow <= 128;
      dK = Math.imul(128 - dBelow, 0x01010101);
    }
  }
  return { promote: promote.subarray(0, p), demote: demote.subarray(0, d) };
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * The pages (bits) of one word whose temperature is at least `cut`, from the
 * 8 words of 4 temperatures at quads[q..q+7] (little-endian: byte i of a word
 * is its page 4j + i). Per byte, t >= cut is the carry out of t + (256 - cut),
 * computed for 4 bytes at once without carries crossing bytes.
 */
function atLeastMask(quads: Uint32Array, q: number, cut: number): number {
  if (cut <= 0) return -1;
  if (cut >= LEVELS) return 0;
  if (cut <= 128) return atLeastMaskLow(quads, q, cut);
  const k = LEVELS - cut; // 1..255
  const kLow = (k & 0x7f) * 0x01010101;
  const kHigh = (k & 0x80) !== 0 ? 0x80808080 | 0 : 0;
  let mask = 0;
  for (let j = 0; j < 8; j++) {
    const v = quads[q + j]! | 0;
    // Bit 7 of each byte: carry out of the low 7 bits; then the majority with both high bits is the byte's carry.
    const low = (v & 0x7f7f7f7f) + kLow;
    const carry = ((v & kHigh) | (low & (v | kHigh))) & (0x80808080 | 0);
    mask |= (((carry >>> 7) | (carry >>> 14) | (carry >>> 21) | (carry >>> 28)) & 0xf) << (j << 2);
  }
  return mask;
}

/**
 * atLeastMask for a cut of 1..128 (every cut the planner makes today: the
 * temperature rule keeps pages below 128): pageOrder(quadFlags(...)).
 */
function atLeastMaskLow(quads: Uint32Array, q: number, cut: number): number {
  return pageOrder(quadFlags(quads, q, Math.imul(128 - cut, 0x01010101)));
}

/**
 * For a cut of 1..128, k = (128 - cut) * 0x01010101: per byte, bit 7 of
 * (t & 0x7f) + (128 - cut) is t >= cut for t < 128 and never carries into
 * the next byte; t >= 128 passes through its own bit 7. The 8 words' flags
 * are gathered with one shift each (bit 8i + j: byte i of word j, page
 * 4j + i); pageOrder puts them in page order. Two small functions, not one:
 * V8 inlines each into collectPlan's loop, where one function of both
 * exceeded its inlining size and cost a call per word (collectPlan 20%
 * faster at 16 Mi pages).
 */
function quadFlags(quads: Uint32Array, q: number, k: number): number {
  const low = 0x7f7f7f7f;
  const high = 0x80808080 | 0;
  let v = quads[q]! | 0;
  let g = ((((v & low) + k) | v) & high) >>> 7;
  v = quads[q + 1]! | 0;
  g |= ((((v & low) + k) | v) & high) >>> 6;
  v = quads[q + 2]! | 0;
  g |= ((((v & low) + k) | v) & high) >>> 5;
  v = quads[q + 3]! | 0;
  g |= ((((v & low) + k) | v) & high) >>> 4;
  v = quads[q + 4]! | 0;
  g |= ((((v & low) + k) | v) & high) >>> 3;
  v = quads[q + 5]! | 0;
  g |= ((((v & low) + k) | v) & high) >>> 2;
  v = quads[q + 6]! | 0;
  g |= ((((v & low) + k) | v) & high) >>> 1;
  v = quads[q + 7]! | 0;
  g |= (((v & low) + k) | v) & high;
  return g;
}

/** quadFlags' bits in page order: four delta swaps (index bits rotated, 4j + i from 8i + j). */
function pageOrder(g: number): number {
  let t = ((g >>> 1) ^ g) & 0x22222222;
  g ^= t ^ (t << 1);
  t = ((g >>> 7) ^ g) & 0x00aa00aa;
  g ^= t ^ (t << 7);
  t = ((g >>> 2) ^ g) & 0x0c0c0c0c;
  g ^= t ^ (t << 2);
  t = ((g >>> 14) ^ g) & 0x0000cccc;
  g ^= t ^ (t << 14);
  return g;
}
