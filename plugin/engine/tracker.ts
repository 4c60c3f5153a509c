/**
 * Access tracking: scan rounds within a monitoring window, over the pages the
 * multi-level queue says are due, plus the PML-style dirty log.
 *
 * The first round of a window harvests (test-and-clear) the accessed bits of
 * every due page; each later round harvests only the pages seen in every
 * round so far, PageState.everyRound (the sieve of schedule.ts: with rounds
 * that get shorter, the count of rounds a page survives is its access rate on
 * a log scale). The dirty log is drained every round and adds one to "rounds
 * written" for each logged page that this round harvested and saw.
 *
 * Cost per round: the first round swaps the harvested bitmap in as
 * everyRound (no pass); a later round is one pass of two loads per word (the
 * harvested bits against everyRound) plus a clear of the scratch bitmap (a chunk at a time, behind the pass), and
 * a page leaving the sieve gets its count written into PageState.reads
 * (bit-sliced, 32 pages per word operation). Each dirty-log entry costs a
 * bit test against everyRound (32 at a time, branch-free); with sparse write
 * counts a seen entry then costs a bit test against PageState.everyWritten
 * (the pages logged in every round so far, whose count is implicit) and
 * nothing more in the usual case, a table increment only for a seen page
 * outside it, and a page that leaves it (not logged this round) one table
 * insert; finding those is a walk over the words everyWritten's summary
 * marks, only in a round where some page left, plus a second pass over the
 * log only for a page the round saw but did not log (addLoggedPagesImplicit).
 * In a round where more of its pages leave than stay, everyWritten is written
 * out (a table insert per page) and dropped: that window and the next
 * EVERY_WRITTEN_BACKOFF count with a table increment per seen entry only.
 * Dense counts take one bit-sliced increment per
 * seen entry. No pass over all pages either way. Only when the log
 * overflowed does a full dirty scan go through the scratch bitmap word by
 * word.
 *
 * A page the queue leaves alone gathers no evidence at all: its accessed bit
 * is not cleared until it is due again, and its logged writes are dropped.
 * (Counting a skipped page's writes but not its reads would let a page that
 * settled at a high level come back with up to 16 windows of writes against
 * one window of reads, and outrank pages read far more often.)
 */
