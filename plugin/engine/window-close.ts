/**
 * The end of a monitoring window, in one pass over the page words.
 *
 * Scanned pages with evidence or warmth get their temperature updated (and the
 * histograms adjusted); the multi-level queue moves every scanned page up a
 * level if it was hot (QueueRule: seen in at least `hotRounds` rounds and not
 * near the DRAM cut), down if not, 32 pages at a time with bit operations on
 * the bit-sliced level planes; the next window's scan set is built from the
 * level planes and a phase mask per level. A page at level L is scanned once
 * every 2^L windows, in a phase set by its index (so each window scans an even
 * share of each level); between scans it is left alone, its accessed bit not
 * cleared.
 *
 * Cost: one pass of O(pages / 32) word operations (a word with no page due
 * reads its 3 level planes and writes its scan word; a scanned word also reads
 * its 8 evidence planes, everyRound and warm bits), plus per-page work only
 * for scanned pages that were seen or are still warm (found 32 at a time),
 * plus O(pages moved lately) to mark moved pages blocked and take them out of
 * the movable histograms. Hot pages that settled high are not visited. Pages
 * per tier come from the histograms.
 */
import { popcount32 } from '../util/bitmap.js';
import { counterAtLeast } from './evidence.js';
import type { TemperatureHistograms } from './histograms.js';
import { MAX_LEVEL, scanPeriod, type PageList, type PageState } from './page-state.js';
import { cooled, nextTemperature, TEMPERATURE_LEVELS } from './temperature.js';

export interface WindowStats {
  /** Pages per temperature, all pages and DRAM only. */
  readonly all: Uint32Array;
  readonly dram: Uint32Array;
  /** Pages per temperature that may move now (not moved in this or the last window), by tier. */
  readonly movableNvm: Uint32Array;
  readonly movableDram: Uint32Array;
  /** Pages in the slow tier (from the histograms). */
  nvmPages: number;
  /** Scanned pages that were at queue level 2 or more (left alone lately), and how many of them went down. */
  settledScanned: number;
  settledDown: number;
}

