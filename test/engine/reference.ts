/** Brute-force references the engine's O(pages) algorithms are checked against. */
import type { HotSetCut } from '../../plugin/engine/hot-set.js';

/** Seeded PRNG for tests (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Temperatures of the hottest `quota` pages with temperature >= 1, by comparison sort. */
export function bruteForceHotTemperatures(temps: ArrayLike<number>, quota: number): number[] {
  return Array.from(temps).filter((t) => t >= 1).sort((a, b) => b - a).slice(0, quota);
}

/** The pages of a hot-set cut, ties at the threshold to the lowest page indices (out[i] = 1). */
export function markHotSet(temperature: Uint8Array, cut: HotSetCut, out: Uint8Array): void {
  let takenAtThreshold = 0;
  for (let i = 0; i < temperature.length; i++) {
    const t = temperature[i]!;
    let hot = t > cut.threshold;
    if (!hot && t === cut.threshold && takenAtThreshold < cut.takeAtThreshold) {
      takenAtThreshold++;
      hot = true;
    }
    out[i] = hot ? 1 : 0;
  }
}
