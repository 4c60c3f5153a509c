import assert from 'node:assert/strict';
import { WriteCounts } from '../../plugin/engine/write-counts.js';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('engine/write-counts (sparse table or dense planes)', () => {
  for (const [pageCount, share] of [[100_000, 0.0002], [100_000, 0.2], [5_000, 0.01], [70, 0.5]] as const) {
    it(`counts like a map of page -> min(15, increments), through windows busy and quiet (${pageCount} pages, ${share * 100}% written)`, () => {
      const random = rng(pageCount + Math.round(share * 1000));
      const counts = new WriteCounts(pageCount);
      let wentDense = false;
      let wentSparse = false;
      for (let window = 0; window < 12; window++) {
        // Busy windows in the middle make the counts go dense, then quiet ones bring the table back.
        const written = window >= 4 && window < 7 ? Math.max(0.1, share) : share;
        const ref = new Map<number, number>();
        for (let round = 0; round < 10; round++) {
          for (let i = 0; i < written * pageCount; i++) {
            const page = Math.floor(random() * pageCount);
            counts.increment(page);
            ref.set(page, Math.min(15, (ref.get(page) ?? 0) + 1));
          }
        }
        if (random() < 0.5) {
          const page = Math.floor(random() * pageCount);
          const value = Math.floor(random() * 16);
          counts.set(page, value);
          if (value === 0) ref.delete(page);
          else ref.set(page, value);
        }
        const wasDense = counts.dense !== undefined;
        wentDense ||= wasDense;
        for (let p = 0; p < pageCount; p++) assert.equal(counts.get(p), ref.get(p) ?? 0, `window ${window}: page ${p}`);
        const seen = new Map<number, number>();
        counts.forEach((p, c) => seen.set(p, c));
        assert.deepEqual([...seen].sort((a, b) => a[0] - b[0]), [...ref].sort((a, b) => a[0] - b[0]), `window ${window}: forEach`);
        if (!wasDense) {
          const bits = new Uint32Array((pageCount + 31) >>> 5);
          counts.markInto(bits);
          for (let p = 0; p < pageCount; p++) assert.equal(((bits[p >>> 5]! >>> (p & 31)) & 1) === 1, ref.has(p), `window ${window}: marked page ${p}`);
        }
        assert.ok(counts.bytes() <= 2 * ((pageCount + 31) >>> 5) * 4 * 4, `window ${window}: ${counts.bytes()} bytes, more than twice the planes`);
        // The end of a window: the window pass cleared dense planes as it read them.
        if (wasDense) counts.dense!.fill(0);
        counts.endWindow(ref.size);
        wentSparse ||= wasDense && counts.dense === undefined;
        for (let p = 0; p < pageCount; p += 97) assert.equal(counts.get(p), 0, `window ${window}: cleared`);
      }
      if (share >= 0.2 || pageCount < 1000) assert.ok(wentDense, 'a busy window made the counts dense');
      if (share < 0.001) assert.ok(wentDense && wentSparse, 'dense in busy windows, sparse again after');
    });
  }
});
