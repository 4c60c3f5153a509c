/**
 * Access tracking: scan rounds within a monitoring window, over the pages the
 * multi-level queue says are due, plus the PML-style dirty log.
 *
 * The first round of a window harvests (test-and-clear) the accessed bits of
 * every due page; each later round harvests only the pages seen in every
 * round so far (the sieve of schedule.ts: with rounds that get shorter, the
 * count of rounds a page survives is its access rate on a log scale). A seen
 * page's "rounds accessed" counter goes up by one. The dirty log is drained
 * every round and adds one to "rounds written" for each logged page that this
 * round harvested and saw. The counters are bit-sliced (PageState.reads/
 * writes), so a round costs O(pages / 32) word operations however many pages
 * were touched, plus one bit set per dirty-log entry.
 *
 * A page the queue leaves alone gathers no evidence at all: its accessed bit
 * is not cleared until it is due again, and its logged writes are dropped.
 * (Counting a skipped page's writes but not its reads would let a page that
 * settled at a high level come back with up to 16 windows of writes against
 * one window of reads, and outrank pages read far more often.)
 */
import type { MemoryHost } from '../host/memory-host.js';
import { bitmapAndInPlace, bitmapFill, createBitmap, popcount32, type Bitmap } from '../util/bitmap.js';
import type { PageState } from './page-state.js';

export interface RoundStats {
  pagesScanned: number;
  accessedPages: number;
  dirtyLogEntries: number;
  fullDirtyScan: boolean;
  bufferFullExits: number;
}

export class Tracker {
  private allPages: Bitmap | undefined;

  constructor(private readonly host: MemoryHost, private readonly state: PageState) {}

  /** Round `round` (0-based) of the current window. */
  async scanRound(round: number): Promise<RoundStats> {
    const { state } = this;
    const scratch = state.scratch;
    scratch.fill(0);
    const harvest = round === 0 ? state.scan : state.roundScan;
    const pagesScanned = await this.host.testAndClearAccessed(harvest, scratch);
    // Only this round's harvest counts (a host may report more than it was asked for).
    bitmapAndInPlace(scratch, harvest);
    const accessedPages = addRoundToCounters(scratch, state.reads, state.pending);
    // The survivors are the next round's harvest.
    state.roundScan.set(scratch);

    const log = await this.host.drainDirtyLog();
    scratch.fill(0);
    markPages(scratch, log.pages, log.count);
    if (log.overflowed) {
      // Writes were dropped from the log: a full dirty scan so none is missed.
      this.allPages ??= fullBitmap(state.pageCount);
      await this.host.testAndClearDirty(this.allPages, scratch);
    }
    bitmapAndInPlace(scratch, state.roundScan);
    addRoundToCounters(scratch, state.writes, state.pending);
    return {
      pagesScanned,
      accessedPages,
      dirtyLogEntries: log.count,
      fullDirtyScan: log.overflowed,
      bufferFullExits: log.bufferFullExits,
    };
  }
}

// Hot loops live in plain functions: V8 optimizes loops inside async functions late.

function markPages(bits: Bitmap, pages: Uint32Array, count: number): void {
  for (let i = 0; i < count; i++) {
    const page = pages[i]!;
    bits[page >>> 5]! |= 1 << (page & 31);
  }
}

/**
 * Adds one to the 4-bit counters of every page set in `bits` (a ripple-carry
 * add on the bit planes, 32 pages per word operation; saturating at 15) and
 * marks them pending; returns how many pages were set.
 */
export function addRoundToCounters(bits: Bitmap, planes: readonly Bitmap[], pending: Bitmap): number {
  const [p0, p1, p2, p3] = planes as [Bitmap, Bitmap, Bitmap, Bitmap];
  let n = 0;
  for (let w = 0; w < bits.length; w++) {
    const word = bits[w]!;
    if (word === 0) continue;
    pending[w] = pending[w]! | word;
    n += popcount32(word);
    let carry = word;
    let c = p0[w]!;
    p0[w] = c ^ carry;
    carry &= c;
    if (carry === 0) continue;
    c = p1[w]!;
    p1[w] = c ^ carry;
    carry &= c;
    if (carry === 0) continue;
    c = p2[w]!;
    p2[w] = c ^ carry;
    carry &= c;
    if (carry === 0) continue;
    c = p3[w]!;
    p3[w] = c ^ carry;
    carry &= c;
    if (carry === 0) continue;
    // Overflow past 15: back to 15 (all ones) for those pages.
    p0[w] = p0[w]! | carry;
    p1[w] = p1[w]! | carry;
    p2[w] = p2[w]! | carry;
    p3[w] = p3[w]! | carry;
  }
  return n;
}

function fullBitmap(bits: number): Bitmap {
  const map = createBitmap(bits);
  bitmapFill(map, bits);
  return map;
}
