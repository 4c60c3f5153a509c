/**
 * Zipf-distributed ranks: P(rank k) ∝ k^-theta for k in 1..n, returned
 * 0-based (0 is the most popular).
 *
 * Composition and rejection over blocks of ranks, exact for any theta >= 0:
 *  - the ranks are cut into blocks: the first SPAN ranks one block each, then
 *    blocks [s, s + floor(s / SPAN)) (1-based), whose weights k^-theta differ
 *    by at most a factor (1 + 1/SPAN)^theta. That is about SPAN * (1 +
 *    ln(n / SPAN)) blocks: 547 for 64 Ki items, 1084 for 256 Mi, 40 bytes
 *    each in one table (a block's row: alias, coin, first rank, width,
 *    squeeze), so it stays in a core's L1/L2 cache whatever n is;
 *  - a block is picked with probability (its weight) / (the total weight) by
 *    Walker's alias method (Vose's construction: M. D. Vose, "A linear
 *    algorithm for generating random numbers with a given distribution",
 *    IEEE TSE 17(9), 1991): one draw for the column, one for the coin. A
 *    block's weight is its terms summed one by one, or for a block of more
 *    than SPAN ranks the Euler-Maclaurin sum over the block (such a block
 *    starts past SPAN^2 = 4096, where the first omitted term is below 1e-15
 *    of the block's weight);
 *  - inside a block of more than one rank, a rank k is proposed uniformly
 *    and accepted with probability (k / s)^-theta (rejection from the block's
 *    flat envelope, which keeps the block's shape exactly); a squeeze, the
 *    block's least ratio (e / s)^-theta, accepts all but about theta / SPAN
 *    of the proposals without a pow. A rejection draws another rank of the
 *    same block (acceptance >= (1 + 1/SPAN)^-theta: 0.98 at theta = 1).
 * Cost per rank: 4 draws (column, coin, proposal, test; a single-rank block
 * takes the same steps, its proposal always accepted, so no branch depends on
 * the block's kind) and 4 table look-ups; 2 more draws per rejected proposal
 * (1.01 proposals on average); no transcendental function for 99% of the
 * ranks. The draws are 32-bit, so every probability here is
 * exact to about 2^-32 (the column, the coin's threshold, the acceptance).
 *
 * sample(rng) takes its draws from a Prng one by one; fill(rng, out, count)
 * gives the same ranks with the Prng's steps inline (no call per draw) and is
 * the one to use in a workload's batch.
 */
import type { Prng } from './prng.js';

/** Ranks that get a block each, and the width of a block of rank s beyond: floor(s / SPAN). */
export const ZIPF_SPAN = 64;
const TWO_32 = 4294967296;
/** A block's row in ZipfSampler's table: its numbers and their offsets. */
const ROW = 5;
const ALIAS = 0;
const COIN = 1;
const START = 2;
const WIDTH = 3;
const SQUEEZE = 4;
const INV_2_32 = 2.3283064365386963e-10;

export class ZipfSampler {
  /** Blocks of ranks. */
  readonly blocks: number;
  /** Bytes of the table (40 per block). */
  readonly stateBytes: number;
  /**
   * One row of ROW numbers per block b, at b * ROW: the alias table's column
   * b (ALIAS: the block column b goes to unless the coin, a draw, is below
   * COIN, 2^32 scale), the block's first rank (START, 0-based) and width
   * (WIDTH), and SQUEEZE, 2^32 * (its least acceptance ratio), floored (a
   * draw below it is accepted at once). One array: a rank's look-ups are two
   * rows, one check each in V8 (five arrays cost five).
   */
  private readonly table: Float64Array;

