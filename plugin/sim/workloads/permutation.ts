/**
 * Random permutations of page indices, used to scatter popularity ranks over
 * pages so that hot pages are not adjacent (as they are not in a real heap or
 * hash table). 4 bytes per page, built once in O(n) (Fisher-Yates).
 */
import type { Prng } from './prng.js';

export function randomPermutation(n: number, rng: Prng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** Round function of ScatterPermutation: a keyed 32-bit mix (murmur3's finaliser over x ^ key). */
function mix(x: number, key: number): number {
  let h = Math.imul(x ^ key, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

/**
 * A random permutation of [0, n) computed instead of stored: a keyed 4-round
 * (unbalanced) Feistel network over the smallest power-of-two domain holding
 * n, walking the cycle until the image falls below n (Black and Rogaway,
 * "Ciphers with Arbitrary Finite Domains", CT-RSA 2002; under 2 steps on
 * average). No memory and no random access: where a stored permutation of
 * tens of millions of frames would be shuffled at one cache miss per swap
 * (seconds at 128 GiB), this gives each image in a few nanoseconds.
 */
export class ScatterPermutation {
  private readonly lowBits: number;
  private readonly lowMask: number;
  private readonly highMask: number;
  private readonly keys: Int32Array;

  constructor(readonly n: number, rng: Prng) {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 31) throw new Error(`permutation size must be an integer in [1, 2^31], got ${n}`);
    const bits = Math.max(2, Math.ceil(Math.log2(n)));
    this.lowBits = bits >>> 1;
    this.lowMask = (1 << this.lowBits) - 1;
    this.highMask = 2 ** (bits - this.lowBits) - 1;
    this.keys = Int32Array.of(rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32());
  }

  /** The image of x (0 <= x < n), itself in [0, n); distinct x give distinct images. */
  at(x: number): number {
    const k = this.keys;
    let y = x;
    do {
      let lo = y & this.lowMask;
      let hi = y >>> this.lowBits;
      hi = (hi ^ mix(lo, k[0]!)) & this.highMask;
      lo = (lo ^ mix(hi, k[1]!)) & this.lowMask;
      hi = (hi ^ mix(lo, k[2]!)) & this.highMask;
      lo = (lo ^ mix(hi, k[3]!)) & this.lowMask;
      y = hi * (this.lowMask + 1) + lo;
    } while (y >= this.n);
    return y;
  }
}
