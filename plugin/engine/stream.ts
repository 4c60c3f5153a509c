/**
 * Following a moving hot window: promote ahead of it, demote behind it.
 *
 * Some programs work on a window of memory that slides: a streaming join over
 * a time window, a stencil sweep, a scan repeated over a drifting range. Each
 * page is hot for a while and then cold for good. A policy that promotes what
 * it saw hot is always behind such a window, and entirely so when the window
 * moves more than its own length per monitoring window. But the motion is
 * visible in the evidence: a long run of contiguous pages that were hot this
 * window (survived the sieve's short rounds, so touched many times, not once
 * by a passing one-shot scan), at a place displaced from last window's run by
 * about the same amount each window. From two such windows the stream's front,
 * length and velocity are known; between window closes the follower then
 * moves DRAM along with it every `stepNs`: it promotes the pages the front is
 * about to reach (`leadNs` ahead of it) and demotes the pages the back has
 * left. Its promotions and demotions balance, so it works inside the VM's
 * quota; the planner plans for the quota less what the follower holds ahead.
 *
 * Only accessed bits are used (the sieve's hot pages, at window close), so any
 * backend can give the evidence. A run that stops moving, changes length or
 * jumps is dropped: a stationary hot run is the planner's business, a
 * one-pass sequential stream never looks hot, and a wrong guess costs at most
 * one window of promotions.
 *
 * Cost: one pass over the hot bitmap per window (O(pages / 32) word
 * operations), and per step the pages it moves.
 */
import { popcount32 } from '../util/bitmap.js';

export interface StreamOptions {
  /** A hot run must be at least this many pages long to be a stream. */
  readonly minRunPages: number;
  /** A word (32 pages) belongs to a run if at least this many of its pages are hot. */
  readonly minHotPerWord: number;
  /** Streams followed at once. */
  readonly maxStreams: number;
}

/**
 * A sliding window's pages are all hot: runs are made of words at least three
 * quarters hot, so a scattered hot set (however large, short of three quarters
 * of memory) does not make runs by chance.
 */
export const defaultStreamOptions: StreamOptions = { minRunPages: 256, minHotPerWord: 24, maxStreams: 4 };

/** [start, end) of a run of hot pages; end may pass the VM's last page (a run that wraps to page 0). */
export interface HotRun {
  readonly start: number;
  readonly end: number;
}

/**
 * Runs of dense hot words (`hotWord(w)`: the hot pages of word w, 32 pages per
 * word; one sparse word inside a run is tolerated), at least `minRunPages`
 * long, longest first, at most `max`. Cost: a look at two of every
 * (minRunPages / 64) words, plus the words of the runs and their edges.
 */
export function findHotRuns(hotWord: (w: number) => number, pageCount: number, options: StreamOptions): HotRun[] {
  const runs: HotRun[] = [];
  const words = (pageCount + 31) >>> 5;
  const dense = (w: number): boolean => {
    const x = hotWord(w);
    return x !== 0 && popcount32(x) >= options.minHotPerWord;
  };
  // A run long enough to keep spans at least `stride` + 2 words, and of two neighbouring words of a
  // run one is dense (it bridges single sparse words only): so looking at a pair of words every
  // `stride` words finds every run; from a dense word the run is followed both ways.
  const stride = Math.max(2, Math.floor(options.minRunPages / 32 / 2));
  let floor = 0;
  let w = 0;
  while (w < words) {
    if (!dense(w)) {
      if (w + 1 < words && dense(w + 1)) w += 1;
      else {
        w += stride;
        continue;
      }
    }
    let lo = w;
    for (;;) {
      if (lo - 1 >= floor && dense(lo - 1)) lo -= 1;
      else if (lo - 2 >= floor && dense(lo - 2)) lo -= 2;
      else break;
    }
    let hi = w;
    for (;;) {
      if (hi + 1 < words && dense(hi + 1)) hi += 1;
      else if (hi + 2 < words && dense(hi + 2)) hi += 2;
      else break;
    }
    const first = hotWord(lo);
    const last = hotWord(hi);
    const start = (lo << 5) + 31 - Math.clz32(first & -first);
    const end = Math.min(pageCount, (hi << 5) + 32 - Math.clz32(last));
    if (end - start >= options.minRunPages) runs.push({ start, end });
    floor = hi + 2;
    w = hi + 2;
  }
  // A run that reaches the end of memory and one that starts at page 0 are one run that wrapped.
  const firstRun = runs[0];
  const lastRun = runs[runs.length - 1];
  if (runs.length >= 2 && firstRun!.start < 32 && lastRun!.end > pageCount - 32) {
    runs.pop();
    runs[0] = { start: lastRun!.start, end: firstRun!.end + pageCount };
  }
  runs.sort((a, b) => b.end - b.start - (a.end - a.start));
  return runs.slice(0, options.maxStreams);
}

