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
 * its 8 evidence planes, everyRound and warm bits, and everyWritten's word
 * where it has worked pages; a word whose due pages are all at level 0, cold
 * and without evidence stops there: nothing of it changes but its scan word),
 * plus per-page work only
 * for scanned pages that were seen or are still warm (found 32 at a time; a
 * page whose temperature comes out the same moves no histogram bucket),
 * plus O(pages moved lately) to mark moved pages blocked and take them out of
 * the movable histograms. Hot pages that settled high are not visited. Pages
 * per tier come from the histograms. Levels, warm words and temperatures
 * are stored only where they change, so the lines of a word that keeps its
 * state (a cold word, a settled one) are not written back; scan words are
 * stored in every word visited (1 bit per page).
 */
import { popcount32 } from '../util/bitmap.js';
import { counterAtLeast } from './evidence.js';
import type { TemperatureHistograms } from './histograms.js';
import { BLOCK_PAGES, MAX_LEVEL, scanPeriod, type PageList, type PageState } from './page-state.js';
import { nextTemperature, TEMPERATURE_LEVELS } from './temperature.js';
import type { WriteCounts } from './write-counts.js';

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

/**
 * The fused pass: temperatures, queue levels and the next scan set, word by word.
 *
 * Loads are `| 0` (int32) throughout: a Uint32Array value at or above 2^31
 * compared with the int32 result of a bit operation is compared as a double.
 *
 * Temperatures and histograms: an unwritten page's next temperature is a
 * table look-up by (rounds accessed, temperature), and it only counts its old
 * temperature per rounds accessed and tier (one increment, in `moved`): the
 * histograms move bucket by bucket after the pass. A written page (few)
 * computes its own and moves the histograms itself.
 *
 * Pages of PageState.everyWritten (seen and written in every round, no
 * count stored) take a table row of their own, as unwritten pages do: no
 * look-up. Explicit write counts (write-counts.ts): dense planes are read in the pass (when
 * some page was written) and cleared where they are not zero; a sparse table
 * marks its pages in the scratch bitmap first (all zero here, the pass
 * clears it again), so the pass reads 1 bit per page, and looks a count up
 * only for a written page it needs it for.
 */
const CHUNK_WORDS = 1024;

/** Rows of the pass's temperature table: rounds accessed 0..15 of unwritten pages, then EVERY_WRITTEN_ROW. */
const EVERY_WRITTEN_ROW = 16;
const TABLE_ROWS = 17;
/** Where EVERY_WRITTEN_ROW starts in the table (row times TEMPERATURE_LEVELS). */
const EVERY_WRITTEN_OFFSET = EVERY_WRITTEN_ROW * TEMPERATURE_LEVELS;

/**
 * Whether a page with any warmth or evidence always comes out warm (a new
 * temperature of 0 only from 0 with no evidence): then the pass marks its
 * worked pages warm 32 at a time instead of page by page. Checked once over
 * every input of nextTemperature (temperature.ts may change its rule).
 */
const WORKED_STAY_WARM = ((): boolean => {
  for (let t = 0; t < TEMPERATURE_LEVELS; t++) {
    for (let r = 0; r < 16; r++) for (let w = 0; w < 16; w++) if ((t | r | w) !== 0 && nextTemperature(t, r, w) === 0) return false;
  }
  return true;
})();

/** One window's pass: its inputs, tables and running totals (one shape for every window). */
class WindowFold {
  settledScanned = 0;
  settledDown = 0;
  writtenPages = 0;
  readonly temperature: Uint8Array;
  readonly warm: Uint32Array;
  readonly scan: Uint32Array;
  readonly nvm: Uint32Array;
  readonly reads: Uint32Array;
  readonly level: Uint32Array;
  readonly everyRound: Uint32Array;
  readonly explicitReads: boolean;
  readonly writeCounts: WriteCounts;
  /** Dense write counts (isDense), else empty. */
  readonly dense: Uint32Array;
  readonly isDense: boolean;
  /** Sparse write counts with pages marked in `written` (the scratch bitmap). */
  readonly sparse: boolean;
  readonly written: Uint32Array;
  readonly useEveryRound: boolean;
  /** Pages written in every round (PageState.everyWritten, while it holds this window's implicit counts), else empty. */
  readonly everyWritten: Uint32Array;
  readonly useEveryWritten: boolean;
  readonly e0: number;
  readonly e1: number;
  readonly e2: number;
  readonly e3: number;
  readonly everyIsHot: number;
  readonly hotRounds: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
  readonly m4: number;
  /**
   * nextTemperature of unwritten pages, [rounds accessed][t], and in row
   * EVERY_WRITTEN_ROW of pages seen and written in every round; pages leaving
   * each temperature so, [row][tier][t].
   */
  readonly unwritten = new Uint8Array(TABLE_ROWS * TEMPERATURE_LEVELS);
  readonly moved = new Int32Array(TABLE_ROWS * 2 * TEMPERATURE_LEVELS);
  /** Whether a new temperature is held at level 0. */
  readonly held = new Uint8Array(TEMPERATURE_LEVELS);
  /** Some temperature is held (else the pass does not look `held` up). */
  readonly anyHeld: boolean;
  /** Rounds accessed of a page seen in every round (the window's rounds, at most 15). */
  readonly everyCount: number;
  /** everyCount's row in the table (times TEMPERATURE_LEVELS). */
  readonly everyRow: number;
  readonly histNvm: Uint32Array;
  readonly histDram: Uint32Array;
  /** The block summary the pass keeps (trackBlocks), else empty. */
  activeBlocks: Uint32Array = new Uint32Array(0);
  trackBlocks = false;

