/**
 * The end of a monitoring window, in one pass over the page words.
 *
 * Scanned pages with evidence or warmth get their temperature updated (and the
 * histograms adjusted); the multi-level queue moves every scanned page up a
 * level if it was seen, down if not, 32 pages at a time with bit operations on
 * the bit-sliced level planes; the next window's scan set is built from the
 * level planes and a phase mask per level. A page at level L is scanned once
 * every 2^L windows, in a phase set by its index (so each window scans an even
 * share of each level); between scans it is left alone, its accessed bit not
 * cleared.
 *
 * Cost: one pass of O(pages / 32) word operations (a word with no page due
 * reads its 3 level planes and writes its scan word; a scanned word also reads
 * its 8 evidence planes and warm bits), plus per-page work only for scanned
 * pages that were seen or are still warm (found 32 at a time), plus O(pages
 * moved lately) to take moved pages out of the movable histograms. Hot pages
 * that settled high are not visited. Pages per tier come from the histograms.
 */
import { bitmapCount, popcount32 } from '../util/bitmap.js';
import type { TemperatureHistograms } from './histograms.js';
import { MAX_LEVEL, scanPeriod, type PageList, type PageState } from './page-state.js';
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

/** Level counts (index = level), from the level planes. */
export function levelCounts(state: PageState): Uint32Array {
  const counts = new Uint32Array(MAX_LEVEL + 1);
  const [a, b, c] = state.level as [Uint32Array, Uint32Array, Uint32Array];
  // Levels 1..3 use bits 0..1 only; level 4 is bit 2 alone.
  const { words } = state;
  for (let w = 0; w < words; w++) {
    const x = a[w]!, y = b[w]!, z = c[w]!;
    if ((x | y | z) === 0) continue;
    counts[1]! += popcount32(x & ~y);
    counts[2]! += popcount32(~x & y);
    counts[3]! += popcount32(x & y);
  }
  counts[4] = bitmapCount(c);
  counts[0] = state.pageCount - counts[1]! - counts[2]! - counts[3]! - counts[4]!;
  return counts;
}

export function closeWindow(state: PageState, hist: TemperatureHistograms, out: WindowStats): void {
  const next = state.windowIndex + 1;
  const counts = foldWindow(state, hist, next);
  state.windowIndex = next;

  const { all, dram, movableNvm, movableDram } = out;
  let nvmPages = 0;
  for (let t = 0; t < TEMPERATURE_LEVELS; t++) {
    dram[t] = hist.dram[t]!;
    all[t] = hist.dram[t]! + hist.nvm[t]!;
    movableDram[t] = hist.dram[t]!;
    movableNvm[t] = hist.nvm[t]!;
    nvmPages += hist.nvm[t]!;
  }
  // Pages moved in this or the last window may not move again yet: take them out.
  const seen = state.scratch;
  uncountMoved(state, state.movedNow, seen, movableNvm, movableDram);
  uncountMoved(state, state.movedBefore, seen, movableNvm, movableDram);
  clearMarks(seen, state.movedNow);
  clearMarks(seen, state.movedBefore);
  out.scannedPages = counts.scannedPages;
  out.seenPages = counts.seenPages;
  out.nextScanPages = counts.nextScanPages;
  out.nvmPages = nvmPages;
}

/** Takes each listed page out of its movable histogram once (the all-zero scratch bitmap marks pages done). */
function uncountMoved(state: PageState, list: PageList, done: Uint32Array, movableNvm: Uint32Array, movableDram: Uint32Array): void {
  const { temperature, nvm } = state;
  for (let i = 0; i < list.length; i++) {
    const page = list.pages[i]!;
    const w = page >>> 5;
    const bit = 1 << (page & 31);
    if ((done[w]! & bit) !== 0) continue;
    done[w] = done[w]! | bit;
    const t = temperature[page]!;
    if ((nvm[w]! & bit) !== 0) movableNvm[t]!--;
    else movableDram[t]!--;
  }
}

function clearMarks(marks: Uint32Array, list: PageList): void {
  for (let i = 0; i < list.length; i++) marks[list.pages[i]! >>> 5] = 0;
}

interface FoldCounts {
  scannedPages: number;
  seenPages: number;
  nextScanPages: number;
}

