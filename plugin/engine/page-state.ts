/**
 * Everything the engine remembers per page: 24 bits (3 bytes, see bytesPerPage)
 * in typed arrays, no object per page.
 *
 *   temperature  Uint8   0..255, see temperature.ts
 *   reads        4 bits  this window's evidence as bit-sliced 4-bit counters: rounds the
 *   writes       4 bits  page was seen accessed / written (saturating at 15). Written
 *                        counts are a WriteCounts (write-counts.ts): a small hash table
 *                        of the written pages in most windows, 4 bit planes per page
 *                        when many pages were written (so at most 4 bits per page).
 *   level        3 bits  multi-level queue level 0..MAX_LEVEL as a bit-sliced 3-bit number
 *   everyRound   bitmap  due pages seen in every round of this window so far (the sieve):
 *                        their rounds-seen count is the window's round count, implicitly,
 *                        and their reads planes stay zero until a round misses them
 *   everyWritten bitmap  (sparse write counts only) pages of everyRound also logged in
 *                        every round so far: their rounds-written count is the window's
 *                        round count too, implicitly, and they have no entry in `writes`
 *                        until a round misses them (then the count goes to the table)
 *   nvm          bitmap  the engine's mirror of the host's tier map (set = slow tier)
 *   scan         bitmap  pages due for scanning in the current window
 *   warm         bitmap  pages with temperature above 0
 *   scratch      bitmap  per-round accessed bits from the host; between the window's
 *                        close and rotateMoved() it holds `blocked`; all zero otherwise
 *
 * reads and level are bit planes interleaved by word: bit k of the
 * counters of pages 32w..32w+31 is word [4w + k] of `reads` (3w + k of
 * `level`; dense write counts likewise), so the planes of 32 pages share a cache line and a pass over them
 * is one memory stream, not one per plane (14 separate streams of 2 MiB read
 * about 3x slower than one interleaved stream on the machines measured here).
 *
 * Besides the per-page arrays, the pages moved in this and in the previous
 * window are kept as lists (4 bytes per moved page, at most the rate limit's
 * pages per window each). Anti-thrash needs them as a bitmap only while the
 * plan is made: closeWindow() marks them in the scratch bitmap (`blocked`) and
 * rotateMoved() clears them again, O(pages moved) each.
 *
 * activeBlocks (1 bit per BLOCK_PAGES = 1024 pages, 2 KiB at 64 GiB; kept
 * only while the write counts are sparse, so it fits in the 4 bits per page
 * the dense counts would take, and the state stays within 3 bytes) marks
 * the blocks the window pass must visit: a clear bit promises every page of
 * the block is at level 0 and cold (temperature 0, not warm). The pass keeps
 * it (a block it leaves with no level and no warmth is cleared);
 * setEvidence() and markActive() set it for what writes those pages from
 * outside (tests, huge-page adoption); a new PageState has every block set.
 * The evidence, which the tracker writes, and the scan set, which the
 * huge-page code also writes, are checked by the pass itself: a block is
 * skipped only if its words are outside everyRound, have no explicit read
 * count and are all due (a page with a write count is in everyRound or has
 * a read count: the tracker counts writes of pages it saw). A guest whose
 * cold 80% sits in whole blocks then costs the pass two loads per cold word
 * (everyRound, scan; six when some page left the sieve) instead of the fold.
 *
 * everyWritten (1 bit per page, with a summary of 1 bit per word of it that
 * may hold bits, 1/32 bit per page) lives only while the write counts are
 * sparse, as activeBlocks does: 2.5 bytes for the planes and bitmaps above,
 * plus 1/8 for it, plus the table (at most a quarter of the dense planes'
 * half byte while sparse). When the counts go dense, or a round's log
 * overflowed, its pages get their counts written out (materializeEveryWritten)
 * and it is unused for the rest of the window; when more of its pages left
 * it in a round than stayed (a spread of access rates), it is written out
 * and dropped, and the next few windows count writes in the table only
 * (everyWrittenBackoff). A page written in every round
 * it was seen in, the usual case, so costs no table operation at all: one
 * bit set in the window's first round, one bit test per round after.
 *
 * warm and the OR of the evidence planes let the window pass and the planner
 * find the few pages that need per-page work 32 at a time: a cold page costs
 * a share of a word operation. explicitReads/anyWrites say when all counts
 * are zero, so the window pass need not read them.
 */