  constructor(state: PageState, hist: TemperatureHistograms, next: number, rule: QueueRule) {
    const { hotRounds, holdFrom, holdTo } = rule;
    this.temperature = state.temperature;
    this.warm = state.warm;
    this.scan = state.scan;
    this.nvm = state.nvm;
    this.reads = state.reads;
    this.level = state.level;
    this.everyRound = state.everyRound;
    this.explicitReads = state.explicitReads;
    this.writeCounts = state.writes;
    const dense = state.anyWrites ? state.writes.dense : undefined;
    this.isDense = dense !== undefined;
    this.dense = dense ?? new Uint32Array(0);
    this.sparse = state.anyWrites && dense === undefined && state.writes.size > 0;
    this.written = state.scratch;
    // Pages accessed in every round have that many rounds accessed, implicitly: as plane masks.
    const rounds = Math.min(state.roundsThisWindow, 15);
    this.e0 = (rounds & 1) !== 0 ? -1 : 0;
    this.e1 = (rounds & 2) !== 0 ? -1 : 0;
    this.e2 = (rounds & 4) !== 0 ? -1 : 0;
    this.e3 = (rounds & 8) !== 0 ? -1 : 0;
    this.useEveryRound = rounds !== 0;
    const everyWritten = rounds !== 0 && state.everyWrittenLive && state.everyWrittenPages > 0 ? state.everyWritten : undefined;
    this.useEveryWritten = everyWritten !== undefined;
    this.everyWritten = everyWritten ?? new Uint32Array(0);
    // Without explicit counts, a page's rounds accessed is `rounds` if in everyRound, else 0: hot iff rounds >= hotRounds.
    this.everyIsHot = hotRounds <= 1 || rounds >= hotRounds ? -1 : 0;
    this.hotRounds = hotRounds;
    this.m1 = PHASE_MASKS[1]![next & 1]! | 0;
    this.m2 = PHASE_MASKS[2]![next & 3]! | 0;
    this.m3 = PHASE_MASKS[3]![next & 7]! | 0;
    this.m4 = PHASE_MASKS[4]![next & 15]! | 0;
    const TL = TEMPERATURE_LEVELS;
    for (let r = 0; r < 16; r++) for (let t = 0; t < TL; t++) this.unwritten[r * TL + t] = nextTemperature(t, r, 0);
    for (let t = 0; t < TL; t++) this.unwritten[EVERY_WRITTEN_ROW * TL + t] = nextTemperature(t, rounds, rounds);
    for (let t = 0; t < TL; t++) this.held[t] = t >= holdFrom && t <= holdTo ? 1 : 0;
    this.anyHeld = this.held.includes(1);
    this.everyCount = rounds;
    this.everyRow = rounds * TEMPERATURE_LEVELS;
    this.histNvm = hist.nvm;
    this.histDram = hist.dram;
  }
}

