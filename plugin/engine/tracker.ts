/**
 * Access tracking: scan rounds within a monitoring window, over the pages the
 * multi-level queue says are due, plus the PML-style dirty log.
 *
 * Each round harvests (test-and-clear) the accessed bits of the due pages and
 * adds one to a page's "rounds accessed" count if its bit was set; the dirty log
 * is drained every round and adds one to "rounds written" for each logged page.
 * A page the queue leaves alone keeps its accessed bit uncleared until it is
 * due again. Counts saturate at 15.
 */
import type { MemoryHost } from '../host/memory-host.js';
import { bitmapFill, createBitmap, type Bitmap } from '../util/bitmap.js';
import type { PageState } from './page-state.js';

export interface RoundStats {
  pagesScanned: number;
  accessedPages: number;
  dirtyLogEntries: number;
  fullDirtyScan: boolean;
  bufferFullExits: number;
}

const READS_MAX = 0x0f;
const WRITES_STEP = 0x10;
const WRITES_MAX = 0xf0;

export class Tracker {
  private allPages: Bitmap | undefined;

  constructor(private readonly host: MemoryHost, private readonly state: PageState) {}

  async scanRound(): Promise<RoundStats> {
    const { state } = this;
    const scratch = state.scratch;
    scratch.fill(0);
    const pagesScanned = await this.host.testAndClearAccessed(state.scan, scratch);
    const accessedPages = addReads(scratch, state.window);

    const log = await this.host.drainDirtyLog();
    const win = state.window;
    for (let i = 0; i < log.count; i++) {
      const page = log.pages[i]!;
      const w = win[page]!;
      if ((w & WRITES_MAX) !== WRITES_MAX) win[page] = w + WRITES_STEP;
    }
    if (log.overflowed) {
      // Writes were dropped from the log: fall back to a full dirty scan so none is missed.
      this.allPages ??= fullBitmap(state.pageCount);
      scratch.fill(0);
      await this.host.testAndClearDirty(this.allPages, scratch);
      addWrites(scratch, win);
    }
    return {
      pagesScanned,
      accessedPages,
      dirtyLogEntries: log.count,
      fullDirtyScan: log.overflowed,
      bufferFullExits: log.bufferFullExits,
    };
  }
}

function fullBitmap(bits: number): Bitmap {
  const map = createBitmap(bits);
  bitmapFill(map, bits);
  return map;
}

/** window[i] reads += 1 for every set bit i (saturating); returns the number of set bits. */
function addReads(bits: Bitmap, win: Uint8Array): number {
  let n = 0;
  for (let w = 0; w < bits.length; w++) {
    let x = bits[w]!;
    while (x !== 0) {
      const low = x & -x;
      const page = (w << 5) + 31 - Math.clz32(low);
      const v = win[page]!;
      if ((v & READS_MAX) !== READS_MAX) win[page] = v + 1;
      x ^= low;
      n++;
    }
  }
  return n;
}

function addWrites(bits: Bitmap, win: Uint8Array): void {
  for (let w = 0; w < bits.length; w++) {
    let x = bits[w]!;
    while (x !== 0) {
      const low = x & -x;
      const page = (w << 5) + 31 - Math.clz32(low);
      const v = win[page]!;
      if ((v & WRITES_MAX) !== WRITES_MAX) win[page] = v + WRITES_STEP;
      x ^= low;
    }
  }
}