import type { DirtyLogDrain, MemoryHost } from '../host/memory-host.js';
import { bitmapFill, createBitmap, popcount32, type Bitmap } from '../util/bitmap.js';
import type { PageState } from './page-state.js';
import { incrementPlanes, type WriteCounts } from './write-counts.js';

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
    // The sieve: after the window's first round, only the pages seen in every round so far.
    const firstRound = state.roundsThisWindow === 0;
    const pagesScanned = await this.host.testAndClearAccessed(firstRound ? state.scan : state.everyRound, scratch);
    if (firstRound) {
      // Its accessed pages (a subset of scan) are the pages seen in every
      // round so far: swap the bitmaps, no pass needed.
      const spare = state.everyRound;
      spare.fill(0);
      state.everyRound = scratch;
      state.scratch = spare;
    } else if (foldAccessed(scratch, state.everyRound, state.reads, state.roundsThisWindow)) {
      state.explicitReads = true;
    }
    state.roundsThisWindow++;

    let log: DirtyLogDrain;
    try {
      log = await this.host.drainDirtyLog();
    } catch (err) {
      // No write counted this round: the implicit counts stay at the rounds before it.
      state.materializeEveryWritten(Math.min(state.roundsThisWindow - 1, 15));
      throw err;
    }
    const hadWrites = state.anyWrites;
    if (log.count > 0 || log.overflowed) state.anyWrites = true;
    if (!log.overflowed) {
      // Writes count for the pages this round saw (everyRound, after the fold).
      const dense = state.writes.dense;
      if (dense !== undefined) addLoggedPages(log.pages, log.count, state.everyRound, dense, state.pageCount);
      else if (firstRound) startLoggedPages(state, log.pages, log.count, hadWrites);
      else if (state.everyWrittenLive) addLoggedPagesImplicit(state, log.pages, log.count);
      else addLoggedPagesSparse(log.pages, log.count, state.everyRound, state.writes, state.pageCount);
    } else {
      // Writes were dropped from the log: a full dirty scan so none is missed (every count explicit from here on).
      state.materializeEveryWritten(Math.min(state.roundsThisWindow - 1, 15));
      const dirty = state.scratch;
      markPages(dirty, log.pages, log.count, state.pageCount);
      this.allPages ??= fullBitmap(state.pageCount);
      await this.host.testAndClearDirty(this.allPages, dirty);
      maskInPlace(dirty, state.everyRound);
      addDirtyBitmap(dirty, state.writes);
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

/** Windows without everyWritten after one where most of it left (a retry then costs one more fallback). */
const EVERY_WRITTEN_BACKOFF = 4;

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
 * Folds one later round's accessed bits into the evidence: `round` (>= 1) is
 * the number of rounds this window before this one, and the round harvested
 * only `everyRound` (the pages seen in every round so far; a host that
 * reports more is masked). A page it did not see leaves `everyRound` with its
 * count, `round`, written into `planes`. Clears `bits`. Returns whether any
 * count was written.
 */
export function foldAccessed(bits: Bitmap, everyRound: Bitmap, planes: Uint32Array, round: number): boolean {
  const count = round > 15 ? 15 : round;
  // The count written for pages that miss their first round now, as plane masks.
  const c0 = (count & 1) !== 0 ? -1 : 0, c1 = (count & 2) !== 0 ? -1 : 0, c2 = (count & 4) !== 0 ? -1 : 0, c3 = (count & 8) !== 0 ? -1 : 0;
  let explicit = false;
  const words = bits.length;
  const groups = words & ~7;
  // The words past the last group of eight first: code after the hot loop that no
  // call has run yet made V8's on-stack-replaced loop deoptimize at its exit, every call.
  for (let w = groups; w < words; w++) {
    if ((everyRound[w]! & ~bits[w]!) !== 0) {
      explicit = true;
      dropUnseen(bits, everyRound, planes, w, c0, c1, c2, c3);
    }
    bits[w] = 0;
  }
  for (let g = 0; g < groups; g += FOLD_CHUNK_WORDS) {
    const end = Math.min(groups, g + FOLD_CHUNK_WORDS);
    if (foldGroups(bits, everyRound, planes, g, end, c0, c1, c2, c3)) explicit = true;
    // Cleared a chunk at a time while its lines are in cache: a branch per group on whether it held
    // bits was mispredicted once the sieve held a page in most groups (tracker 15% slower at 16 Mi pages).
    bits.fill(0, g, end);
  }
  return explicit;
}

/** Words per call of foldGroups (as window-close.ts's chunks: V8 optimizes a called function, not one long loop by on-stack replacement). */
const FOLD_CHUNK_WORDS = 4096;

/**
 * foldAccessed over words [from, to), eight words per test (V8 checks each array once per
 * iteration, so wider groups cost less per word): the usual group
 * has its pages seen again, or none in the sieve. Leaves `bits` for the
 * caller to clear.
 */
function foldGroups(bits: Bitmap, everyRound: Bitmap, planes: Uint32Array, from: number, to: number, c0: number, c1: number, c2: number, c3: number): boolean {
  let explicit = false;
  for (let g = from; g < to; g += 8) {
    const left = (everyRound[g]! & ~bits[g]!) | (everyRound[g + 1]! & ~bits[g + 1]!) | (everyRound[g + 2]! & ~bits[g + 2]!) | (everyRound[g + 3]! & ~bits[g + 3]!)
      | (everyRound[g + 4]! & ~bits[g + 4]!) | (everyRound[g + 5]! & ~bits[g + 5]!) | (everyRound[g + 6]! & ~bits[g + 6]!) | (everyRound[g + 7]! & ~bits[g + 7]!);
    if (left !== 0) {
      explicit = true;
      for (let w = g; w < g + 8; w++) dropUnseen(bits, everyRound, planes, w, c0, c1, c2, c3);
    }
  }
  return explicit;
}

/** Takes word w's pages the round did not see out of the sieve, their count (plane masks c0..c3) into `planes`. */
function dropUnseen(bits: Bitmap, everyRound: Bitmap, planes: Uint32Array, w: number, c0: number, c1: number, c2: number, c3: number): void {
  const all = everyRound[w]! | 0;
  const drop = all & ~bits[w]!;
  if (drop === 0) return;
  everyRound[w] = all & ~drop;
  const i = w << 2;
  // Only the planes of the count's set bits (the same ones for the whole call, so the branches are predicted).
  if (c0 !== 0) planes[i] = planes[i]! | drop;
  if (c1 !== 0) planes[i + 1] = planes[i + 1]! | drop;
  if (c2 !== 0) planes[i + 2] = planes[i + 2]! | drop;
  if (c3 !== 0) planes[i + 3] = planes[i + 3]! | drop;
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
 * Adds one to the 4-bit counter (interleaved planes) of every logged page set
 * in `seen` (saturating at 15). The log holds each page at most once per drain
 * (MemoryHost contract); entries past the guest's pages are ignored. 32
 * entries at a time: first a mask of those whose page the round saw
 * (seenMask: 32 independent loads of `seen`, no branch), then an increment
 * for each of its set bits only (most logged pages are not in the sieve; the
 * four planes of a page share a cache line).
 */
export function addLoggedPages(pages: Uint32Array, count: number, seen: Bitmap, planes: Uint32Array, pageCount: number): void {
  for (let start = 0; start < count; start += 32) {
    const mask = seenMask(pages, start, start + 32 <= count ? 32 : count - start, seen, pageCount);
    for (let x = mask; x !== 0; x &= x - 1) {
      const page = pages[start + 31 - Math.clz32(x & -x)]!;
      incrementPlanes(planes, (page >>> 5) << 2, 1 << (page & 31));
    }
  }
}

/** addLoggedPages for sparse write counts (a table increment per page the round saw). */
export function addLoggedPagesSparse(pages: Uint32Array, count: number, seen: Bitmap, writes: WriteCounts, pageCount: number): void {
  for (let start = 0; start < count; start += 32) {
    const mask = seenMask(pages, start, start + 32 <= count ? 32 : count - start, seen, pageCount);
    for (let x = mask; x !== 0; x &= x - 1) writes.increment(pages[start + 31 - Math.clz32(x & -x)]!);
  }
}

/**
 * The window's first round with sparse write counts: each logged page it saw
 * goes into everyRound's written twin, PageState.everyWritten (its count is
 * the window's rounds, implicitly), unless it already has a count (only when
 * something set evidence before the round: then it is counted in the table).
 */
function startLoggedPages(state: PageState, pages: Uint32Array, count: number, hadWrites: boolean): void {
  const { everyRound: seen, pageCount } = state;
  const map = state.startEveryWritten();
  for (let start = 0; start < count; start += 32) {
    const mask = seenMask(pages, start, start + 32 <= count ? 32 : count - start, seen, pageCount);
    for (let x = mask; x !== 0; x &= x - 1) {
      const page = pages[start + 31 - Math.clz32(x & -x)]!;
      // An increment may make the counts dense, which writes everyWritten out (then the rest are counted there too).
      if (map !== undefined && state.everyWrittenLive && (!hadWrites || state.writes.get(page) === 0)) state.addEveryWritten(page);
      else state.writes.increment(page);
    }
  }
}

/**
 * A later round's logged pages with everyWritten in use. A page of
 * everyWritten logged again costs a bit test (the usual case: nothing else
 * happens); a seen page outside it is listed (PageState.everyWrittenLeft)
 * and incremented in the table after the pass; a page of everyWritten this
 * round did not log leaves it, its count (the rounds before this one)
 * written into the table. Cost: one pass over the log (seenMask, then a bit
 * test per seen entry); only when some page leaves everyWritten, a walk over
 * the words its summary marks that takes out the pages the round did not
 * see (two loads a word: the usual leavers, pages that left the sieve), and
 * only when some seen page was not logged, a second pass over the log
 * marking the kept ones in the scratch bitmap and a second walk. The table
 * is grown for all of them first (reserve), so its form cannot change
 * midway; when that takes the dense form, or when more pages leave
 * everyWritten than stay (a spread of access rates: each round's leavers
 * would cost a walk of its summary, where a table increment per seen page
 * is cheaper once few are left), everyWritten is written out (one table
 * insert per page) and this round's and the window's later logs are counted
 * as without it (a second pass over this round's log); after it gave way so,
 * the next EVERY_WRITTEN_BACKOFF windows do without it from their first
 * round (PageState.everyWrittenBackoff), at the table's cost only.
 */
function addLoggedPagesImplicit(state: PageState, pages: Uint32Array, count: number): void {
  const { everyRound: seen, pageCount, writes } = state;
  const map = state.everyWritten!;
  const before = Math.min(state.roundsThisWindow - 1, 15);
  const outside = state.everyWrittenLeft;
  outside.length = 0;
  let hits = 0;
  for (let start = 0; start < count; start += 32) {
    const mask = seenMask(pages, start, start + 32 <= count ? 32 : count - start, seen, pageCount);
    for (let x = mask; x !== 0; x &= x - 1) {
      const page = pages[start + 31 - Math.clz32(x & -x)]! | 0;
      if ((((map[page >>> 5]! | 0) >>> (page & 31)) & 1) !== 0) hits++;
      else outside.push(page);
    }
  }
  const leaving = state.everyWrittenPages - hits;
  if (leaving === 0 && outside.length === 0) return;
  // Most of it leaving (pages with a spread of rates leave the sieve round by round): everyWritten no longer pays for its
  // walks, so its counts go to the table for the rest of the window, as does a batch that takes the dense form.
  if (leaving > hits || !writes.reserve(leaving + outside.length)) {
    outside.length = 0;
    state.materializeEveryWritten(before);
    if (leaving > hits) {
      // Backed off: its bitmaps go too (allocated again by the window that tries it next).
      state.everyWrittenBackoff = EVERY_WRITTEN_BACKOFF;
      state.everyWritten = undefined;
      state.everyWrittenWords = undefined;
    }
    addLoggedPagesSparse(pages, count, seen, writes, pageCount);
    return;
  }
  // First the pages that left the sieve this round (no pass over the log); only if some seen page was not logged, the kept ones marked.
  if (leaving > 0 && keepEveryWritten(map, state.everyWrittenWords!, seen, false, writes, before) < leaving) {
    const kept = state.scratch; // all zero after the fold
    for (let start = 0; start < count; start += 32) {
      const mask = seenMask(pages, start, start + 32 <= count ? 32 : count - start, seen, pageCount);
      for (let x = mask; x !== 0; x &= x - 1) {
        const page = pages[start + 31 - Math.clz32(x & -x)]! | 0;
        const w = page >>> 5;
        kept[w] = kept[w]! | (map[w]! & (1 << (page & 31)));
      }
    }
    keepEveryWritten(map, state.everyWrittenWords!, kept, true, writes, before);
  }
  state.everyWrittenPages = hits;
  for (let i = 0; i < outside.length; i++) writes.increment(outside.pages[i]!);
  outside.length = 0;
}

/**
 * Keeps in everyWritten only its pages that are also in `keep`; the others
 * leave it, their count, `before`, written into the table. Visits the words
 * the summary marks (two loads each), and clears their summary bits where no
 * page is left. `clearKeep`: `keep` is scratch (the kept pages marked in it,
 * a subset of everyWritten, so within those words), zeroed on the way.
 * Returns how many pages left.
 */
function keepEveryWritten(map: Bitmap, summary: Bitmap, keep: Bitmap, clearKeep: boolean, writes: WriteCounts, before: number): number {
  let dropped = 0;
  for (let s = 0; s < summary.length; s++) {
    let y = summary[s]! | 0;
    if (y === 0) continue;
    for (let z = y; z !== 0; z &= z - 1) {
      const bit = 31 - Math.clz32(z & -z);
      const w = (s << 5) + bit;
      const all = map[w]! | 0;
      const stay = all & keep[w]!;
      if (clearKeep) keep[w] = 0;
      const lost = all & ~stay;
      if (lost !== 0) {
        map[w] = stay;
        dropped += popcount32(lost);
        for (let x = lost; x !== 0; x &= x - 1) writes.set((w << 5) + 31 - Math.clz32(x & -x), before);
      }
      if (stay === 0) y &= ~(1 << bit);
    }
    summary[s] = y;
  }
  return dropped;
}

/** Bit j: log entry start + j (j < n) is a guest page set in `seen`. */
function seenMask(pages: Uint32Array, start: number, n: number, seen: Bitmap, pageCount: number): number {
  let mask = 0;
  let j = 0;
  // Four entries per iteration: V8 checks each array and the loop's interrupt once per iteration, so a loop of
  // one entry spent more on those than on the entry (tracker 7.6 -> 7.1 ms a window at 16 Mi pages, 168 Ki entries a round).
  for (; j + 4 <= n; j += 4) {
    const p0 = pages[start + j]! | 0, p1 = pages[start + j + 1]! | 0, p2 = pages[start + j + 2]! | 0, p3 = pages[start + j + 3]! | 0;
    const g0 = (p0 >>> 0) < pageCount ? 1 : 0, g1 = (p1 >>> 0) < pageCount ? 1 : 0, g2 = (p2 >>> 0) < pageCount ? 1 : 0, g3 = (p3 >>> 0) < pageCount ? 1 : 0;
    mask |= ((((seen[p0 >>> 5]! | 0) >>> (p0 & 31)) & g0) | ((((seen[p1 >>> 5]! | 0) >>> (p1 & 31)) & g1) << 1)
      | ((((seen[p2 >>> 5]! | 0) >>> (p2 & 31)) & g2) << 2) | ((((seen[p3 >>> 5]! | 0) >>> (p3 & 31)) & g3) << 3)) << j;
  }
  for (; j < n; j++) {
    const page = pages[start + j]! | 0;
    const inGuest = (page >>> 0) < pageCount ? 1 : 0;
    mask |= (((seen[page >>> 5]! | 0) >>> (page & 31)) & inGuest) << j;
  }
  return mask;
}

/** Adds one to the write count of every page set in `bits` (dense: 32 pages per word operation) and clears `bits`. */
function addDirtyBitmap(bits: Bitmap, writes: WriteCounts): void {
  for (let w = 0; w < bits.length; w++) {
    const word = bits[w]! | 0;
    if (word === 0) continue;
    bits[w] = 0;
    const dense = writes.dense; // may become dense midway
    if (dense !== undefined) incrementPlanes(dense, w << 2, word);
    else for (let x = word; x !== 0; x &= x - 1) writes.increment((w << 5) + 31 - Math.clz32(x & -x));
  }
}

function fullBitmap(bits: number): Bitmap {
  const map = createBitmap(bits);
  bitmapFill(map, bits);
  return map;
}
