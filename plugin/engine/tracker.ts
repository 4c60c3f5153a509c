/**
 * Access tracking: scan rounds within a monitoring window, over the pages the
 * multi-level queue says are due, plus the PML-style dirty log.
 *
 * Each round harvests (test-and-clear) the accessed bits of the due pages and
 * adds one to each accessed page's "rounds accessed" counter; the dirty log is
 * drained every round and adds one to "rounds written" for each logged page
 * that is due this window. The counters are bit-sliced (PageState.reads/
 * writes). A due page accessed in every round so far is only a bit in
 * PageState.everyRound (its count is the number of rounds): the round that
 * first misses it writes that number into its counter, and only pages that
 * missed a round before get a counter increment. So a round folds the
 * accessed bitmap in with O(pages / 32) word operations, and a word whose
 * pages were all accessed every round (or none ever) costs two loads; the
 * fold leaves the scratch bitmap zero again, so there is no clearing pass.
 * Each dirty-log entry is one bit-sliced increment (O(entries), no pass over
 * the pages). Only when the log overflowed does a full dirty scan go through
 * the scratch bitmap word by word.
 *
 * A page the queue leaves alone gathers no evidence at all: its accessed bit
 * is not cleared until it is due again, and its logged writes are dropped.
 * (Counting a skipped page's writes but not its reads would let a page that
 * settled at a high level come back with up to 16 windows of writes against
 * one window of reads, and outrank pages read far more often.)
 */
import type { MemoryHost } from '../host/memory-host.js';
import { bitmapFill, createBitmap, type Bitmap } from '../util/bitmap.js';
import type { PageState } from './page-state.js';

export interface RoundStats {
  pagesScanned: number;
  dirtyLogEntries: number;
  fullDirtyScan: boolean;
  bufferFullExits: number;
}

export class Tracker {
  private allPages: Bitmap | undefined;
  /** The scratch bitmap may hold bits (a host call failed midway): clear it before use. */
  private scratchDirty = false;

  constructor(private readonly host: MemoryHost, private readonly state: PageState) {}

  async scanRound(): Promise<RoundStats> {
    const { state } = this;
    const scratch = state.scratch;
    state.clearBlocked();
    if (this.scratchDirty) scratch.fill(0);
    this.scratchDirty = true;
    const pagesScanned = await this.host.testAndClearAccessed(state.scan, scratch);
    foldAccessed(scratch, state.scan, state.everyRound, state.reads, state.roundsThisWindow);
    state.roundsThisWindow++;

    const log = await this.host.drainDirtyLog();
    if (!log.overflowed) {
      addLoggedPages(log.pages, log.count, state.scan, state.writes, state.pageCount);
    } else {
      // Writes were dropped from the log: a full dirty scan so none is missed.
      markPages(scratch, log.pages, log.count, state.pageCount);
      this.allPages ??= fullBitmap(state.pageCount);
      await this.host.testAndClearDirty(this.allPages, scratch);
      maskInPlace(scratch, state.scan);
      foldRoundIntoPlanes(scratch, state.writes);
    }
    this.scratchDirty = false;
    return {
      pagesScanned,
      dirtyLogEntries: log.count,
      fullDirtyScan: log.overflowed,
      bufferFullExits: log.bufferFullExits,
    };
  }
}

// Hot loops live in plain functions: V8 optimizes loops inside async functions late.

function markPages(bits: Bitmap, pages: Uint32Array, count: number, pageCount: number): void {
  for (let i = 0; i < count; i++) {
    const page = pages[i]!;
    if (page < pageCount) bits[page >>> 5]! |= 1 << (page & 31);
  }
}

function maskInPlace(map: Bitmap, mask: Bitmap): void {
  for (let w = 0; w < map.length; w++) map[w] = map[w]! & mask[w]!;
}

/**
 * Folds one round's accessed bits into the evidence: `round` is the number of
 * rounds this window before this one. Pages accessed in every round so far
 * stay in `everyRound` (from the window's first round on, where it starts as
 * `scan`); a page leaving it gets its count, `round`, written into `planes`;
 * pages outside it that were accessed get one added. Clears `bits`.
 */
