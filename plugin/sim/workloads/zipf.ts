/**
 * Zipf-distributed ranks: P(rank k) ∝ k^-theta for k in 1..n.
 *
 * The most popular ranks (the head, up to HEAD_RANKS of them) are drawn by
 * inverting their cumulative distribution through a guide table (Chen and
 * Asau 1974): one uniform, one table look-up, on average about one step; 12
 * bytes per head rank. Ranks past the head are drawn by rejection-inversion
 * (W. Hörmann and G. Derflinger, "Rejection-inversion to generate variates
 * from monotone discrete distributions", ACM TOMACS 6(3), 1996) on
 * [head + 1, n]: exact for any theta >= 0, O(1) expected time and memory, so
 * the sampler scales to hundreds of millions of items. A uniform below the
 * head's share picks the head, else the tail: the mixture is exactly Zipf.
 * Ranks returned here are 0-based (0 is the most popular).
 */
import type { Prng } from './prng.js';

/**
 * Ranks drawn from the table (at most): 2^14, 192 KiB, small enough to stay
 * in a core's cache next to the simulator's own arrays (a larger table is
 * looked up at random and misses). For the default stores (theta ~0.9) the
 * head takes 80% of the draws at 64 Ki records, half of them at 16 Mi.
 */
export const HEAD_RANKS = 1 << 14;

/** Flag of a guide entry whose bucket holds one rank only (head ranks are far below it). */
const SINGLE_RANK = 2 ** 31;

export class ZipfSampler {
  /** Head ranks (0-based ranks 0 .. head-1 come from the table). */
  readonly head: number;
  /** Bytes of the tables (12 per head rank). */
  readonly stateBytes: number;
  /** Cumulative weight of the head ranks (unnormalised, cdf[k] = sum of (i+1)^-theta for i <= k). */
  private readonly cdf: Float64Array;
  /**
   * guide[g]: the first head rank whose cdf reaches g / guide.length of the
   * head's weight, plus SINGLE_RANK if the whole bucket falls on that rank
   * (most of the draws: the popular ranks span many buckets each).
   */
  private readonly guide: Uint32Array;
  private readonly headWeight: number;
  /** Probability that a draw falls in the head, and its inverse. */
  private readonly headShare: number;
  private readonly perHeadShare: number;
  // Rejection-inversion over the tail, 1-based ranks [head + 1, n].
  private readonly hIntegralX1: number;
  private readonly hIntegralN: number;
  private readonly squeeze: number;