function foldWindow(state: PageState, hist: TemperatureHistograms, next: number, rule: QueueRule): { scanned: number; down: number } {
  const { pageCount, words } = state;
  const f = new WindowFold(state, hist, next, rule);
  if (f.sparse) f.writeCounts.markInto(f.written);
  // The last word's bits past the guest's pages are never due.
  const tailDue = (pageCount & 31) !== 0 ? (1 << (pageCount & 31)) - 1 : -1;
  // Runs of blocks to visit (active, or with evidence or a scan set changed from outside), at most CHUNK_WORDS at a time.
  const activeBlocks = state.blocksToVisit();
  f.activeBlocks = activeBlocks ?? f.activeBlocks;
  f.trackBlocks = activeBlocks !== undefined;
  if (activeBlocks === undefined) {
    // Dense write counts: no block summary, every word visited.
    for (let w = 0; w < words; w += CHUNK_WORDS) foldWords(f, w, Math.min(words, w + CHUNK_WORDS));
    f.scan[words - 1] = f.scan[words - 1]! & tailDue;
    finishWindow(state, f);
    return { scanned: f.settledScanned, down: f.settledDown };
  }
  const blocks = Math.ceil(words / BLOCK_WORDS);
  let run = -1;
  for (let k = 0; k < blocks; k++) {
    const from = k * BLOCK_WORDS;
    const visit = (activeBlocks[k >>> 5]! & (1 << (k & 31))) !== 0 || !quietBlock(f, from, Math.min(words, from + BLOCK_WORDS), tailDue);
    if (visit && run < 0) run = k;
    if (run >= 0 && (!visit || k + 1 - run === CHUNK_WORDS / BLOCK_WORDS)) {
      const end = visit ? k + 1 : k;
      foldBlocks(f, run, end, words, tailDue);
      run = -1;
    }
  }
  if (run >= 0) foldBlocks(f, run, blocks, words, tailDue);
  finishWindow(state, f);
  return { scanned: f.settledScanned, down: f.settledDown };
}

/** After the pass: the histogram moves, and every evidence counter back to 0. */
function finishWindow(state: PageState, f: WindowFold): void {
  applyMoves(f);
  const { writeCounts } = f;
  // All evidence is folded in (or was for pages not due, and is dropped): clear the counters.
  if (state.explicitReads) state.reads.fill(0);
  if (state.anyWrites) writeCounts.endWindow(f.isDense ? f.writtenPages : writeCounts.size);
  state.everyWrittenLive = false;
  state.explicitReads = false;
  state.anyWrites = false;
}

/** Words per bit of PageState.activeBlocks (a power of two). */
const BLOCK_WORDS = BLOCK_PAGES >>> 5;
const BLOCK_WORD_SHIFT = Math.log2(BLOCK_WORDS);

/**
 * Whether the pass may skip words [from, to) of a block it left quiet (all
 * pages at level 0 and cold): none in everyRound or with an explicit read
 * count, every page due. Nothing of theirs changes then: no evidence, so no
 * temperature, level or histogram moves, and the scan set stays all due.
 */
function quietBlock(f: WindowFold, from: number, to: number, tailDue: number): boolean {
  const { everyRound, scan, reads, useEveryRound, explicitReads } = f;
  const last = scan.length - 1;
  for (let w = from; w < to; w++) {
    if ((scan[w]! | 0) !== (w === last ? tailDue : -1)) return false;
    if (useEveryRound && everyRound[w] !== 0) return false;
    if (explicitReads && (reads[4 * w]! | reads[4 * w + 1]! | reads[4 * w + 2]! | reads[4 * w + 3]!) !== 0) return false;
  }
  return true;
}

/** The pass over blocks [first, end) (it sets each one's activeBlocks bit iff a page in it keeps a level or warmth). */
function foldBlocks(f: WindowFold, first: number, end: number, words: number, tailDue: number): void {
  const to = Math.min(words, end * BLOCK_WORDS);
  foldWords(f, first * BLOCK_WORDS, to);
  if (to === words) f.scan[words - 1] = f.scan[words - 1]! & tailDue;
}

/** The unwritten pages' histogram moves, bucket by bucket. */
function applyMoves(f: WindowFold): void {
  const { unwritten, moved, histDram, histNvm } = f;
  const TL = TEMPERATURE_LEVELS;
  for (let r = 0; r < TABLE_ROWS; r++) {
    for (let t = 0; t < TL; t++) {
      moveBucket(histDram, t, unwritten[r * TL + t]!, moved[2 * r * TL + t]!);
      moveBucket(histNvm, t, unwritten[r * TL + t]!, moved[(2 * r + 1) * TL + t]!);
    }
  }
}

function moveBucket(h: Uint32Array, from: number, to: number, pages: number): void {
  if (pages === 0 || from === to) return;
  h[from]! -= pages;
  h[to]! += pages;
}

/**
 * The pass over words [from, to): called in chunks (CHUNK_WORDS), so V8
 * optimizes it as a function with the feedback of earlier chunks, never by
 * on-stack replacement in the middle of one long loop (whose code, compiled
 * before the loop's rarer paths ran, deoptimizes on each of them, window
 * after window).
 */
