/**
 * When a window's scan rounds happen, and what a page's count of rounds means.
 *
 * An accessed bit is one bit per round: however often a page is touched
 * between two harvests, the harvest sees it once. With rounds equally spaced, a
 * page touched 30 times a second and one touched 3000 times look the same once
 * both are seen in every round. So the rounds are spaced geometrically,
 * longest first, each `ratio` times shorter than the one before (the window
 * keeps its length), and a round harvests only the pages seen in every earlier
 * round of the window (a sieve). A page with access rate r survives a round of
 * length d with probability 1 - exp(-r d), so the number of rounds it survives
 * grows with log(r): with ratio 2 and an 80 ms window (40, 20, 10, ... 0.3 ms)
 * a page touched 40 times a second survives about 1.4 rounds, one touched
 * 3600 times about 7. That is access frequency on a log scale, from accessed
 * bits alone (what any backend can give), and cheaper than equal rounds: the
 * pages that drop out are not harvested again in the window, so a window
 * costs about one harvest of every due page plus a few of the warm ones,
 * instead of `rounds` harvests of every due page.
 *
 * The written count is the same sieve over the dirty log: rounds in which a
 * surviving page was also written.
 *
 * When more pages survive a window's last round than DRAM can rank (the
 * engine's test: more than half the quota), the window adds rounds, each
 * shorter again, until few enough survive or the rounds reach the minimum
 * interval: a small VM touching few pages very often gets its hottest pages
 * told apart too (accesses every few microseconds), at the cost of a harvest
 * of the survivors per extra round.
 *
 * ratio = 1 gives equal rounds (then the count is the run of rounds seen from
 * the start: still monotone in the access rate, with less range).
 */

export interface RoundSchedule {
  /**
   * Interval before each round of a window, ns: the window's rounds (they sum
   * to the window), then the extra rounds a window may add while too many
   * pages survive (each `ratio` times shorter again, none below the minimum).
   */
  readonly intervalsNs: Float64Array;
  /** The window's own rounds (the first `rounds` intervals). */
  readonly rounds: number;
}

/** Rounds a window may have at most, extra ones included (the counters saturate at 15). */
export const MAX_ROUNDS = 15;

/**
 * Geometric intervals for `rounds` rounds over `windowNs`, longest first, none
 * shorter than `minIntervalNs` (so a backend whose harvest takes time is not
 * asked for rounds shorter than it can do; the ratio flattens instead). If even
 * equal rounds would be shorter than the minimum, the rounds are equal.
 */
export function geometricSchedule(rounds: number, windowNs: number, ratio: number, minIntervalNs: number): RoundSchedule {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds per window must be a whole number >= 1, got ${rounds}`);
  if (!(windowNs > 0)) throw new RangeError(`window must be positive, got ${windowNs} ns`);
  if (!(ratio >= 1)) throw new RangeError(`round interval ratio must be >= 1, got ${ratio}`);
  if (!(minIntervalNs >= 0)) throw new RangeError(`minimum round interval must be >= 0, got ${minIntervalNs} ns`);
  const out = new Float64Array(rounds);
  const equal = windowNs / rounds;
  if (ratio === 1 || equal <= minIntervalNs) {
    out.fill(equal);
    return { intervalsNs: out, rounds };
  }
  // Intervals max(min, a * ratio^-i); find a so that they sum to the window (the sum rises with a).
  const sumFor = (a: number): number => {
    let s = 0;
    for (let i = 0; i < rounds; i++) s += Math.max(minIntervalNs, a * ratio ** -i);
    return s;
  };
  let lo = 0;
  let hi = windowNs;
  for (let k = 0; k < 100; k++) {
    const mid = (lo + hi) / 2;
    if (sumFor(mid) < windowNs) lo = mid;
    else hi = mid;
  }
  for (let i = 0; i < rounds; i++) out[i] = Math.max(minIntervalNs, hi * ratio ** -i);
  // Exact sum: give the rounding error to the longest round.
  const s = out.reduce((x, y) => x + y, 0);
  out[0] = out[0]! + (windowNs - s);
  // Extra rounds, each shorter again, while they stay above the minimum.
  const extra: number[] = [];
  for (let d = out[rounds - 1]! / ratio; rounds + extra.length < MAX_ROUNDS && d >= minIntervalNs; d /= ratio) extra.push(d);
  const all = new Float64Array(rounds + extra.length);
  all.set(out);
  all.set(extra, rounds);
  return { intervalsNs: all, rounds };
}

/**
 * Expected rounds survived (the sieve's count) by a page with `ratePerSec`
 * accesses per second, each round independent (Poisson accesses).
 */
export function expectedRoundsSurvived(schedule: RoundSchedule, ratePerSec: number): number {
  let alive = 1;
  let sum = 0;
  for (const d of schedule.intervalsNs) {
    alive *= 1 - Math.exp(-ratePerSec * (d / 1e9));
    sum += alive;
  }
  return sum;
}

/**
 * The access rate whose expected count is `rounds` (the inverse of
 * expectedRoundsSurvived, by bisection on a log scale). 0 for 0 rounds; the
 * rate of the last round's expected count for a full count (it is only known
 * to be at least that).
 */
export function rateForRounds(schedule: RoundSchedule, rounds: number): number {
  if (rounds <= 0) return 0;
  const n = schedule.intervalsNs.length;
  const target = Math.min(rounds, n - 0.5);
  let lo = Math.log(1e-3);
  let hi = Math.log(1e9);
  for (let k = 0; k < 80; k++) {
    const mid = (lo + hi) / 2;
    if (expectedRoundsSurvived(schedule, Math.exp(mid)) < target) lo = mid;
    else hi = mid;
  }
  return Math.exp((lo + hi) / 2);
}
