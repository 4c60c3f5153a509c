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
