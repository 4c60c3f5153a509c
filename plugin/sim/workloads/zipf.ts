/**
 * Zipf-distributed ranks: P(rank k) ∝ k^-theta for k in 1..n.
 *
 * Sampling is rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-
 * inversion to generate variates from monotone discrete distributions", ACM
 * TOMACS 6(3), 1996): exact for any theta >= 0, O(1) expected time and O(1)
 * memory per sample (no table over n), so it scales to millions of pages.
 * Ranks returned here are 0-based (0 is the most popular).
 */
import type { Prng } from './prng.js';

export class ZipfSampler {
  private readonly hIntegralX1: number;
  private readonly hIntegralN: number;
  private readonly squeeze: number;

  constructor(readonly n: number, readonly theta: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Zipf: item count must be a positive integer, got ${n}`);
    if (!(theta >= 0) || !Number.isFinite(theta)) throw new Error(`Zipf: theta must be a finite number >= 0, got ${theta}`);
    this.hIntegralX1 = this.hIntegral(1.5) - 1;
    this.hIntegralN = this.hIntegral(n + 0.5);
    this.squeeze = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  /** A 0-based rank. */
  sample(rng: Prng): number {
    const n = this.n;
    for (;;) {
      const u = this.hIntegralN + rng.nextFloat() * (this.hIntegralX1 - this.hIntegralN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
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