export function createWindowStats(): WindowStats {
  return {
    all: new Uint32Array(TEMPERATURE_LEVELS),
    dram: new Uint32Array(TEMPERATURE_LEVELS),
    movableNvm: new Uint32Array(TEMPERATURE_LEVELS),
    movableDram: new Uint32Array(TEMPERATURE_LEVELS),
    nvmPages: 0,
    settledScanned: 0,
    settledDown: 0,
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

/** Level counts (index = level), from the level planes. */
export function levelCounts(state: PageState): Uint32Array {
  const counts = new Uint32Array(MAX_LEVEL + 1);
  const { level, words } = state;
  // Levels 1..3 use bits 0..1 only; level 4 is bit 2 alone.
  for (let w = 0; w < words; w++) {
    const x = level[3 * w]!, y = level[3 * w + 1]!, z = level[3 * w + 2]!;
    if ((x | y | z) === 0) continue;
    counts[1]! += popcount32(x & ~y);
    counts[2]! += popcount32(~x & y);
    counts[3]! += popcount32(x & y);
    counts[4]! += popcount32(z);
  }
  counts[0] = state.pageCount - counts[1]! - counts[2]! - counts[3]! - counts[4]!;
  return counts;
}

/**
 * Which scanned pages climb a queue level: those seen in at least `hotRounds`
 * rounds (1: seen at all) whose new temperature is outside [holdFrom, holdTo]
 * (the engine holds pages near the DRAM cut at level 0, measured every
 * window, since a stale temperature there decides placement).
 */
export interface QueueRule {
  readonly hotRounds: number;
  readonly holdFrom: number;
  readonly holdTo: number;
}

export const SEEN_CLIMBS: QueueRule = { hotRounds: 1, holdFrom: 1, holdTo: 0 };

/** `rule`: a QueueRule, or just the hot-round count (nothing held). */
export function closeWindow(state: PageState, hist: TemperatureHistograms, out: WindowStats, rule: QueueRule | number = SEEN_CLIMBS): void {
  const next = state.windowIndex + 1;
  state.clearBlocked();
  const settled = foldWindow(state, hist, next, typeof rule === 'number' ? { ...SEEN_CLIMBS, hotRounds: rule } : rule);
  out.settledScanned = settled.scanned;
  out.settledDown = settled.down;
  state.windowIndex = next;
  state.roundsThisWindow = 0;

  const { all, dram, movableNvm, movableDram } = out;
  let nvmPages = 0;
  for (let t = 0; t < TEMPERATURE_LEVELS; t++) {
    dram[t] = hist.dram[t]!;
    all[t] = hist.dram[t]! + hist.nvm[t]!;
    movableDram[t] = hist.dram[t]!;
    movableNvm[t] = hist.nvm[t]!;
    nvmPages += hist.nvm[t]!;
  }
  // Pages moved in this or the last window may not move again yet: mark them
  // blocked (for the plan) and take them out of the movable histograms.
  blockMoved(state, state.movedNow, movableNvm, movableDram);
  blockMoved(state, state.movedBefore, movableNvm, movableDram);
  state.blockedMarked = true;
  out.nvmPages = nvmPages;
}

/** Marks each listed page in `blocked` and takes it out of its movable histogram, once. */
function blockMoved(state: PageState, list: PageList, movableNvm: Uint32Array, movableDram: Uint32Array): void {
  // The scratch bitmap is all zero here (clearBlocked() ran): it becomes `blocked`.
  const { temperature, nvm, scratch: blocked } = state;
  for (let i = 0; i < list.length; i++) {
    const page = list.pages[i]!;
    const w = page >>> 5;
    const bit = 1 << (page & 31);
    if ((blocked[w]! & bit) !== 0) continue;
    blocked[w] = blocked[w]! | bit;
    const t = temperature[page]!;
    if ((nvm[w]! & bit) !== 0) movableNvm[t]!--;
    else movableDram[t]!--;
  }
}

/** The fused pass: temperatures, queue levels and the next scan set, word by word. */
function foldWindow(state: PageState, hist: TemperatureHistograms, next: number, rule: QueueRule): { scanned: number; down: number } {
  const { hotRounds, holdFrom, holdTo } = rule;
  let settledScanned = 0;
  let settledDown = 0;
  const { temperature, warm, scan, nvm, pageCount, words } = state;
  const { reads, level, explicitReads, anyWrites } = state;
  const writes = state.writes;
  // Pages accessed in every round have that many rounds accessed, implicitly: as plane masks.
  const everyRound = state.everyRound;
  const rounds = Math.min(state.roundsThisWindow, 15);
  const e0 = (rounds & 1) !== 0 ? -1 : 0, e1 = (rounds & 2) !== 0 ? -1 : 0, e2 = (rounds & 4) !== 0 ? -1 : 0, e3 = (rounds & 8) !== 0 ? -1 : 0;
  const useEveryRound = rounds !== 0;
  // nextTemperature is a pure function of (t, rounds accessed, rounds written): tabulated for this window's every-round pages.
  const everyRoundTable = new Uint8Array(TEMPERATURE_LEVELS);
  for (let t = 0; t < TEMPERATURE_LEVELS; t++) everyRoundTable[t] = nextTemperature(t, rounds, 0);
  const histNvm = hist.nvm, histDram = hist.dram;
  const m1 = PHASE_MASKS[1]![next & 1]!;
  const m2 = PHASE_MASKS[2]![next & 3]!;
  const m3 = PHASE_MASKS[3]![next & 7]!;
  const m4 = PHASE_MASKS[4]![next & 15]!;
  const tailMask = (pageCount & 31) === 0 ? -1 : (1 << (pageCount & 31)) - 1;

  for (let w = 0; w < words; w++) {
    const scanned = scan[w]!;
    // Level bits: a = bit 0, b = bit 1, c = bit 2 (levels 0..4; c is set only at level 4).
    const li = 3 * w;
    let a = level[li]!, b = level[li + 1]!, c = level[li + 2]!;
    if (scanned !== 0) {
      const ci = w << 2;
      let xa = 0, xb = 0, xc = 0, xd = 0;
      if (explicitReads) {
        xa = reads[ci]!; xb = reads[ci + 1]!; xc = reads[ci + 2]!; xd = reads[ci + 3]!;
      }
      let wa = 0, wb = 0, wc = 0, wd = 0;
      if (anyWrites) {
        wa = writes[ci]!; wb = writes[ci + 1]!; wc = writes[ci + 2]!; wd = writes[ci + 3]!;
      }
      const every = useEveryRound ? everyRound[w]! & scanned : 0;
      const ra = xa | (every & e0), rb = xb | (every & e1), rc = xc | (every & e2), rd = xd | (every & e3);
      const evidence = ra | rb | rc | rd | wa | wb | wc | wd;
      const seen = evidence & scanned;
      // Only scanned pages with evidence or warmth need per-page work.
      const work = scanned & (evidence | warm[w]!);
      let hold = 0;
      if (work !== 0) {
        const warmBefore = warm[w]!;
        let warmWord = warmBefore;
        // Pages accessed every round and not written: their next temperature is a table look-up.
        const everyUnwritten = every & ~(wa | wb | wc | wd);
        let inNvm = 0;
        let tierKnown = false;
        const base = w << 5;
        for (let x = work; x !== 0; x &= x - 1) {
          const bit = 31 - Math.clz32(x & -x);
          const m = 1 << bit;
          const t = temperature[base + bit]!;
          let nt: number;
          if ((everyUnwritten & m) !== 0) {
            nt = everyRoundTable[t]!;
          } else if ((seen & m) !== 0) {
            const reads = ((ra >>> bit) & 1) | (((rb >>> bit) & 1) << 1) | (((rc >>> bit) & 1) << 2) | (((rd >>> bit) & 1) << 3);
            const writes = ((wa >>> bit) & 1) | (((wb >>> bit) & 1) << 1) | (((wc >>> bit) & 1) << 2) | (((wd >>> bit) & 1) << 3);
            nt = nextTemperature(t, reads, writes);
          } else {
            nt = cooled(t);
          }
          if (nt >= holdFrom && nt <= holdTo) hold |= m;
          if (nt !== t) {
            temperature[base + bit] = nt;
            if (!tierKnown) {
              inNvm = nvm[w]!;
              tierKnown = true;
            }
            const h = (inNvm & m) !== 0 ? histNvm : histDram;
            h[t]!--;
            h[nt]!++;
            warmWord = nt === 0 ? warmWord & ~m : warmWord | m;
          }
        }
        if (warmWord !== warmBefore) warm[w] = warmWord;
      }
      // Queue levels, 32 pages at once: hot -> up (saturating at MAX_LEVEL), else down (at 0).
      const up = (hotRounds <= 1 ? seen : seen & counterAtLeast(ra, rb, rc, rd, hotRounds)) & ~hold;
      const down = scanned & ~up;
      // Pages at level >= 2 (bit 1 or bit 2 of the level) that were due: the queue's sample of its settled pages.
      const settled = scanned & (b | c);
      if (settled !== 0) {
        settledScanned += popcount32(settled);
        if ((settled & down) !== 0) settledDown += popcount32(settled & down);
      }
      const stay = ~scanned;
      const na = (a & stay) | (up & ~a & ~c) | (down & ((~a & b) | c));
      const nb = (b & stay) | (up & (a ^ b)) | (down & ((a & b) | c));
      const nc = (c & stay) | (up & ((a & b) | c));
      if (na !== a || nb !== b || nc !== c) {
        a = na; b = nb; c = nc;
        level[li] = a; level[li + 1] = b; level[li + 2] = c;
      }
    }
    let due = ~(a | b | c) | (a & ~b & m1) | (~a & b & m2) | (a & b & m3) | (c & m4);
    if (w === words - 1) due &= tailMask;
    if (due !== scanned) scan[w] = due;
  }
  // All evidence is folded in (or was for pages not due, and is dropped): clear the counters.
  if (explicitReads) reads.fill(0);
  if (anyWrites) writes.fill(0);
  state.explicitReads = false;
  state.anyWrites = false;
  return { scanned: settledScanned, down: settledDown };
}
