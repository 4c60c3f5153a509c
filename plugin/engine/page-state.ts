/**
 * Everything the engine remembers per page: one byte and 20 bits per page
 * (3.5 bytes; see bytesPerPage), in typed arrays. No object per page.
 *
 *   temperature  Uint8   0..255, see temperature.ts
 *   reads[0..3]  bitmaps this window's evidence as bit-sliced 4-bit counters: rounds the
 *   writes[0..3]         page was seen accessed / written (saturating at 15). Bit-sliced,
 *                        a round adds its accessed bitmap to 32 counters per word operation.
 *   levels[L]    bitmap  multi-level queue: pages at level L (1..MAX_LEVEL); level 0 is "in none"
 *   nvm          bitmap  the engine's mirror of the host's tier map (set = slow tier)
 *   scan         bitmap  pages due for scanning in the current window
 *   movedNow/Before      anti-thrash: moved during this / the previous window
 *   pending      bitmap  pages with evidence not yet folded into their temperature
 *   warm         bitmap  pages with temperature above 0
 *   scratch      bitmap  per-round accessed/dirty bits returned by the host
 *   roundScan    bitmap  pages the next round harvests: those seen in every round of the
 *                        window so far (the sieve, schedule.ts)
 *
 * pending and warm let the window pass and the planner find the few pages
 * that need per-page work 32 at a time: cold pages cost a word operation.
 */
import { createBitmap, type Bitmap } from '../util/bitmap.js';

/** Bits of the per-window evidence counters (so they saturate at 15). */
export const COUNTER_BITS = 4;

/** Highest queue level: a page there is scanned once every 2^MAX_LEVEL windows. */
export const MAX_LEVEL = 4;

/** Scan period of a queue level in windows: every window at level 0, 2^L windows at level L. */
export const scanPeriod = (level: number): number => 1 << level;

export class PageState {
  readonly temperature: Uint8Array;
  /** Bit planes of the per-page counters: reads[k] holds bit k of every page's count. */
  readonly reads: Bitmap[];
  readonly writes: Bitmap[];
  /** levels[L] for L = 1..MAX_LEVEL (levels[0] is unused: level 0 is the absence of the others). */
  readonly levels: Bitmap[];
  readonly nvm: Bitmap;
  readonly scan: Bitmap;
  movedNow: Bitmap;
  movedBefore: Bitmap;
  readonly pending: Bitmap;
  readonly warm: Bitmap;
  readonly scratch: Bitmap;
  readonly roundScan: Bitmap;
  readonly words: number;
  /** Windows closed so far. */
  windowIndex = 0;

  constructor(readonly pageCount: number) {
    this.words = (pageCount + 31) >>> 5;
    this.temperature = new Uint8Array(pageCount);
    this.reads = Array.from({ length: COUNTER_BITS }, () => createBitmap(pageCount));
    this.writes = Array.from({ length: COUNTER_BITS }, () => createBitmap(pageCount));
    this.levels = [createBitmap(0)];
    for (let l = 1; l <= MAX_LEVEL; l++) this.levels.push(createBitmap(pageCount));
    this.nvm = createBitmap(pageCount);
    this.scan = createBitmap(pageCount);
    this.movedNow = createBitmap(pageCount);
    this.movedBefore = createBitmap(pageCount);
    this.pending = createBitmap(pageCount);
    this.warm = createBitmap(pageCount);
    this.scratch = createBitmap(pageCount);
    this.roundScan = createBitmap(pageCount);
  }

  /** Queue level of one page (0..MAX_LEVEL). */
  levelOf(page: number): number {
    const w = page >>> 5;
    const bit = 1 << (page & 31);
    for (let l = 1; l <= MAX_LEVEL; l++) if ((this.levels[l]![w]! & bit) !== 0) return l;
    return 0;
  }

  /** Starts a new anti-thrash window: what moved now becomes "moved before". */
  rotateMoved(): void {
    const old = this.movedBefore;
    this.movedBefore = this.movedNow;
    old.fill(0);
    this.movedNow = old;
  }

  bytesPerPage(): number {
    const bitmaps = [this.nvm, this.scan, this.movedNow, this.movedBefore, this.pending, this.warm, this.scratch, this.roundScan, ...this.levels];
    bitmaps.push(...this.reads, ...this.writes);
    const bytes = this.temperature.byteLength + bitmaps.reduce((sum, b) => sum + b.byteLength, 0);
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