import { bitmapClear, bitmapFill, bitmapGet, bitmapSet, createBitmap, type Bitmap } from '../util/bitmap.js';
import { WriteCounts } from './write-counts.js';

/** Bits of the per-window evidence counters (so they saturate at 15). */
export const COUNTER_BITS = 4;

/** Highest queue level: a page there is scanned once every 2^MAX_LEVEL windows. */
export const MAX_LEVEL = 4;

/** Bit planes of the queue level (0..MAX_LEVEL). */
export const LEVEL_BITS = 3;

/** Pages per bit of PageState.activeBlocks (32 words of 32 pages). */
export const BLOCK_PAGES = 1024;

/** Scan period of a queue level in windows: every window at level 0, 2^L windows at level L. */
export const scanPeriod = (level: number): number => 1 << level;

/** A growable list of page indices. */
export class PageList {
  pages = new Uint32Array(0);
  length = 0;

  push(page: number): void {
    if (this.length === this.pages.length) {
      const grown = new Uint32Array(Math.max(256, this.pages.length * 2));
      grown.set(this.pages);
      this.pages = grown;
    }
    this.pages[this.length++] = page;
  }
}

export class PageState {
  readonly temperature: Uint8Array;
  /** Rounds accessed, bit-sliced and interleaved: bit k of the counts of word w's pages is [COUNTER_BITS * w + k]. */
  readonly reads: Uint32Array;
  /** Rounds written (sparse or dense, see write-counts.ts). */
  readonly writes: WriteCounts;
  /** Queue levels, bit-sliced and interleaved: bit k of word w's levels is [LEVEL_BITS * w + k]. */
  readonly level: Uint32Array;
  /** Due pages accessed in every round of this window so far (valid once a round ran). */
  everyRound: Bitmap;
  readonly nvm: Bitmap;
  readonly scan: Bitmap;
  readonly warm: Bitmap;
  /** Blocks of BLOCK_PAGES pages the window pass must visit (see the header); undefined while the write counts are dense. */
  activeBlocks: Bitmap | undefined;
  /** Pages seen and logged in every round so far (see the header); undefined while the write counts are dense or it is backed off. */
  everyWritten: Bitmap | undefined;
  /** Bit w: word w of everyWritten may hold bits (a superset: cleared lazily). */
  everyWrittenWords: Bitmap | undefined;
  /** Pages set in everyWritten. */
  everyWrittenPages = 0;
  /** everyWritten holds this window's implicit write counts (set by the window's first round; off once they were written out). */
  everyWrittenLive = false;
  /** Windows left that count writes without everyWritten (it gave way in a recent window: most of it left). */
  everyWrittenBackoff = 0;
  /** The tracker's list of a round's logged pages seen but outside everyWritten (counted in the table after the log's pass). */
  readonly everyWrittenLeft = new PageList();
  /** Swapped with everyRound by a window's first round (so read it afresh, do not keep it). */
  scratch: Bitmap;
  /** Rounds folded into the evidence so far in this window. */
  roundsThisWindow = 0;
  /** Some page has an explicit rounds-accessed count this window (else the reads planes are all zero). */
  explicitReads = false;
  /** Some page has a rounds-written count this window (else the writes planes are all zero). */
  anyWrites = false;
  /** The scratch bitmap holds the blocked marks (closeWindow() until rotateMoved()). */
  blockedMarked = false;
  /** Pages moved in this window / in the previous one. */
  movedNow = new PageList();
  movedBefore = new PageList();
  readonly words: number;
  /** Windows closed so far. */
  windowIndex = 0;

  constructor(readonly pageCount: number) {
    this.words = (pageCount + 31) >>> 5;
    this.temperature = new Uint8Array(pageCount);
    this.reads = new Uint32Array(COUNTER_BITS * this.words);
    // The block summary gives way to dense write counts, so the state stays within 3 bytes per page.
    this.writes = new WriteCounts(pageCount, () => {
      this.activeBlocks = undefined;
      // Between rounds the implicit counts are the window's rounds (the tracker writes them out itself within a round).
      if (this.everyWrittenLive) this.materializeEveryWritten(Math.min(this.roundsThisWindow, 15));
      this.everyWritten = undefined;
      this.everyWrittenWords = undefined;
    });
    this.level = new Uint32Array(LEVEL_BITS * this.words);
    this.everyRound = createBitmap(pageCount);
    this.nvm = createBitmap(pageCount);
    this.scan = createBitmap(pageCount);
    this.warm = createBitmap(pageCount);
    this.scratch = createBitmap(pageCount);
    this.activeBlocks = this.writes.dense === undefined ? allBlocks(pageCount) : undefined;
  }