/** The fused pass: temperatures, queue levels and the next scan set, word by word. */
function foldWindow(state: PageState, hist: TemperatureHistograms, next: number): FoldCounts {
  const { temperature, warm, scan, nvm, pageCount, words } = state;
  const r0 = state.reads[0]!, r1 = state.reads[1]!, r2 = state.reads[2]!, r3 = state.reads[3]!;
  const w0 = state.writes[0]!, w1 = state.writes[1]!, w2 = state.writes[2]!, w3 = state.writes[3]!;
  const la = state.level[0]!, lb = state.level[1]!, lc = state.level[2]!;
  const m1 = PHASE_MASKS[1]![next & 1]!;
  const m2 = PHASE_MASKS[2]![next & 3]!;
  const m3 = PHASE_MASKS[3]![next & 7]!;
  const m4 = PHASE_MASKS[4]![next & 15]!;
  const tailMask = (pageCount & 31) === 0 ? -1 : (1 << (pageCount & 31)) - 1;
  let scannedPages = 0;
  let seenPages = 0;
  let nextScanPages = 0;

  for (let w = 0; w < words; w++) {
    const scanned = scan[w]!;
    // Level bits: a = bit 0, b = bit 1, c = bit 2 (levels 0..4; c is set only at level 4).
    let a = la[w]!, b = lb[w]!, c = lc[w]!;
    if (scanned !== 0) {
      const ra = r0[w]!, rb = r1[w]!, rc = r2[w]!, rd = r3[w]!;
      const wa = w0[w]!, wb = w1[w]!, wc = w2[w]!, wd = w3[w]!;
      const evidence = ra | rb | rc | rd | wa | wb | wc | wd;
      const seen = evidence & scanned;
      // Only scanned pages with evidence or warmth need per-page work.
      const work = scanned & (evidence | warm[w]!);
      if (work !== 0) {
        const inNvm = nvm[w]!;
        let warmWord = warm[w]!;
        const base = w << 5;
        for (let x = work; x !== 0; x &= x - 1) {
          const bit = 31 - Math.clz32(x & -x);
          const t = temperature[base + bit]!;
          let nt: number;
          if (((seen >>> bit) & 1) !== 0) {
            const reads = ((ra >>> bit) & 1) | (((rb >>> bit) & 1) << 1) | (((rc >>> bit) & 1) << 2) | (((rd >>> bit) & 1) << 3);
            const writes = ((wa >>> bit) & 1) | (((wb >>> bit) & 1) << 1) | (((wc >>> bit) & 1) << 2) | (((wd >>> bit) & 1) << 3);
            nt = nextTemperature(t, reads, writes);
          } else {
            nt = t - (t >>> 1);
          }
          if (nt !== t) {
            temperature[base + bit] = nt;
            hist.retemper((inNvm & (1 << bit)) !== 0, t, nt);
            if (nt === 0) warmWord &= ~(1 << bit);
            else warmWord |= 1 << bit;
          }
        }
        warm[w] = warmWord;
      }
      if (seen !== 0) {
        // The scanned pages' evidence is folded in: clear their counters.
        const keep = ~scanned;
        r0[w] = ra & keep; r1[w] = rb & keep; r2[w] = rc & keep; r3[w] = rd & keep;
        w0[w] = wa & keep; w1[w] = wb & keep; w2[w] = wc & keep; w3[w] = wd & keep;
        seenPages += popcount32(seen);
      }
      // Queue levels, 32 pages at once: seen -> up (saturating at MAX_LEVEL), unseen -> down (at 0).
      const up = seen;
      const down = scanned & ~seen;
      const stay = ~scanned;
      const na = (a & stay) | (up & ~a & ~c) | (down & ((~a & b) | c));
      const nb = (b & stay) | (up & (a ^ b)) | (down & ((a & b) | c));
      const nc = (c & stay) | (up & ((a & b) | c));
      a = na; b = nb; c = nc;
      la[w] = a; lb[w] = b; lc[w] = c;
      scannedPages += popcount32(scanned);
    }
    let due = ~(a | b | c) | (a & ~b & m1) | (~a & b & m2) | (a & b & m3) | (c & m4);
    if (w === words - 1) due &= tailMask;
    scan[w] = due;
    if (due !== 0) nextScanPages += popcount32(due);
  }
  return { scannedPages, seenPages, nextScanPages };
}