  constructor(readonly n: number, readonly theta: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Zipf: item count must be a positive integer, got ${n}`);
    if (!(theta >= 0) || !Number.isFinite(theta)) throw new Error(`Zipf: theta must be a finite number >= 0, got ${theta}`);
    const starts: number[] = [];
    for (let s = 1; s <= n; s += Math.max(1, Math.floor(s / ZIPF_SPAN))) starts.push(s);
    const blocks = starts.length;
    this.blocks = blocks;
    this.stateBytes = 8 * ROW * blocks;
    const table = new Float64Array(ROW * blocks);
    const weight = new Float64Array(blocks);
    for (let b = 0; b < blocks; b++) {
      const s = starts[b]!;
      const e = b + 1 < blocks ? starts[b + 1]! - 1 : n; // last rank of the block, 1-based
      table[b * ROW + START] = s - 1;
      table[b * ROW + WIDTH] = e - s + 1;
      weight[b] = blockWeight(s, e, theta);
      // Margin for pow's rounding: the squeeze must never exceed the exact test's value for any rank of the
      // block. A single rank is always accepted.
      table[b * ROW + SQUEEZE] = e === s ? TWO_32 : Math.floor(TWO_32 * Math.pow(e / s, -theta) * (1 - 1e-12));
    }
    const [coin, alias] = aliasTable(weight);
    for (let b = 0; b < blocks; b++) {
      table[b * ROW + COIN] = coin[b]!;
      table[b * ROW + ALIAS] = alias[b]!;
    }
    this.table = table;
  }

  /** A 0-based rank, from draws of `rng`. */
  sample(rng: Prng): number {
    const t = this.table;
    const column = Math.floor(rng.nextU32() * INV_2_32 * this.blocks);
    const b = rng.nextU32() < t[column * ROW + COIN]! ? column : t[column * ROW + ALIAS]!;
    const s = t[b * ROW + START]!;
    const width = t[b * ROW + WIDTH]!;
    for (;;) {
      const k = s + Math.floor(rng.nextU32() * INV_2_32 * width);
      const u = rng.nextU32();
      if (u < t[b * ROW + SQUEEZE]! || u < TWO_32 * Math.pow((k + 1) / (s + 1), -this.theta)) return k;
    }
  }

  /**
   * The next `count` ranks into out[0 .. count), from `rng`'s draws (the
   * same ranks, and the same draws taken, as that many calls of sample(rng)).
   * The draws are xoshiro128** steps inline with the state in locals (as
   * Prng.fillU32 makes them), so a rank's four draws are neither stored nor
   * loaded, and the loop over ranks makes no call; a rejected proposal
   * (about 1 rank in 100) gives the state back to `rng` and finishes with
   * sample()'s own steps, then takes it again.
   */
  fill(rng: Prng, out: Uint32Array, count: number): void {
    if (count > out.length) throw new Error(`Zipf: ${count} ranks do not fit in ${out.length}`);
    const blocks = this.blocks;
    const table = this.table;
    const theta = +this.theta;
    // The row layout and constants as locals (module constants cost a load and a check per use).
    const rowSize = ROW | 0;
    const aliasAt = ALIAS | 0;
    const coinAt = COIN | 0;
    const startAt = START | 0;
    const widthAt = WIDTH | 0;
    const squeezeAt = SQUEEZE | 0;
    const inv232 = +INV_2_32;
    const two32 = +TWO_32;
    const state = rng.state;
    let s0 = state[0]! | 0;
    let s1 = state[1]! | 0;
    let s2 = state[2]! | 0;
    let s3 = state[3]! | 0;
    for (let i = 0; i < count; i++) {
      // Every rank takes the same steps, a single-rank block too (its proposal is its rank, always
      // accepted): no branch on the block's kind, which the draws would make unpredictable.
      let m = Math.imul(s1, 5);
      const columnDraw = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const coinDraw = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const proposalDraw = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const u = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const column = Math.floor(columnDraw * inv232 * blocks) | 0;
      const other = table[column * rowSize + aliasAt]! | 0;
      const row = (other + (column - other) * +(coinDraw < table[column * rowSize + coinAt]!)) * rowSize;
      const s = table[row + startAt]!;
      const w = table[row + widthAt]!;
      const k = s + Math.floor(proposalDraw * inv232 * w);
      if (u < table[row + squeezeAt]! || u < two32 * Math.pow((k + 1) / (s + 1), -theta)) {
        out[i] = k;
        continue;
      }
      // Rejected: another rank of the same block until one is accepted, with the Prng's own steps.
      state[0] = s0;
      state[1] = s1;
      state[2] = s2;
      state[3] = s3;
      out[i] = this.acceptInBlock(rng, row);
      s0 = state[0]! | 0;
      s1 = state[1]! | 0;
      s2 = state[2]! | 0;
      s3 = state[3]! | 0;
    }
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = s3;
  }

  /** A rank of the block at `row`, proposed and tested with draws of `rng` until one is accepted (sample()'s loop). */
  private acceptInBlock(rng: Prng, row: number): number {
    const t = this.table;
    const s = t[row + START]!;
    const width = t[row + WIDTH]!;
    for (;;) {
      const k = s + Math.floor(rng.nextU32() * INV_2_32 * width);
      const u = rng.nextU32();
      if (u < t[row + SQUEEZE]! || u < TWO_32 * Math.pow((k + 1) / (s + 1), -this.theta)) return k;
    }
  }

  /** Block b's ranks, 0-based [first, first + width) (for tests). */
  blockRanks(b: number): { first: number; width: number } {
    return { first: this.table[b * ROW + START]!, width: this.table[b * ROW + WIDTH]! };
  }

  /** The probability the alias table gives block b: its own column's coin plus the columns that alias to it (for tests). */
  blockProbability(b: number): number {
    const t = this.table;
    let p = t[b * ROW + COIN]! / TWO_32;
    for (let c = 0; c < this.blocks; c++) if (t[c * ROW + ALIAS] === b && c !== b) p += 1 - t[c * ROW + COIN]! / TWO_32;
    return p / this.blocks;
  }
}

/**
 * Sum of k^-theta over 1-based ranks [s, e]: term by term up to ZIPF_SPAN
 * terms, else Euler-Maclaurin over the block (integral, end corrections and
 * the first two derivative terms).
 */
export function blockWeight(s: number, e: number, theta: number): number {
  if (e - s < ZIPF_SPAN) {
    let sum = 0;
    for (let k = s; k <= e; k++) sum += Math.pow(k, -theta);
    return sum;
  }
  const f = (x: number) => Math.pow(x, -theta);
  const d1 = (x: number) => -theta * Math.pow(x, -theta - 1);
  const d3 = (x: number) => -theta * (theta + 1) * (theta + 2) * Math.pow(x, -theta - 3);
  // The integral s^(1-theta) * (exp((1-theta) L) - 1) / (1-theta), L = ln(e/s), without cancellation.
  const logRatio = Math.log1p((e - s) / s);
  const integral = Math.pow(s, 1 - theta) * logRatio * expm1OverX((1 - theta) * logRatio);
  return integral + (f(s) + f(e)) / 2 + (d1(e) - d1(s)) / 12 - (d3(e) - d3(s)) / 720;
}

/** Vose's alias table for `weight`: per column, the coin's threshold (2^32 scale) and the alias. */
function aliasTable(weight: Float64Array): [Float64Array, Uint32Array] {
  const m = weight.length;
  let total = 0;
  for (let b = 0; b < m; b++) total += weight[b]!;
  const scaled = new Float64Array(m);
  for (let b = 0; b < m; b++) scaled[b] = (weight[b]! * m) / total;
  const coin = new Float64Array(m);
  const alias = new Uint32Array(m);
  const small: number[] = [];
  const large: number[] = [];
  for (let b = 0; b < m; b++) (scaled[b]! < 1 ? small : large).push(b);
  while (small.length > 0 && large.length > 0) {
    const l = small.pop()!;
    const g = large[large.length - 1]!;
    coin[l] = scaled[l]! * TWO_32;
    alias[l] = g;
    scaled[g] = scaled[g]! + scaled[l]! - 1;
    if (scaled[g]! < 1) small.push(large.pop()!);
  }
  // What is left has probability 1 up to rounding: the column keeps its block.
  for (const b of large) {
    coin[b] = TWO_32;
    alias[b] = b;
  }
  for (const b of small) {
    coin[b] = TWO_32;
    alias[b] = b;
  }
  return [coin, alias];
}

function expm1OverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + x * 0.25));
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