  /**
   * The block summary for this window's pass: undefined while the write
   * counts are dense (the pass visits every block), else the kept one, or
   * every block set if it was dropped (the pass then rebuilds it).
   */
  blocksToVisit(): Bitmap | undefined {
    if (this.writes.dense !== undefined) return undefined;
    this.activeBlocks ??= allBlocks(this.pageCount);
    return this.activeBlocks;
  }

  /** Pages [first, first + count) may have been given a level, warmth or evidence from outside the window pass. */
  markActive(first: number, count = 1): void {
    const active = this.activeBlocks;
    if (active === undefined) return;
    const last = Math.min(this.pageCount, first + count) - 1;
    for (let b = Math.floor(first / BLOCK_PAGES); b <= Math.floor(last / BLOCK_PAGES); b++) bitmapSet(active, b);
  }

  /**
   * The window's first round starts everyWritten afresh (allocated if the
   * counts are sparse and it was dropped): cleared word by word where its
   * summary says it may hold bits. Returns it, or undefined while dense or
   * while it is backed off (everyWrittenBackoff windows after one where it
   * gave way: then the window counts writes in the table only, as it would
   * without everyWritten, and pays no fallback).
   */
  startEveryWritten(): Bitmap | undefined {
    this.everyWrittenLive = false;
    if (this.writes.dense !== undefined) return undefined;
    if (this.everyWrittenBackoff > 0) {
      this.everyWrittenBackoff--;
      return undefined;
    }
    if (this.everyWritten === undefined || this.everyWrittenWords === undefined) {
      this.everyWritten = createBitmap(this.pageCount);
      this.everyWrittenWords = createBitmap(this.words);
    } else {
      clearBySummary(this.everyWritten, this.everyWrittenWords);
    }
    this.everyWrittenPages = 0;
    this.everyWrittenLive = true;
    return this.everyWritten;
  }

  /** Adds a page to everyWritten (it must have no count in `writes`). */
  addEveryWritten(page: number): void {
    const map = this.everyWritten!;
    const w = page >>> 5;
    const bit = 1 << (page & 31);
    if ((map[w]! & bit) !== 0) return;
    map[w] = map[w]! | bit;
    this.everyWrittenWords![w >>> 5] = this.everyWrittenWords![w >>> 5]! | (1 << (w & 31));
    this.everyWrittenPages++;
  }

  /**
   * Writes every everyWritten page's implicit count out as `count` (the rounds
   * it was written in so far) into `writes` and stops using everyWritten for
   * this window. O(words with its bits) plus a count update per page.
   */
  materializeEveryWritten(count: number): void {
    if (!this.everyWrittenLive) return;
    this.everyWrittenLive = false;
    const map = this.everyWritten!, summary = this.everyWrittenWords!;
    this.everyWrittenPages = 0;
    if (count === 0) return clearBySummary(map, summary);
    for (let s = 0; s < summary.length; s++) {
      for (let y = summary[s]! | 0; y !== 0; y &= y - 1) {
        const w = (s << 5) + 31 - Math.clz32(y & -y);
        const word = map[w]! | 0;
        map[w] = 0;
        for (let x = word; x !== 0; x &= x - 1) this.writes.set((w << 5) + 31 - Math.clz32(x & -x), count);
      }
      summary[s] = 0;
    }
  }

  /** Whether page is in everyWritten with this window's implicit count. */
  private inEveryWritten(page: number): boolean {
    return this.everyWrittenLive && this.roundsThisWindow > 0 && bitmapGet(this.everyWritten!, page);
  }

  /** Queue level of one page (0..MAX_LEVEL). */
  levelOf(page: number): number {
    return sliceAt(this.level, LEVEL_BITS, page);
  }

  /** Rounds accessed so far in this window (explicit count, or implicit for pages accessed every round). */
  roundsAccessed(page: number): number {
    if (this.roundsThisWindow > 0 && bitmapGet(this.everyRound, page)) return Math.min(this.roundsThisWindow, 15);
    return sliceAt(this.reads, COUNTER_BITS, page);
  }

  /** Whether a page has evidence not yet folded into its temperature. */
  hasEvidence(page: number): boolean {
    return this.roundsAccessed(page) !== 0 || this.roundsWritten(page) !== 0;
  }