/**
 * A stream: a hot run seen moving. Positions are unwrapped (a page is
 * position mod the VM's pages), at `atNs`; velocity in pages per ns (signed).
 */
export interface Stream {
  front: number;
  back: number;
  atNs: number;
  velocity: number;
  /** Windows in a row the run was where the velocity said it would be. */
  confirmations: number;
  /** The follower's cursors: promoted up to `aheadTo`, demoted up to `behindTo` (unwrapped, in the direction of motion). */
  aheadTo: number;
  behindTo: number;
  /** The follower's pages as valued for the pool in the last windows (stream-value.ts), newest last. */
  valuedPages: number[];
}

/** Position of the stream's front and back at time `nowNs` (unwrapped). */
export function streamAt(s: Stream, nowNs: number): { front: number; back: number } {
  const d = s.velocity * (nowNs - s.atNs);
  return { front: s.front + d, back: s.back + d };
}

/**
 * Matches this window's hot runs with the streams and the runs of the window
 * before: a run continues a stream if it is about where the stream's velocity
 * puts it (within half the stream's length plus a quarter of its motion) and
 * about as long; an unmatched run pairs with one of last window's unmatched
 * runs of similar length that it is displaced from, and becomes a new stream
 * (velocity from that displacement). Positions wrap at `pageCount` (a sweep
 * that starts over at the bottom of memory).
 */
export class StreamDetector {
  streams: Stream[] = [];
  private lastRuns: { run: HotRun; atNs: number }[] = [];

  constructor(private readonly pageCount: number, private readonly options: StreamOptions = defaultStreamOptions) {}

