/**
 * Everything the engine remembers per page: 24 bits (3 bytes, see bytesPerPage)
 * in typed arrays, no object per page.
 *
 *   temperature  Uint8   0..255, see temperature.ts
 *   reads[0..3]  bitmaps this window's evidence as bit-sliced 4-bit counters: rounds the
 *   writes[0..3]         page was seen accessed / written (saturating at 15). Bit-sliced,
 *                        a round adds its accessed bitmap to 32 counters per word operation.
 *                        A page has evidence pending when any of its 8 bits is set (no
 *                        separate "pending" bitmap: the OR of the planes is it).
 *   level[0..2]  bitmaps multi-level queue level 0..MAX_LEVEL as a bit-sliced 3-bit number
 *   nvm          bitmap  the engine's mirror of the host's tier map (set = slow tier)
 *   scan         bitmap  pages due for scanning in the current window
 *   blocked      bitmap  anti-thrash: moved during this or the previous window
 *   warm         bitmap  pages with temperature above 0
 *   scratch      bitmap  per-round accessed bits from the host; all zero between uses
 *
 * Besides the per-page arrays, the pages moved in this and in the previous
 * window are kept as lists (4 bytes per moved page, at most the rate limit's
 * pages per window each), so that "moved before" ages out without a bitmap
 * and the window pass finds moved pages without a pass over all pages.
 *
 * warm and the OR of the evidence planes let the window pass and the planner
 * find the few pages that need per-page work 32 at a time: a cold page costs
 * a share of a word operation.
 */
import { bitmapSet, createBitmap, type Bitmap } from '../util/bitmap.js';

/** Bits of the per-window evidence counters (so they saturate at 15). */
export const COUNTER_BITS = 4;

/** Highest queue level: a page there is scanned once every 2^MAX_LEVEL windows. */
export const MAX_LEVEL = 4;

/** Bit planes of the queue level (0..MAX_LEVEL). */
export const LEVEL_BITS = 3;

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
  /** Bit planes of the per-page counters: reads[k] holds bit k of every page's count. */
  readonly reads: Bitmap[];
  readonly writes: Bitmap[];
  /** level[k] holds bit k of every page's queue level. */
  readonly level: Bitmap[];
  readonly nvm: Bitmap;
  readonly scan: Bitmap;
  /** Pages moved in this or the previous window: not movable (anti-thrash). */
  readonly blocked: Bitmap;
  readonly warm: Bitmap;
  readonly scratch: Bitmap;
  /** Pages moved in this window / in the previous one. */
  movedNow = new PageList();
  movedBefore = new PageList();
  readonly words: number;
  /** Windows closed so far. */
  windowIndex = 0;

  constructor(readonly pageCount: number) {
    this.words = (pageCount + 31) >>> 5;
    this.temperature = new Uint8Array(pageCount);
    this.reads = Array.from({ length: COUNTER_BITS }, () => createBitmap(pageCount));
    this.writes = Array.from({ length: COUNTER_BITS }, () => createBitmap(pageCount));
    this.level = Array.from({ length: LEVEL_BITS }, () => createBitmap(pageCount));
    this.nvm = createBitmap(pageCount);
    this.scan = createBitmap(pageCount);
    this.blocked = createBitmap(pageCount);
    this.warm = createBitmap(pageCount);
    this.scratch = createBitmap(pageCount);
  }

  /** Queue level of one page (0..MAX_LEVEL). */
  levelOf(page: number): number {
    return counterAt(this.level, page);
  }

  /** Whether a page has evidence not yet folded into its temperature. */
  hasEvidence(page: number): boolean {
    return counterAt(this.reads, page) !== 0 || counterAt(this.writes, page) !== 0;
  }

  /** A page was moved in this window: it may not move again in this or the next window. */
  markMoved(page: number): void {
    this.movedNow.push(page);
    bitmapSet(this.blocked, page);
  }

  /** Starts a new anti-thrash window: what moved now becomes "moved before"; O(pages moved). */
  rotateMoved(): void {
    const { blocked } = this;
    const before = this.movedBefore;
    const now = this.movedNow;
    for (let i = 0; i < before.length; i++) {
      const page = before.pages[i]!;
      blocked[page >>> 5] = blocked[page >>> 5]! & ~(1 << (page & 31));
    }
    // A page in both lists (moved by someone else's plan) stays blocked.
    for (let i = 0; i < now.length; i++) bitmapSet(blocked, now.pages[i]!);
    before.length = 0;
    this.movedBefore = now;
    this.movedNow = before;
  }

  bytesPerPage(): number {
    const bitmaps = [this.nvm, this.scan, this.blocked, this.warm, this.scratch, ...this.level, ...this.reads, ...this.writes];
    const lists = this.movedNow.pages.byteLength + this.movedBefore.pages.byteLength;
    const bytes = this.temperature.byteLength + bitmaps.reduce((sum, b) => sum + b.byteLength, 0) + lists;
    return bytes / this.pageCount;
  }
}

/** Value of one page's bit-sliced counter. */
export function counterAt(planes: readonly Bitmap[], page: number): number {
  const w = page >>> 5;
  const b = page & 31;
  let v = 0;
  for (let k = 0; k < planes.length; k++) v |= ((planes[k]![w]! >>> b) & 1) << k;
  return v;
}