  /** Rounds written so far in this window. */
  roundsWritten(page: number): number {
    if (this.inEveryWritten(page)) return Math.min(this.roundsThisWindow, 15);
    return this.writes.get(page);
  }

  /** Sets a page's evidence counters (tests, and what a tracker does round by round). */
  setEvidence(page: number, roundsAccessed: number, roundsWritten: number): void {
    setSlice(this.reads, COUNTER_BITS, page, roundsAccessed);
    this.markActive(page);
    this.explicitReads = true;
    this.anyWrites = true;
    if (this.inEveryWritten(page)) {
      bitmapClear(this.everyWritten!, page);
      this.everyWrittenPages--;
    }
    this.writes.set(page, roundsWritten);
  }

  /**
   * Pages moved in this or the previous window: not movable (anti-thrash), as
   * a bitmap. It lives in the scratch bitmap from the first read after a
   * round (closeWindow() marks it) until rotateMoved() or the next round, so
   * read it between rounds only (window close, plan, unit adoption).
   */
  get blocked(): Bitmap {
    this.markBlocked();
    return this.scratch;
  }

  /** A page was moved in this window: it may not move again in this or the next window. */
  markMoved(page: number): void {
    this.movedNow.push(page);
    if (this.blockedMarked) bitmapSet(this.scratch, page);
  }

  /** Marks the moved pages in `blocked` (the scratch bitmap); O(pages moved). */
  markBlocked(): void {
    if (this.blockedMarked) return;
    const { scratch } = this;
    for (const list of [this.movedNow, this.movedBefore]) {
      for (let i = 0; i < list.length; i++) bitmapSet(scratch, list.pages[i]!);
    }
    this.blockedMarked = true;
  }

  /** Clears the marks of markBlocked(): the scratch bitmap is all zero again. */
  clearBlocked(): void {
    if (!this.blockedMarked) return;
    const { scratch } = this;
    for (const list of [this.movedNow, this.movedBefore]) {
      for (let i = 0; i < list.length; i++) scratch[list.pages[i]! >>> 5] = 0;
    }
    this.blockedMarked = false;
  }

  /** Starts a new anti-thrash window: what moved now becomes "moved before"; O(pages moved). */
  rotateMoved(): void {
    this.clearBlocked();
    const before = this.movedBefore;
    before.length = 0;
    this.movedBefore = this.movedNow;
    this.movedNow = before;
  }

  bytesPerPage(): number {
    const none = new Uint32Array(0);
    const bitmaps = [this.everyRound, this.nvm, this.scan, this.warm, this.scratch, this.level, this.reads, this.activeBlocks ?? none, this.everyWritten ?? none, this.everyWrittenWords ?? none];
    const lists = this.movedNow.pages.byteLength + this.movedBefore.pages.byteLength + this.everyWrittenLeft.pages.byteLength;
    const bytes = this.temperature.byteLength + bitmaps.reduce((sum, b) => sum + b.byteLength, 0) + this.writes.bytes() + lists;
    return bytes / this.pageCount;
  }
}

/** Clears the words of `map` its summary marks, and the summary. */
function clearBySummary(map: Bitmap, summary: Bitmap): void {
  for (let s = 0; s < summary.length; s++) {
    for (let y = summary[s]! | 0; y !== 0; y &= y - 1) map[(s << 5) + 31 - Math.clz32(y & -y)] = 0;
    summary[s] = 0;
  }
}

/** A block summary with every block set. */
function allBlocks(pageCount: number): Bitmap {
  const blocks = Math.ceil(pageCount / BLOCK_PAGES);
  const map = createBitmap(blocks);
  bitmapFill(map, blocks);
  return map;
}

/** Value of one page's bit-sliced number in planes interleaved by word (`bits` planes). */
export function sliceAt(planes: Uint32Array, bits: number, page: number): number {
  const base = (page >>> 5) * bits;
  const b = page & 31;
  let v = 0;
  for (let k = 0; k < bits; k++) v |= ((planes[base + k]! >>> b) & 1) << k;
  return v;
}

/** Sets one page's bit-sliced number (`value` < 2^bits). */
export function setSlice(planes: Uint32Array, bits: number, page: number, value: number): void {
  const base = (page >>> 5) * bits;
  const bit = 1 << (page & 31);
  for (let k = 0; k < bits; k++) {
    if (((value >>> k) & 1) !== 0) planes[base + k] = planes[base + k]! | bit;
    else planes[base + k] = planes[base + k]! & ~bit;
  }
}