  /**
   * `frontAgeNs`, `backAgeNs`: how long before `nowNs` the run's front and back
   * were where the hot bitmap shows them. With the sieve a page is hot only if
   * it was seen in the window's first round, so the front is where the stream
   * was at that round; the back is where it was at the last round a hot page
   * must survive.
   */
  observe(hotWord: (w: number) => number, nowNs: number, frontAgeNs = 0, backAgeNs = 0): void {
    const runs = findHotRuns(hotWord, this.pageCount, this.options);
    const n = this.pageCount;
    const used = new Set<HotRun>();
    const kept: Stream[] = [];
    for (const s of this.streams) {
      const length = Math.abs(s.front - s.back);
      const forward = s.velocity >= 0;
      const dir = forward ? 1 : -1;
      // Where the run's front should show: the stream's front when it was measured.
      const predicted = streamAt(s, nowNs - frontAgeNs).front;
      const motion = Math.abs(s.velocity * (nowNs - s.atNs));
      // Every run in the stretch the stream can be in now: its front up to the predicted motion
      // ahead of the prediction (the VM sped up, e.g. because the stream is in DRAM now) or 60% of
      // it behind, plus half the stream's length. A stream may show as several runs (a part of it
      // missed the window's first round); their union is the measurement.
      const lo = -0.6 * motion - length / 2;
      const hi = motion + length / 2;
      let mFront: number | undefined;
      let mBack: number | undefined;
      const mine: HotRun[] = [];
      for (const r of runs) {
        if (used.has(r)) continue;
        const front = predicted + signedCircular(forward ? r.end : r.start, predicted, n);
        const ahead = (front - predicted) * dir;
        if (ahead > hi || ahead < lo) continue;
        const back = front - dir * (r.end - r.start);
        mine.push(r);
        if (mFront === undefined || front * dir > mFront * dir) mFront = front;
        if (mBack === undefined || back * dir < mBack * dir) mBack = back;
      }
      if (mFront === undefined || mBack === undefined) continue; // lost: the planner takes over
      const len = Math.abs(mFront - mBack);
      if (len < length / 4 || len > length * 3) continue;
      for (const r of mine) used.add(r);
      const measured = (mFront - (predicted - s.velocity * (nowNs - s.atNs))) / (nowNs - s.atNs);
      if (Math.sign(measured) !== Math.sign(s.velocity) || measured === 0) continue;
      // A jump to more than twice or less than half the speed is a bad fix more likely than a real change.
      const bounded = Math.min(Math.abs(s.velocity) * 2, Math.max(Math.abs(s.velocity) / 2, Math.abs(measured))) * dir;
      const velocity = 0.25 * s.velocity + 0.75 * bounded;
      // Blend prediction and measurement (a run's ends jitter with what the first round happened to see).
      const front = (predicted + mFront) / 2 + velocity * frontAgeNs;
      const back = streamAt(s, nowNs - backAgeNs).back / 2 + mBack / 2 + velocity * backAgeNs;
      kept.push({ front, back, atNs: nowNs, velocity, confirmations: s.confirmations + 1, aheadTo: s.aheadTo, behindTo: s.behindTo, valuedPages: s.valuedPages });
    }
    // New streams: an unmatched run displaced from an unmatched run of last window of similar length.
    for (const r of runs) {
      if (used.has(r) || kept.length >= this.options.maxStreams) continue;
      const len = r.end - r.start;
      let best: { run: HotRun; atNs: number } | undefined;
      let bestMove = Infinity;
      for (const p of this.lastRuns) {
        const plen = p.run.end - p.run.start;
        if (plen < len / 2 || plen > len * 2) continue;
        const endMove = signedCircular(r.end, p.run.end, n);
        const startMove = signedCircular(r.start, p.run.start, n);
        if (Math.sign(endMove) !== Math.sign(startMove)) continue; // both ends must move the same way
        const move = endMove > 0 ? endMove : startMove; // the front's motion
        // It must have moved (an eighth of its length at least) but not implausibly far.
        if (Math.abs(move) < len / 8 || Math.abs(move) > n / 4) continue;
        if (Math.abs(move) < Math.abs(bestMove)) {
          best = p;
          bestMove = move;
        }
      }
      if (!best) continue;
      const dt = nowNs - best.atNs;
      if (!(dt > 0)) continue;
      const velocity = bestMove / dt;
      const forward = velocity > 0;
      const front = (forward ? r.end : r.start) + velocity * frontAgeNs;
      const back = (forward ? r.start : r.end) + velocity * backAgeNs;
      kept.push({ front, back, atNs: nowNs, velocity, confirmations: 0, aheadTo: front, behindTo: back, valuedPages: [] });
      used.add(r);
    }
    this.streams = kept;
    this.lastRuns = runs.filter((r) => !used.has(r)).map((run) => ({ run, atNs: nowNs }));
  }
}

export function wrap(page: number, n: number): number {
  const x = Math.floor(page) % n;
  return x < 0 ? x + n : x;
}

/** a - b on a circle of n pages, in (-n/2, n/2]. */
export function signedCircular(a: number, b: number, n: number): number {
  let d = (a - b) % n;
  if (d > n / 2) d -= n;
  if (d <= -n / 2) d += n;
  return d;
}