function foldWords(f: WindowFold, from: number, to: number): void {
  const { temperature, warm, scan, nvm, reads, level, everyRound, written, dense, unwritten, moved, held, histNvm, histDram, writeCounts, everyWritten } = f;
  const { explicitReads, isDense, sparse, useEveryRound, useEveryWritten, e0, e1, e2, e3, everyIsHot, hotRounds, m1, m2, m3, m4, anyHeld, everyRow } = f;
  const TL = TEMPERATURE_LEVELS;
  let { settledScanned, settledDown, writtenPages } = f;
  const { activeBlocks, trackBlocks } = f;
  const lastWord = scan.length - 1;
  // Whether a page of the current block keeps a level or warmth (its activeBlocks bit after the pass).
  let busy = 0;
  for (let w = from; w < to; w++) {
    const scanned = scan[w]! | 0;
    // Level bits: a = bit 0, b = bit 1, c = bit 2 (levels 0..4; c is set only at level 4).
    const li = 3 * w;
    let a = level[li]! | 0, b = level[li + 1]! | 0, c = level[li + 2]! | 0;
    if (scanned !== 0) {
      const ci = w << 2;
      const everyWord = useEveryRound ? everyRound[w]! | 0 : 0;
      let wa = 0, wb = 0, wc = 0, wd = 0;
      let writtenWord = 0;
      if (isDense) {
        // Read unconditionally (a branch on the word's sieve bits would be mispredicted half the time), cleared where set.
        wa = dense[ci]! | 0; wb = dense[ci + 1]! | 0; wc = dense[ci + 2]! | 0; wd = dense[ci + 3]! | 0;
        writtenWord = wa | wb | wc | wd;
        if (writtenWord !== 0) {
          dense[ci] = 0; dense[ci + 1] = 0; dense[ci + 2] = 0; dense[ci + 3] = 0;
          writtenPages += popcount32(writtenWord);
        }
      } else if (sparse) {
        writtenWord = written[w]! | 0;
        if (writtenWord !== 0) written[w] = 0;
      }
      const every = everyWord & scanned;
      let ra = every & e0, rb = every & e1, rc = every & e2, rd = every & e3;
      let hot = every & everyIsHot;
      if (explicitReads) {
        ra |= reads[ci]! | 0; rb |= reads[ci + 1]! | 0; rc |= reads[ci + 2]! | 0; rd |= reads[ci + 3]! | 0;
        hot = hotRounds <= 1 ? -1 : counterAtLeast(ra, rb, rc, rd, hotRounds);
      }
      const seen = (ra | rb | rc | rd | writtenWord) & scanned;
      // Only scanned pages with evidence or warmth need per-page work.
      const warmBefore = warm[w]! | 0;
      const work = seen | (scanned & warmBefore);
      if ((work | (scanned & (a | b | c))) === 0) {
        // Every due page is at level 0, cold and without evidence: none of its state changes
        // (it stays at level 0, is not settled, stays cold), so the level update is skipped.
        busy |= warmBefore;
      } else {
        let hold = 0;
        if (work !== 0) {
          let warmWord = warmBefore;
          const inNvm = nvm[w]! | 0;
          const base = w << 5;
          // Scanned pages not seen have 0 rounds accessed (their planes bits are clear within `scanned`).
          const sa = ra & scanned, sb = rb & scanned, sc = rc & scanned, sd = rd & scanned;
          // Pages written in every round they were seen in (everyRound's too): their row of the table.
          // Their row is picked per page in the one loop below (no loop of their own: fewer live values in the pass).
          const implicit = useEveryWritten ? work & everyWritten[w]! : 0;
          // Unwritten pages (nearly all): the next temperature from the table, the histogram move counted in `moved`.
          // The pages that come out cold (temperature 0: a cooled page without evidence), for the warm word.
          let cold = 0;
          for (let x = work & ~writtenWord; x !== 0; x &= x - 1) {
            const bit = 31 - Math.clz32(x & -x);
            const t = temperature[base + bit]!;
            // The page's table row (times TL) by masks, not branches or multiplications: its bits are as random as
            // the page. Without explicit counts a worked page was seen in every round (everyCount) or in none; a page
            // of everyWritten takes row EVERY_WRITTEN_ROW.
            let row = explicitReads
              ? (((sa >>> bit) & 1) | (((sb >>> bit) & 1) << 1) | (((sc >>> bit) & 1) << 2) | (((sd >>> bit) & 1) << 3)) * TL
              : -((every >>> bit) & 1) & everyRow;
            row ^= -((implicit >>> bit) & 1) & (row ^ EVERY_WRITTEN_OFFSET);
            const nt = unwritten[row + t]!;
            if (anyHeld) hold |= held[nt]! << bit;
            // A page that keeps its temperature (a settled page seen as often as before) moves no histogram:
            // its bucket's move in applyMoves would be from t to t.
            if (nt !== t) {
              temperature[base + bit] = nt;
              // Bucket (2 * row + tier) * TL + t of `moved`.
              moved[2 * row + ((inNvm >>> bit) & 1) * TL + t]!++;
            }
            cold |= ((nt - 1) >>> 31) << bit;
          }
          // Every worked unwritten page is warm after the window unless it came out cold.
          warmWord = (warmWord | (work & ~writtenWord)) & ~cold;
          // Written pages (few): their own next temperature and histogram move.
          for (let x = work & writtenWord; x !== 0; x &= x - 1) {
            const bit = 31 - Math.clz32(x & -x);
            const t = temperature[base + bit]!;
            const reads = ((sa >>> bit) & 1) | (((sb >>> bit) & 1) << 1) | (((sc >>> bit) & 1) << 2) | (((sd >>> bit) & 1) << 3);
            const writes = isDense
              ? ((wa >>> bit) & 1) | (((wb >>> bit) & 1) << 1) | (((wc >>> bit) & 1) << 2) | (((wd >>> bit) & 1) << 3)
              : writeCounts.get(base + bit);
            const nt = nextTemperature(t, reads, writes);
            const h = ((inNvm >>> bit) & 1) !== 0 ? histNvm : histDram;
            h[t]!--;
            h[nt]!++;
            hold |= held[nt]! << bit;
            if (nt !== t) temperature[base + bit] = nt;
            warmWord = nt === 0 ? warmWord & ~(1 << bit) : warmWord | (1 << bit);
          }
          const warmAfter = WORKED_STAY_WARM ? warmWord | work : warmWord;
          if (warmAfter !== warmBefore) warm[w] = warmAfter;
          busy |= warmAfter;
        } else {
          busy |= warmBefore;
        }
        // Queue levels, 32 pages at once: hot -> up (saturating at MAX_LEVEL), else down (at 0).
        const up = (hotRounds <= 1 ? seen : seen & hot) & ~hold;
        const down = scanned & ~up;
        // Pages at level >= 2 (bit 1 or bit 2 of the level) that were due: the queue's sample of its settled pages.
        // Unconditional (as the stores below): whether a word has any is as random as the pages due.
        const settled = scanned & (b | c);
        settledScanned += popcount32(settled);
        if ((settled & down) !== 0) settledDown += popcount32(settled & down);
        const stay = ~scanned;
        const na = (a & stay) | (up & ~a & ~c) | (down & ((~a & b) | c));
        const nb = (b & stay) | (up & (a ^ b)) | (down & ((a & b) | c));
        const nc = (c & stay) | (up & ((a & b) | c));
        // Stored only where changed (most words keep their levels): a clean cache line is not written back.
        if (na !== a) level[li] = na;
        if (nb !== b) level[li + 1] = nb;
        if (nc !== c) level[li + 2] = nc;
        a = na; b = nb; c = nc;
      }
    } else if (isDense) {
      // Writes of pages not due are dropped (a host may report accessed pages outside the scan set).
      const ci = w << 2;
      const x = dense[ci]! | dense[ci + 1]! | dense[ci + 2]! | dense[ci + 3]!;
      if (x !== 0) {
        dense[ci] = 0; dense[ci + 1] = 0; dense[ci + 2] = 0; dense[ci + 3] = 0;
        writtenPages += popcount32(x);
      }
    } else if (sparse && written[w] !== 0) {
      written[w] = 0;
    }
    if (trackBlocks) {
      // A word with no page due has every page at a level above 0: busy either way.
      busy |= a | b | c;
      if ((w & (BLOCK_WORDS - 1)) === BLOCK_WORDS - 1 || w === lastWord) {
        const k = w >>> BLOCK_WORD_SHIFT;
        if (busy !== 0) activeBlocks[k >>> 5] = activeBlocks[k >>> 5]! | (1 << (k & 31));
        else activeBlocks[k >>> 5] = activeBlocks[k >>> 5]! & ~(1 << (k & 31));
        busy = 0;
      }
    }
    const due = ~(a | b | c) | (a & ~b & m1) | (~a & b & m2) | (a & b & m3) | (c & m4);
    // Stored unconditionally: whether a word's scan set changes is as random as its pages at levels
    // above 0 in this window's phase (mispredicted about half the time in a guest of scattered hot pages).
    scan[w] = due;
  }
  f.settledScanned = settledScanned;
  f.settledDown = settledDown;
  f.writtenPages = writtenPages;
}
