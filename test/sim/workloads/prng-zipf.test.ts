import assert from 'node:assert/strict';
import { BufferedDraws, Prng } from '../../../plugin/sim/workloads/prng.js';
import { randomPermutation } from '../../../plugin/sim/workloads/permutation.js';
import { ZIPF_SPAN, ZipfSampler, blockWeight, harmonic, thetaForShare, zipfTopShare } from '../../../plugin/sim/workloads/zipf.js';

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

  it('Prng.fillU32 and BufferedDraws give the nextU32 sequence, however they are cut', () => {
    const reference = new Prng(5, 2);
    const expected = Array.from({ length: 5000 }, () => reference.nextU32());
    const filled = new Uint32Array(5000);
    const r = new Prng(5, 2);
    for (let at = 0, step = 1; at < 5000; at += step, step = step * 3 + 1) r.fillU32(filled, at, Math.min(5000, at + step));
    assert.deepEqual(Array.from(filled), expected);
    const buffered = new BufferedDraws(new Prng(5, 2), 64);
    const got: number[] = [];
    while (got.length < 5000) {
      const take = (got.length % 7) + 1; // a consumer that takes a varying number and refills when short
      if (buffered.pos + take > buffered.draws.length) buffered.refill();
      for (let i = 0; i < take; i++) got.push(buffered.draws[buffered.pos++]!);
    }
    assert.deepEqual(got.slice(0, 5000), expected);
    assert.throws(() => r.fillU32(filled, 10, 5001), /range \[10, 5001\) is not within 5000/);
  });

  it('ZipfSampler: a block weight is the sum of its terms (brute force), summed or by Euler-Maclaurin', () => {
    for (const theta of [0, 0.3, 0.86, 1, 1.5, 4]) {
      for (const [s, e] of [[1, 1], [64, 64], [100, 163], [4096, 4159], [4096, 4160], [10_000, 10_156], [1_000_000, 1_015_625], [50_000_000, 50_781_250]] as const) {
        let exact = 0;
        for (let k = s; k <= e; k++) exact += Math.pow(k, -theta);
        const got = blockWeight(s, e, theta);
        assert.ok(Math.abs(got - exact) <= 1e-12 * exact, `theta ${theta} [${s}, ${e}]: ${got} vs ${exact}`);
      }
    }
  });

  it('ZipfSampler: blocks cover the ranks in order, and the alias table gives each block its exact share', () => {
    for (const [n, theta] of [[1, 0.9], [63, 1], [64, 0.86], [5000, 0.86], [100_000, 0.99], [100_000, 0], [3_000_000, 1.3]] as const) {
      const z = new ZipfSampler(n, theta);
      const total = harmonic(n, theta);
      let next = 0;
      let sum = 0;
      for (let b = 0; b < z.blocks; b++) {
        const { first, width } = z.blockRanks(b);
        assert.equal(first, next, `n ${n}: block ${b} starts where the previous one ended`);
        assert.ok(width >= 1 && (first < ZIPF_SPAN ? width === 1 : (width + first === n || width === Math.floor((first + 1) / ZIPF_SPAN))), `n ${n}: block ${b} width ${width} at ${first}`);
        next = first + width;
        const p = z.blockProbability(b);
        sum += p;
        let exact = 0;
        for (let k = first + 1; k <= first + width; k++) exact += Math.pow(k, -theta);
        exact /= total;
        assert.ok(Math.abs(p - exact) <= 1e-9 * exact + 1e-15, `n ${n} theta ${theta} block ${b}: ${p} vs ${exact}`);
      }
      assert.equal(next, n, 'the blocks end at n');
      assert.ok(Math.abs(sum - 1) < 1e-12);
      assert.ok(z.stateBytes <= 40 * 64 * (2 + Math.log(Math.max(n, 64) / 64)), `${z.blocks} blocks for ${n} items`);
    }
  });

  it('ZipfSampler draws each rank with probability k^-theta / H(n, theta) (brute-force reference, every rank)', () => {
    // n = 300 has singleton blocks and blocks of 2-4 ranks; 2000 reaches blocks of 31.
    for (const [n, theta] of [[20, 0], [20, 0.7], [20, 1.5], [300, 0.86], [300, 1], [2000, 0.6], [2000, 2]] as const) {
      const z = new ZipfSampler(n, theta);
      const r = new Prng(3);
      const draws = 400_000;
      const counts = new Float64Array(n);
      for (let i = 0; i < draws; i++) counts[z.sample(r)]!++;
      let h = 0;
      for (let k = 1; k <= n; k++) h += Math.pow(k, -theta);
      let chi2 = 0;
      let chi2Variance = 0;
      for (let k = 0; k < n; k++) {
        const expected = (draws * Math.pow(k + 1, -theta)) / h;
        // Per rank where the normal bound holds (a rank expected under 10 times has a long Poisson tail); the chi-square takes every rank.
        if (expected >= 10) assert.ok(Math.abs(counts[k]! - expected) < 5 * Math.sqrt(expected) + 2, `n ${n} theta ${theta} rank ${k}: ${counts[k]} vs ${expected.toFixed(1)}`);
        chi2 += (counts[k]! - expected) ** 2 / expected;
        chi2Variance += 2 + 1 / expected; // a Poisson count's (X - m)^2 / m has variance 2 + 1/m
      }
      // Chi-square: mean about n - 1; 6 sd above it is far out.
      assert.ok(chi2 < n - 1 + 6 * Math.sqrt(chi2Variance), `n ${n} theta ${theta}: chi2 ${chi2.toFixed(1)} for ${n - 1} dof`);
    }
  });

  it('ZipfSampler: large n, rank groups against brute-force sums (the head, blocks, the far tail)', () => {
    const n = 5_000_000;
    const theta = 0.86;
    const z = new ZipfSampler(n, theta);
    const source = new Prng(5);
    const draws = 1_000_000;
    const ranks = new Uint32Array(draws);
    z.fill(source, ranks, draws);
    // Groups: single ranks 0..9, then ranges that cut through blocks.
    const edges = [0, 1, 2, 3, 5, 10, 63, 64, 100, 1000, 4095, 4096, 5000, 50_000, 123_457, 1_000_000, 2_345_678, n];
    const counts = new Float64Array(edges.length - 1);
    for (let i = 0; i < draws; i++) {
      let g = 0;
      while (ranks[i]! >= edges[g + 1]!) g++;
      counts[g]!++;
    }
    const total = harmonic(n, theta);
    for (let g = 0; g < counts.length; g++) {
      let exact = 0;
      for (let k = edges[g]! + 1; k <= edges[g + 1]!; k++) exact += Math.pow(k, -theta);
      const expected = (draws * exact) / total;
      assert.ok(Math.abs(counts[g]! - expected) < 5 * Math.sqrt(expected) + 2, `ranks [${edges[g]}, ${edges[g + 1]}): ${counts[g]} vs ${expected.toFixed(0)}`);
    }
  });

  it('ZipfSampler: inside its blocks the shape is k^-theta, not flat (lower halves of the blocks against brute force)', () => {
    // A flat block would put exactly half its width's draws in its lower half; Zipf puts ~theta/256 of the block more there.
    const n = 1_000_000;
    const theta = 1;
    const z = new ZipfSampler(n, theta);
    const draws = 16 * (1 << 20);
    const lowerEnd = new Float64Array(n); // per rank: the end of the lower half of its block, or 0 for a single-rank block
    let expectedLower = 0;
    let expectedFlat = 0;
    const total = harmonic(n, theta);
    for (let b = 0; b < z.blocks; b++) {
      const { first, width } = z.blockRanks(b);
      if (width < 2) continue;
      const half = first + Math.floor(width / 2);
      let block = 0;
      let lower = 0;
      for (let k = first; k < first + width; k++) {
        const w = Math.pow(k + 1, -theta) / total;
        block += w;
        if (k < half) lower += w;
        lowerEnd[k] = half;
      }
      expectedLower += lower;
      expectedFlat += (block * Math.floor(width / 2)) / width;
    }
    let lowerCount = 0;
    const source = new Prng(12);
    const ranks = new Uint32Array(1 << 20);
    for (let done = 0; done < draws; done += ranks.length) {
      z.fill(source, ranks, ranks.length);
      for (let i = 0; i < ranks.length; i++) if (ranks[i]! < lowerEnd[ranks[i]!]!) lowerCount++;
    }
    const expected = draws * expectedLower;
    const sd = Math.sqrt(expected);
    assert.ok(Math.abs(lowerCount - expected) < 4 * sd, `lower halves: ${lowerCount} vs ${expected.toFixed(0)} (flat: ${(draws * expectedFlat).toFixed(0)})`);
    assert.ok(expected - draws * expectedFlat > 7 * sd, `the test can tell Zipf from flat blocks (${(expected - draws * expectedFlat).toFixed(0)} apart, sd ${sd.toFixed(0)})`);
  });

  it('ZipfSampler.fill gives the ranks sample() gives on the same Prng, however the calls are cut', () => {
    for (const [n, theta] of [[1, 1], [1000, 0.86], [200_000, 1.2], [200_000, 0]] as const) {
      const z = new ZipfSampler(n, theta);
      const r = new Prng(8, 1);
      const expected = Array.from({ length: 20_000 }, () => z.sample(r));
      const source = new Prng(8, 1);
      const got = new Uint32Array(20_000);
      for (let at = 0, step = 1; at < 20_000; at += step, step = step * 2 + 1) {
        const c = Math.min(step, 20_000 - at);
        z.fill(source, got.subarray(at, at + c), c);
      }
      assert.deepEqual(Array.from(got), expected, `n ${n} theta ${theta}`);
      // And it took the same draws: the two Prngs are in the same state.
      assert.deepEqual(Array.from(source.state), Array.from(r.state), `n ${n} theta ${theta}: the draws taken`);
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
