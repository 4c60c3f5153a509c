/**
 * Everything the engine remembers per page, in typed arrays (3 bytes + 5 bits
 * per page; see bytesPerPage). No object per page anywhere in the engine.
 *
 *   temperature  Uint8  0..255, see temperature.ts
 *   queue        Uint8  multi-level queue: level in bits 0-2, windows left to skip in bits 3-7
 *   window       Uint8  this window's evidence: rounds seen accessed (bits 0-3), rounds seen written (bits 4-7)
 *   bitmaps      nvm (engine's mirror of the host's tier map), scan (due this window),
 *                movedNow / movedBefore (anti-thrash: moved this or last window), scratch
 */
import { createBitmap, type Bitmap } from '../util/bitmap.js';

export const MAX_LEVEL = 5;
const LEVEL_MASK = 0x07;
const SKIP_SHIFT = 3;

export const queueLevel = (q: number): number => q & LEVEL_MASK;
export const queueSkip = (q: number): number => q >>> SKIP_SHIFT;
export const makeQueue = (level: number, skip: number): number => (skip << SKIP_SHIFT) | level;
/** Windows a page at `level` is left alone after a scan: 2^(level-1), none at level 0. */
export const skipWindowsForLevel = (level: number): number => (level === 0 ? 0 : 1 << (level - 1));

export const windowReads = (w: number): number => w & 0x0f;
export const windowWrites = (w: number): number => w >>> 4;

export class PageState {
  readonly temperature: Uint8Array;
  readonly queue: Uint8Array;
  readonly window: Uint8Array;
  readonly nvm: Bitmap;
  readonly scan: Bitmap;
  movedNow: Bitmap;
  movedBefore: Bitmap;
  /** Per-round scratch for accessed/dirty bits returned by the host. */
  readonly scratch: Bitmap;

  constructor(readonly pageCount: number) {
    this.temperature = new Uint8Array(pageCount);
    this.queue = new Uint8Array(pageCount);
    this.window = new Uint8Array(pageCount);
    this.nvm = createBitmap(pageCount);
    this.scan = createBitmap(pageCount);
    this.movedNow = createBitmap(pageCount);
    this.movedBefore = createBitmap(pageCount);
    this.scratch = createBitmap(pageCount);
  }

  /** Starts a new anti-thrash window: what moved now becomes "moved before". */
  rotateMoved(): void {
    const old = this.movedBefore;
    this.movedBefore = this.movedNow;
    old.fill(0);
    this.movedNow = old;
  }

  bytesPerPage(): number {
    const bitmaps = [this.nvm, this.scan, this.movedNow, this.movedBefore, this.scratch];
    const bytes = this.temperature.byteLength + this.queue.byteLength + this.window.byteLength +
      bitmaps.reduce((sum, b) => sum + b.byteLength, 0);
    return bytes / this.pageCount;
  }
}
