import assert from 'node:assert/strict';
import { Prng } from '../../../plugin/sim/workloads/prng.js';
import { randomPermutation } from '../../../plugin/sim/workloads/permutation.js';
import { ZipfSampler, harmonic, thetaForShare, zipfTopShare } from '../../../plugin/sim/workloads/zipf.js';

describe('sim/workloads: PRNG, permutations and Zipf', () => {
  it('Prng: same seed gives the same sequence, other seeds and streams differ', () => {
    const draw = (seed: number, stream = 0) => {
      const r = new Prng(seed, stream);
      return Array.from({ length: 64 }, () => r.nextU32());
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
    assert.notDeepEqual(draw(42, 0), draw(42, 1));
    assert.notDeepEqual(draw(2 ** 32), draw(0), 'seeds above 2^32 must not alias smaller ones');
  });

  it('Prng: drawing in blocks gives the xoshiro128** sequence drawn one by one (golden values)', () => {
    for (const [seed, stream, golden] of [
      [42, 0, [2837322924, 544945897, 2605309391, 1307930372, 2835376232]],
      [7, 3, [4280135859, 1325026056, 3753572827, 1102588390, 3527213254]],
    ] as const) {
      const r = new Prng(seed, stream);
      const a = Array.from({ length: 600 }, () => r.nextU32());
      assert.deepEqual([a[0], a[1], a[255], a[256], a[599]], golden, `seed ${seed} stream ${stream}`);
    }
  });

  it('Prng: nextBelow is uniform and in range', () => {
    const r = new Prng(7);
    const counts = new Uint32Array(10);
    for (let i = 0; i < 200_000; i++) counts[r.nextBelow(10)]!++;
    for (const c of counts) assert.ok(Math.abs(c - 20_000) < 600, `bucket count ${c} far from 20000`);
  });

  it('randomPermutation is a permutation and depends on the seed', () => {
    const p = randomPermutation(1000, new Prng(1));
    assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
    assert.notDeepEqual(p, randomPermutation(1000, new Prng(2)));
  });

  it('harmonic matches brute force (exact and Euler-Maclaurin parts)', () => {
    for (const theta of [0, 0.5, 0.86, 1, 1.3]) {
      for (const m of [1, 10, 1000, 1001, 10_000, 123_457]) {
        let exact = 0;
        for (let i = 1; i <= m; i++) exact += Math.pow(i, -theta);
        assert.ok(Math.abs(harmonic(m, theta) - exact) / exact < 1e-9, `H(${m}, ${theta})`);
      }
    }
  });

  it('ZipfSampler draws each rank with probability k^-theta / H(n, theta)', () => {
    for (const theta of [0, 0.7, 0.99, 1, 1.5]) {
      const n = 20;
      const z = new ZipfSampler(n, theta);
      const r = new Prng(3);
      const draws = 200_000;
      const counts = new Float64Array(n);
      for (let i = 0; i < draws; i++) counts[z.sample(r)]!++;
      const h = harmonic(n, theta);
      for (let k = 0; k < n; k++) {
        const expected = (draws * Math.pow(k + 1, -theta)) / h;
        const sd = Math.sqrt(expected);
        assert.ok(Math.abs(counts[k]! - expected) < 5 * sd + 1, `theta ${theta} rank ${k}: ${counts[k]} vs ${expected.toFixed(0)}`);
      }
    }
  });

  it('ZipfSampler: the table head and the rejection-inversion tail together give exact Zipf', () => {
    for (const [n, theta, head] of [[20, 0.9, 5], [20, 1, 1], [20, 0.5, 19], [50, 1.2, 7], [1000, 0.86, 1000]] as const) {
      const z = new ZipfSampler(n, theta, head);
      assert.equal(z.head, head);
      const r = new Prng(11);
      const draws = 300_000;
      const counts = new Float64Array(n);
      for (let i = 0; i < draws; i++) counts[z.sample(r)]!++;
      const h = harmonic(n, theta);
      // Head and tail shares, and every rank of small n.
      let headCount = 0;
      for (let k = 0; k < head; k++) headCount += counts[k]!;
      const headExpected = (draws * harmonic(head, theta)) / h;
      assert.ok(Math.abs(headCount - headExpected) < 5 * Math.sqrt(headExpected) + 1, `n ${n} head ${head}: ${headCount} vs ${headExpected.toFixed(0)}`);
      for (let k = 0; k < Math.min(n, 60); k++) {
        const expected = (draws * Math.pow(k + 1, -theta)) / h;
        assert.ok(Math.abs(counts[k]! - expected) < 5 * Math.sqrt(expected) + 1, `n ${n} theta ${theta} head ${head} rank ${k}: ${counts[k]} vs ${expected.toFixed(0)}`);
      }
    }
    // Large n: most of the mass in a 2^18-rank head, the rest from the tail, and the tail's share right.
    const z = new ZipfSampler(10_000_000, 0.86);
    const r = new Prng(5);
    let tail = 0;
    const draws = 200_000;
    for (let i = 0; i < draws; i++) if (z.sample(r) >= z.head) tail++;
    const expectedTail = draws * (1 - harmonic(z.head, 0.86) / harmonic(10_000_000, 0.86));
    assert.ok(Math.abs(tail - expectedTail) < 5 * Math.sqrt(expectedTail), `tail draws ${tail} vs ${expectedTail.toFixed(0)}`);
  });

  it('ZipfSampler: the guide table (with its one-rank buckets) returns the first rank whose cdf exceeds the draw', () => {
    for (const [n, theta] of [[5000, 0.9], [3000, 0.3], [200, 1.5]] as const) {
      // All ranks in the head: a draw u picks the first k with cdf[k] > u * cdf[n - 1] (or the last rank).
      const sampler = new ZipfSampler(n, theta, n);
      const cdf = new Float64Array(n);
      let sum = 0;
      for (let k = 0; k < n; k++) cdf[k] = sum += Math.pow(k + 1, -theta);
      const reference = (u: number): number => {
        const target = u * sum;
        let k = 0;
        while (k < n - 1 && cdf[k]! <= target) k++;
        return k;
      };
      const draws: number[] = [];
      for (let g = 0; g < n; g++) {
        const edge = g / n; // a bucket's first draw, and the draws just around it
        draws.push(edge, Math.max(0, edge - 2 ** -40), edge + 2 ** -40);
      }
      for (let k = 0; k < n; k++) draws.push(Math.min(cdf[k]! / sum, 1 - 2 ** -32), Math.max(0, cdf[k]! / sum - 2 ** -45));
      const r = new Prng(9, 0);
      for (let i = 0; i < 20_000; i++) draws.push(r.nextFloat());
      for (const u of draws) {
        const fixed = { nextFloat: () => u } as unknown as Prng;
        assert.equal(sampler.sample(fixed), reference(u), `n ${n}, theta ${theta}, u ${u}`);
      }
    }
  });

  it('thetaForShare gives the theta whose top 20% get 80%', () => {
    for (const n of [100, 10_000, 1_000_000]) {
      const theta = thetaForShare(n, 0.2, 0.8);
      assert.ok(Math.abs(zipfTopShare(n, theta, Math.round(0.2 * n)) - 0.8) < 1e-9);
      assert.ok(theta > 0.8 && theta < 1.3, `theta ${theta} for n=${n}`);
    }
    assert.throws(() => thetaForShare(100, 0.2, 0.1), /access share must lie between 0.200 and 1/);
  });
});