  constructor(readonly n: number, readonly theta: number, headRanks = HEAD_RANKS) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Zipf: item count must be a positive integer, got ${n}`);
    if (!(theta >= 0) || !Number.isFinite(theta)) throw new Error(`Zipf: theta must be a finite number >= 0, got ${theta}`);
    this.head = Math.min(n, Math.max(1, headRanks));
    this.stateBytes = 12 * this.head;
    this.cdf = new Float64Array(this.head);
    let sum = 0;
    for (let k = 0; k < this.head; k++) {
      sum += Math.pow(k + 1, -theta);
      this.cdf[k] = sum;
    }
    this.headWeight = sum;
    this.guide = new Uint32Array(this.head);
    const buckets = this.guide.length;
    for (let g = 0, k = 0; g < buckets; g++) {
      const target = (g / buckets) * sum;
      while (k < this.head - 1 && this.cdf[k]! <= target) k++;
      // A bucket whose every target lies below its first rank's cdf is that rank: flag it, so
      // a draw there needs no cdf look-up. Bound with a margin for the rounding of v * buckets and v * sum.
      const top = ((g + 1) / buckets) * sum * (1 + 1e-12);
      this.guide[g] = k < this.head - 1 && this.cdf[k]! > top ? k | SINGLE_RANK : k;
    }
    const a = this.head + 1; // first tail rank, 1-based
    this.headShare = this.head === n ? 1 : sum / (sum + harmonic(n, theta) - harmonic(this.head, theta));
    this.perHeadShare = 1 / this.headShare;
    this.hIntegralX1 = this.hIntegral(a + 0.5) - this.h(a);
    this.hIntegralN = this.hIntegral(n + 0.5);
    this.squeeze = a + 1 - this.hIntegralInverse(this.hIntegral(a + 1.5) - this.h(a + 1));
  }

  /** A 0-based rank. */
  sample(rng: Prng): number {
    const u = rng.nextFloat();
    if (u < this.headShare) {
      // Inverse CDF over the head: the guide table gives a start, a short scan finds the rank.
      const v = u * this.perHeadShare;
      const target = v * this.headWeight;
      const cdf = this.cdf;
      const last = this.head - 1;
      let k = this.guide[Math.floor(v * this.guide.length)]!;
      if (k >= SINGLE_RANK) return k - SINGLE_RANK;
      while (k < last && cdf[k]! <= target) k++;
      return k;
    }
    return this.sampleTail(rng);
  }

  /** Rejection-inversion on the 1-based ranks [head + 1, n]; returns a 0-based rank. */
  private sampleTail(rng: Prng): number {
    const n = this.n;
    const a = this.head + 1;
    for (;;) {
      const u = this.hIntegralN + rng.nextFloat() * (this.hIntegralX1 - this.hIntegralN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < a) k = a;
      else if (k > n) k = n;
      if (k - x <= this.squeeze || u >= this.hIntegral(k + 0.5) - this.h(k)) return k - 1;
    }
  }

  private h(x: number): number {
    return Math.exp(-this.theta * Math.log(x));
  }

  /** Antiderivative of h: (x^(1-theta) - 1) / (1 - theta), continuous at theta = 1 (log x). */
  private hIntegral(x: number): number {
    const logX = Math.log(x);
    return expm1OverX((1 - this.theta) * logX) * logX;
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.theta);
    if (t < -1) t = -1; // rounding guard: t >= -1 in exact arithmetic
    return Math.exp(log1pOverX(t) * x);
  }
}

function expm1OverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + x * 0.25));
}

function log1pOverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - x * 0.25));
}

const EXACT_TERMS = 1000;

/**
 * Generalised harmonic number H(m, theta) = sum_{i=1..m} i^-theta: exact for the
 * first 1000 terms, Euler-Maclaurin for the tail (relative error far below 1e-9).
 */
export function harmonic(m: number, theta: number): number {
  let sum = 0;
  const exact = Math.min(m, EXACT_TERMS);
  for (let i = 1; i <= exact; i++) sum += Math.pow(i, -theta);
  if (m <= EXACT_TERMS) return sum;
  const a = EXACT_TERMS + 1;
  const f = (x: number) => Math.pow(x, -theta);
  const df = (x: number) => -theta * Math.pow(x, -theta - 1);
  const integral = theta === 1 ? Math.log(m / a) : (Math.pow(m, 1 - theta) - Math.pow(a, 1 - theta)) / (1 - theta);
  return sum + integral + (f(a) + f(m)) / 2 + (df(m) - df(a)) / 12;
}

/** Share of all accesses that go to the `top` most popular of n items. */
export function zipfTopShare(n: number, theta: number, top: number): number {
  return harmonic(top, theta) / harmonic(n, theta);
}

/**
 * The theta for which the most popular `dataFraction` of n items receive
 * `accessShare` of the accesses (bisection; the share grows with theta).
 * For n -> infinity the answer tends to 1 - ln(accessShare)/ln(dataFraction)
 * (0.861 for 80/20); for finite n it is computed exactly.
 */
export function thetaForShare(n: number, dataFraction: number, accessShare: number): number {
  const top = Math.max(1, Math.round(n * dataFraction));
  if (top >= n) throw new Error(`Zipf: ${n} items are too few for a ${dataFraction} hot fraction`);
  if (!(accessShare > top / n && accessShare < 1)) {
    throw new Error(`Zipf: access share must lie between ${(top / n).toFixed(3)} and 1, got ${accessShare}`);
  }
  let lo = 0;
  let hi = 8;
  for (let i = 0; i < 48; i++) {
    const mid = (lo + hi) / 2;
    if (zipfTopShare(n, mid, top) < accessShare) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