export function foldAccessed(bits: Bitmap, scan: Bitmap, everyRound: Bitmap, planes: Uint32Array, round: number): void {
  if (round === 0) {
    // First round of the window: everyRound becomes this round's accessed pages.
    for (let w = 0; w < bits.length; w++) {
      const word = bits[w]!;
      everyRound[w] = word & scan[w]!;
      if (word !== 0) bits[w] = 0;
    }
    return;
  }
  const count = round > 15 ? 15 : round;
  // The count written for pages that miss their first round now, as plane masks.
  const c0 = (count & 1) !== 0 ? -1 : 0, c1 = (count & 2) !== 0 ? -1 : 0, c2 = (count & 4) !== 0 ? -1 : 0, c3 = (count & 8) !== 0 ? -1 : 0;
  for (let w = 0; w < bits.length; w++) {
    const word = bits[w]!;
    const all = everyRound[w]!;
    if (word === all) {
      if (word !== 0) bits[w] = 0;
      continue;
    }
    if (word !== 0) bits[w] = 0;
    const drop = all & ~word;
    const i = w << 2;
    if (drop !== 0) {
      everyRound[w] = all & word;
      planes[i] = planes[i]! | (drop & c0);
      planes[i + 1] = planes[i + 1]! | (drop & c1);
      planes[i + 2] = planes[i + 2]! | (drop & c2);
      planes[i + 3] = planes[i + 3]! | (drop & c3);
    }
    const carry = word & ~all;
    if (carry !== 0) incrementAt(planes, i, carry);
  }
}

/** Adds one to the 4-bit counters at the bits of `mask` in the interleaved planes at [i..i+3], saturating at 15. */
function incrementAt(planes: Uint32Array, i: number, mask: number): void {
  let carry = mask;
  let c = planes[i]!;
  planes[i] = c ^ carry;
  carry &= c;
  if (carry === 0) return;
  c = planes[i + 1]!;
  planes[i + 1] = c ^ carry;
  carry &= c;
  if (carry === 0) return;
  c = planes[i + 2]!;
  planes[i + 2] = c ^ carry;
  carry &= c;
  if (carry === 0) return;
  c = planes[i + 3]!;
  planes[i + 3] = c ^ carry;
  carry &= c;
  if (carry === 0) return;
  // Overflow past 15: back to 15 (all ones) for those pages.
  planes[i] = planes[i]! | carry;
  planes[i + 1] = planes[i + 1]! | carry;
  planes[i + 2] = planes[i + 2]! | carry;
  planes[i + 3] = planes[i + 3]! | carry;
}

/**
 * Adds one to the 4-bit counters (interleaved planes) of every page set in
 * `bits`, 32 pages per word operation, saturating at 15, and clears `bits`.
 */
export function foldRoundIntoCounters(bits: Bitmap, planes: Uint32Array): void {
  for (let w = 0; w < bits.length; w++) {
    const word = bits[w]!;
    if (word === 0) continue;
    bits[w] = 0;
    incrementAt(planes, w << 2, word);
  }
}

/**
 * Adds one to the 4-bit counter of every logged page that is due this window
 * (saturating at 15). The log holds each page at most once per drain
 * (MemoryHost contract); entries past the guest's pages are ignored.
 */
export function addLoggedPages(pages: Uint32Array, count: number, scan: Bitmap, planes: readonly Bitmap[], pageCount: number): void {
  const p0 = planes[0]!, p1 = planes[1]!, p2 = planes[2]!, p3 = planes[3]!;
  for (let i = 0; i < count; i++) {
    const page = pages[i]!;
    if (page >= pageCount) continue;
    const w = page >>> 5;
    const bit = 1 << (page & 31);
    if ((scan[w]! & bit) === 0) continue;
    let c = p0[w]!;
    p0[w] = c ^ bit;
    if ((c & bit) === 0) continue;
    c = p1[w]!;
    p1[w] = c ^ bit;
    if ((c & bit) === 0) continue;
    c = p2[w]!;
    p2[w] = c ^ bit;
    if ((c & bit) === 0) continue;
    c = p3[w]!;
    p3[w] = c ^ bit;
    if ((c & bit) === 0) continue;
    // Was 15: stays 15.
    p0[w] = p0[w]! | bit;
    p1[w] = p1[w]! | bit;
    p2[w] = p2[w]! | bit;
    p3[w] = p3[w]! | bit;
  }
}

/** foldRoundIntoCounters for separate planes (the writes counters). */
function foldRoundIntoPlanes(bits: Bitmap, planes: readonly Bitmap[]): void {
  const p0 = planes[0]!, p1 = planes[1]!, p2 = planes[2]!, p3 = planes[3]!;
  for (let w = 0; w < bits.length; w++) {
    const word = bits[w]!;
    if (word === 0) continue;
    bits[w] = 0;
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
    p0[w] = p0[w]! | carry;
    p1[w] = p1[w]! | carry;
    p2[w] = p2[w]! | carry;
    p3[w] = p3[w]! | carry;
  }
}

function fullBitmap(bits: number): Bitmap {
  const map = createBitmap(bits);
  bitmapFill(map, bits);
  return map;
}
