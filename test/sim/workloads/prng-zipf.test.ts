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

  it('thetaForShare gives the theta whose top 20% get 80%', () => {
    for (const n of [100, 10_000, 1_000_000]) {
      const theta = thetaForShare(n, 0.2, 0.8);
      assert.ok(Math.abs(zipfTopShare(n, theta, Math.round(0.2 * n)) - 0.8) < 1e-9);
      assert.ok(theta > 0.8 && theta < 1.3, `theta ${theta} for n=${n}`);
    }
    assert.throws(() => thetaForShare(100, 0.2, 0.1), /access share must lie between 0.200 and 1/);
  });
});
