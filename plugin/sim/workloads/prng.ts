/**
 * Seeded pseudo-random numbers for the workloads: xoshiro128** (Blackman and
 * Vigna, https://prng.di.unimi.it/), seeded through splitmix32. 32-bit integer
 * state in a Uint32Array so the hot loops stay in small integers; no object per
 * draw. The same seed always gives the same sequence on every platform.
 */
export class Prng {
  private readonly s = new Uint32Array(4);

  /** `seed` is any finite number; `stream` separates independent sequences from one seed. */
  constructor(seed: number, stream = 0) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    // splitmix32 over (seed low 32 bits, seed high bits, stream) so nearby seeds give unrelated states.
    let x = (Math.floor(seed) >>> 0) ^ Math.imul(Math.floor(seed / 4294967296) >>> 0, 0x9e3779b9) ^ Math.imul(stream >>> 0, 0x85ebca6b);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    s[1] = s1 ^ n2;
    s[0] = s0 ^ n3;
    s[2] = n2 ^ t;
    s[3] = rotl(n3, 11);
    return r >>> 0;
  }

  /**
   * The next draws into out[start .. end): the same values, in the same
   * order, as that many calls of nextU32, with the state in locals (about
   * half the cost per draw).
   */
  fillU32(out: Uint32Array, start = 0, end = out.length): void {
    if (!(start >= 0 && start <= end && end <= out.length)) throw new Error(`Prng.fillU32: range [${start}, ${end}) is not within ${out.length} entries`);
    const s = this.s;
    // As int32 (| 0): a Uint32Array load is uint32, and a loop variable that is uint32 on entry and int32 after an xor is kept as a float64.
    let s0 = s[0]! | 0, s1 = s[1]! | 0, s2 = s[2]! | 0, s3 = s[3]! | 0;
    for (let i = start; i < end; i++) {
      out[i] = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
  }

  /**
   * The four state words, for a hot loop that draws inline: it copies them
   * to locals, steps them as fillU32 does (the same sequence) and stores
   * them back here before anything else draws.
   */
  get state(): Uint32Array {
    return this.s;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextU32() * 2.3283064365386963e-10;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32 (multiply-shift; bias below 2^-32 * n). */
  nextBelow(n: number): number {
    return Math.floor(this.nextU32() * 2.3283064365386963e-10 * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A Prng's draws a block at a time, for a loop that takes a varying number
 * of draws per item (a rejection sampler): it reads draws[pos++] and calls
 * refill() when fewer than it needs are left. The draws come in the order
 * nextU32 gives them, however the loop's calls are batched.
 */
export class BufferedDraws {
  readonly draws: Uint32Array;
  /** Next unused draw. */
  pos: number;

  constructor(readonly rng: Prng, size = 4096) {
    if (!Number.isInteger(size) || size < 16) throw new Error(`BufferedDraws: size must be an integer >= 16, got ${size}`);
    this.draws = new Uint32Array(size);
    this.pos = size;
  }

  /** Keeps the unused draws (moved to the front), draws the rest anew; the next draw is at 0. */
  refill(): void {
    const left = this.draws.length - this.pos;
    this.draws.copyWithin(0, this.pos);
    this.rng.fillU32(this.draws, left);
    this.pos = 0;
  }
}
