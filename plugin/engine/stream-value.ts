/**
 * What DRAM is worth to a followed stream (stream.ts), for the pool's benefit
 * curves.
 *
 * A page's temperature undervalues a moving window: a page is in the window
 * for a window or two and then cold for good, so it never climbs to the
 * temperature of a page hot for as long, however often the window's passes
 * touch it. Yet while the follower holds the window in DRAM, every one of
 * its pages (and each page of the lead, once the front reaches it) serves
 * the stream's passes. So a stream's pages are valued at the stream's own
 * per-page access rate, measured from this window's evidence, not at their
 * temperature:
 *
 *  - The rate. A page inside the window is touched once per pass, at the
 *    pass period T, so in the sieve (schedule.ts) it survives every round at
 *    least T long and none much shorter: its count k says T lies between the
 *    k-th round's length and the next one's. The stream's count is the median
 *    over the window's pages that were seen in at least `minRounds` rounds
 *    (the pages in the window since the first round; the rest entered later
 *    and were not harvested), read from at most MAX_SAMPLES pages spread
 *    evenly over the window; the rate is 1 / the geometric mean of the two
 *    round lengths (1 / the last round's length if it survived every round
 *    the window ran: the rate is at least that). A periodic toucher is read
 *    as periodic, not as Poisson (rateForRounds), which would value it about
 *    twice as high.
 *  - The pages. The trailing margin the follower keeps behind the back, the
 *    window's body (back to front) and the lead it promotes ahead of the
 *    front: the DRAM the follower needs to serve every pass from DRAM. These
 *    pages, and the still-warm trail the stream left behind the margin, are
 *    also in the temperature histogram; `streamValue` counts them by
 *    temperature so the curve can take them out there and count the
 *    follower's pages once, at the stream's rate (the trail at nothing).
 *
 * Cost per window and stream: at most MAX_SAMPLES counter reads before the
 * window closes, and one byte read per follower and trail page after (their
 * temperatures); placement is not changed.
 */
import type { PageState } from './page-state.js';
import type { RoundSchedule } from './schedule.js';
import { streamAt, wrap, type Stream } from './stream.js';
import { bitmapGet } from '../util/bitmap.js';

/** Pages of a window whose counts are read for its rate (spread evenly over it). */
export const MAX_SAMPLES = 4096;

/**
 * The trail behind a stream's margin runs while its pages are at least this
 * warm (a page that left the window cools by half a window, stream pages
 * start at about 8 to 16; 1 and 2 are what one touch of anything else gives)...
 */
export const TRAIL_MIN_TEMPERATURE = 3;
/** ...and ends after this many pages in a row below it. */
export const TRAIL_GAP_PAGES = 32;
/**
 * A stream's measured extent jitters from window to window (its ends depend
 * on what the first round happened to see, stream.ts; here by about a
 * sixth), while the follower needs the extent the stream reaches: so the
 * valued pages are the most of the last VALUED_WINDOWS windows'.
 */
export const VALUED_WINDOWS = 4;

/** A followed stream's DRAM demand at its per-page rate, for the pool's curve. */
export interface StreamValue {
  /** The follower's pages: trailing margin, body (back to front) and lead. */
  readonly pages: number;
  /** Of them, the lead ahead of the front (part of the engine's reservedPages). */
  readonly leadPages: number;
  /** What each of them is worth: the stream's per-page rate x body / pages. */
  readonly ratePerPage: number;
}

/**
 * [first page, pages] of the stream's body now (unwrapped, in the direction
 * of motion: `first` is the back; at most the VM's pages).
 */
export function streamBody(s: Stream, nowNs: number, pageCount: number): { first: number; pages: number; dir: 1 | -1 } {
  const { front, back } = streamAt(s, nowNs);
  const dir = s.velocity >= 0 ? 1 : -1;
  const pages = Math.max(0, Math.min(pageCount, Math.floor(Math.abs(front - back))));
  return { first: dir > 0 ? Math.ceil(back) : Math.floor(back), pages, dir };
}

/**
 * Median rounds seen this window by the stream's due pages seen in at least
 * `minRounds` (read before the window closes); 0 if none was.
 */
export function streamRoundsSeen(state: PageState, s: Stream, nowNs: number, minRounds: number): number {
  const n = state.pageCount;
  const { first, pages, dir } = streamBody(s, nowNs, n);
  if (pages <= 0) return 0;
  const samples = Math.min(pages, MAX_SAMPLES);
  const counts = new Uint32Array(16);
  let seen = 0;
  for (let i = 0; i < samples; i++) {
    const p = wrap(first + dir * Math.floor((i * pages) / samples), n);
    if (!bitmapGet(state.scan, p)) continue;
    const k = state.roundsAccessed(p);
    if (k >= minRounds) {
      counts[k]!++;
      seen++;
    }
  }
  if (seen === 0) return 0;
  let below = 0;
  for (let k = 0; k < 16; k++) {
    below += counts[k]!;
    if (2 * below >= seen) return k;
  }
  return 15;
}

/**
 * Accesses/s of a page touched periodically that survived `rounds` of the
 * window's `roundsRun` rounds: its period lies between the last survived
 * round's length and the next one's (geometric mean); if it survived every
 * round run, at least 1 / the last one's length.
 */
export function periodicRate(schedule: RoundSchedule, rounds: number, roundsRun: number): number {
  const d = schedule.intervalsNs;
  const k = Math.min(rounds, d.length, Math.max(1, roundsRun));
  if (k <= 0) return 0;
  const last = d[k - 1]!;
  if (k >= roundsRun || k >= d.length) return 1e9 / last;
  return 1e9 / Math.sqrt(last * d[k]!);
}

/**
 * The stream's value (after the window closed), and its pages by temperature
 * added to `out` (256 buckets) so the curve counts them once: the follower's
 * pages (margin `marginPages` behind the back, the body, `leadPages` ahead of
 * the front; the most of the last VALUED_WINDOWS windows', more lead if the
 * extent shrank) at the stream's rate spread over them, and the trail the stream
 * left behind the margin (pages still warm from it, which the follower has
 * demoted or will: the stream does not come back to them) at nothing.
 */
export function streamValue(
  state: PageState,
  s: Stream,
  nowNs: number,
  ratePerPage: number,
  marginPages: number,
  leadPages: number,
  out: Uint32Array,
): StreamValue {
  const n = state.pageCount;
  const t = state.temperature;
  const body = streamBody(s, nowNs, n);
  const margin = Math.max(0, Math.floor(marginPages));
  const lead = Math.max(0, Math.ceil(leadPages));
  // The lead side takes what the last window's value held beyond today's extent.
  s.valuedPages.push(Math.min(n, margin + body.pages + lead));
  if (s.valuedPages.length > VALUED_WINDOWS) s.valuedPages.shift();
  const pages = Math.max(...s.valuedPages);
  const back = body.first - body.dir * margin;
  for (let i = 0; i < pages; i++) out[t[wrap(back + body.dir * i, n)]!]!++;
  // The trail: warm pages behind the margin, up to a gap of cooler ones.
  let gap = 0;
  for (let i = 1; i <= n - pages && gap < TRAIL_GAP_PAGES; i++) {
    const temp = t[wrap(back - body.dir * i, n)]!;
    if (temp >= TRAIL_MIN_TEMPERATURE) {
      gap = 0;
      out[temp]!++;
    } else gap++;
  }
  return { pages, leadPages: Math.max(0, Math.min(lead, pages - margin - body.pages)), ratePerPage: pages > 0 ? (ratePerPage * body.pages) / pages : 0 };
}
