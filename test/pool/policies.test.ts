import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allocate, effectiveBounds, quotaMoveCostRate, stepQuotas, waterFill, type VmDemand } from '../../plugin/pool/policies.js';
import { benefitCurveFromHistogram, curveBenefit, normalizeCurve } from '../../plugin/pool/curve.js';

const sum = (a: readonly number[]): number => a.reduce((x, y) => x + y, 0);

/** A small VM: a concave curve from random rates, bounds and weight. */
const smallVm = (maxPages: number): fc.Arbitrary<VmDemand> =>
  fc
    .record({
      pageCount: fc.integer({ min: 0, max: maxPages }),
      rates: fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 1000 })), { maxLength: 5 }),
      minPages: fc.integer({ min: 0, max: 3 }),
      maxPages: fc.integer({ min: 0, max: maxPages }),
      weight: fc.integer({ min: 1, max: 4 }),
      hotSetPages: fc.integer({ min: 0, max: maxPages }),
    })
    .map((r) => ({
      pageCount: r.pageCount,
      hotSetPages: r.hotSetPages,
      minPages: r.minPages,
      maxPages: r.maxPages,
      weight: r.weight,
      curve: normalizeCurve(r.rates.map(([p, rate]) => [p, rate] as const)),
    }));

/** Best total benefit over every allocation within the bounds (exhaustive). */
function bruteForceBest(pool: number, vms: readonly VmDemand[]): number {
  const { lo, hi } = effectiveBounds(pool, vms);
  let best = -1;
  const q: number[] = [];
  const walk = (i: number, left: number): void => {
    if (i === vms.length) {
      const total = sum(q.map((x, k) => curveBenefit(vms[k]!.curve, x)));
      if (total > best) best = total;
      return;
    }
    for (let x = lo[i]!; x <= Math.min(hi[i]!, left); x++) {
      q[i] = x;
      walk(i + 1, left - x);
    }
  };
  walk(0, pool);
  return best;
}

describe('pool policies', () => {
  it('utility matches the brute-force optimum on small random curves', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 14 }), fc.array(smallVm(10), { minLength: 1, maxLength: 4 }), (pool, vms) => {
        const q = allocate('utility', pool, vms);
        const got = sum(q.map((x, k) => curveBenefit(vms[k]!.curve, x)));
        const best = bruteForceBest(pool, vms);
        assert.ok(Math.abs(got - best) < 1e-6, `utility ${got} < optimum ${best} for ${JSON.stringify({ pool, vms, q })}`);
      }),
      { numRuns: 400 },
    );
  });

  it('utility with a move cost maximises benefit less the cost of the pages it moves (brute force), and keeps quotas for small gains', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 14 }),
        fc.array(fc.tuple(smallVm(10), fc.integer({ min: 0, max: 10 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 300 }),
        (pool, raw, cost) => {
          const vms = raw.map(([v, current]) => ({ ...v, currentPages: current }));
          const q = allocate('utility', pool, vms, { moveCostRate: cost });
          // The objective: benefit, plus `cost` for every page a VM keeps of what it holds (= minus the cost of moving).
          const value = (alloc: readonly number[]) => sum(alloc.map((x, k) => curveBenefit(vms[k]!.curve, x) + cost * Math.min(x, vms[k]!.currentPages)));
          const { lo, hi } = effectiveBounds(pool, vms);
          let best = -1;
          const a: number[] = [];
          const walk = (i: number, left: number): void => {
            if (i === vms.length) {
              best = Math.max(best, value(a));
              return;
            }
            for (let x = lo[i]!; x <= Math.min(hi[i]!, left); x++) {
              a[i] = x;
              walk(i + 1, left - x);
            }
          };
          walk(0, pool);
          assert.ok(Math.abs(value(q) - best) < 1e-6, `utility ${value(q)} < optimum ${best} for ${JSON.stringify({ pool, vms, q, cost })}`);
        },
      ),
      { numRuns: 300 },
    );
    // Two VMs holding 50 pages each; B's next pages are worth 12/s more than A's last ones:
    // with a move cost of 9/s per page that is worth moving, with 20/s it is not.
    const a: VmDemand = { pageCount: 100, hotSetPages: 60, minPages: 0, maxPages: 100, weight: 1, curve: [[60, 50]], currentPages: 50 };
    const b: VmDemand = { pageCount: 100, hotSetPages: 70, minPages: 0, maxPages: 100, weight: 1, curve: [[40, 62], [30, 62]], currentPages: 50 };
    const a2: VmDemand = { ...a, curve: [[40, 100], [20, 50]] };
    assert.deepEqual(allocate('utility', 100, [a2, b], { moveCostRate: 9 }), [40, 60]);
    assert.deepEqual(allocate('utility', 100, [a2, b], { moveCostRate: 20 }), [50, 50]);
    const rate = quotaMoveCostRate(4096, { dram: 80, nvm: 300 });
    assert.ok(rate > 20 && rate < 40, `move cost ${rate} accesses/s`);
  });

  for (const policy of ['utility', 'fair', 'weighted'] as const) {
    it(`${policy}: quotas never exceed the pool and respect feasible bounds`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 200 }), fc.array(smallVm(100), { maxLength: 6 }), (pool, vms) => {
          const q = allocate(policy, pool, vms);
          assert.equal(q.length, vms.length);
          assert.ok(sum(q) <= pool, `sum ${sum(q)} > pool ${pool}`);
          const { lo, hi } = effectiveBounds(pool, vms);
          q.forEach((x, i) => {
            assert.ok(Number.isInteger(x), `quota ${x} not an integer`);
            assert.ok(x >= lo[i]! && x <= Math.max(hi[i]!, lo[i]!), `quota ${x} outside [${lo[i]}, ${hi[i]}]`);
          });
          // Work-conserving: pages are left over only when every VM is at its max.
          if (sum(q) < pool) q.forEach((x, i) => assert.equal(x, hi[i], 'pool left idle while a VM could take more'));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('fair gives no VM less than its fair share when it wants it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.array(smallVm(300), { minLength: 1, maxLength: 6 }), (pool, raw) => {
        const vms = raw.map((v) => ({ ...v, minPages: 0 }));
        const q = allocate('fair', pool, vms);
        const share = Math.floor(pool / vms.length);
        vms.forEach((v, i) => {
          const wants = Math.min(v.hotSetPages, v.maxPages, v.pageCount);
          assert.ok(q[i]! >= Math.min(wants, share), `VM ${i} wants ${wants}, got ${q[i]} < fair share ${share}`);
        });
      }),
      { numRuns: 400 },
    );
  });

  it('weighted shares follow the weights while both VMs want more', () => {
    const big = (weight: number): VmDemand => ({ pageCount: 1e6, hotSetPages: 1e6, minPages: 0, maxPages: 1e6, weight, curve: [] });
    assert.deepEqual(allocate('weighted', 3000, [big(1), big(2)]), [1000, 2000]);
    const q = allocate('weighted', 3000, [big(1), { ...big(2), hotSetPages: 500, maxPages: 600 }]);
    assert.deepEqual(q, [2500, 500], 'a VM whose hot set is covered hands the rest to the other');
  });

  it('utility follows the marginal benefit', () => {
    const a: VmDemand = { pageCount: 100, hotSetPages: 50, minPages: 0, maxPages: 100, weight: 1, curve: [[50, 10], [50, 1]] };
    const b: VmDemand = { pageCount: 100, hotSetPages: 30, minPages: 10, maxPages: 100, weight: 1, curve: [[30, 5], [70, 2]] };
    // 50 pages of A at 10/s, then B's 30 at 5/s (10 of them are its minimum), then B's 2/s pages.
    assert.deepEqual(allocate('utility', 100, [a, b]), [50, 50]);
    assert.deepEqual(allocate('utility', 60, [a, b]), [50, 10]);
  });

  it('utility splits pages of equal value evenly: the order of the VMs decides nothing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), smallVm(3000), fc.integer({ min: 2, max: 5 }), (pool, vm, n) => {
        const q = allocate('utility', pool, Array.from({ length: n }, () => vm));
        assert.ok(Math.max(...q) - Math.min(...q) <= 1, `identical VMs got ${q.join(', ')}`);
      }),
      { numRuns: 200 },
    );
  });

  it('mins that do not fit the pool are scaled down, not overcommitted', () => {
    const v: VmDemand = { pageCount: 100, hotSetPages: 100, minPages: 80, maxPages: 100, weight: 1, curve: [] };
    for (const p of ['utility', 'fair', 'weighted'] as const) assert.ok(sum(allocate(p, 100, [v, v])) <= 100);
  });

  it('waterFill raises the lowest first and stops at caps', () => {
    assert.deepEqual(waterFill([0, 0, 0], [5, 100, 100], [1, 1, 1], 25), [5, 10, 10]);
    assert.deepEqual(waterFill([0, 0], [100, 100], [1, 1], 7).sort(), [3, 4]);
    assert.deepEqual(waterFill([9, 0], [100, 100], [1, 1], 11), [9, 2]);
  });

  it('stepQuotas: bounded steps, hysteresis, never over the pool', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.record({ target: fc.nat(400), step: fc.integer({ min: 1, max: 100 }), dram: fc.nat(400), cur: fc.nat(400) }), { maxLength: 6 }),
        fc.integer({ min: 0, max: 20 }),
        (pool, raw, hyst) => {
          // Current quotas as the daemon would have them: within the pool.
          const cur = waterFill(raw.map(() => 0), raw.map((r) => r.cur), raw.map(() => 1), pool);
          const tgt = waterFill(raw.map(() => 0), raw.map((r) => r.target), raw.map(() => 1), pool);
          const input = raw.map((r, i) => ({ current: cur[i]!, target: tgt[i]!, maxStepPages: r.step, dramPages: Math.min(r.dram, cur[i]!) }));
          const next = stepQuotas(pool, input, hyst);
          assert.ok(sum(next) <= pool, `sum ${sum(next)} > pool ${pool}`);
          next.forEach((x, i) => {
            const v = input[i]!;
            assert.ok(Math.abs(x - v.current) <= v.maxStepPages, 'moved more than a step');
            if (Math.abs(v.target - v.current) < hyst) assert.equal(x, v.current, 'hysteresis ignored');
            // Moves go towards the target, never past it.
            assert.ok((x - v.current) * (v.target - x) >= 0, `overshoot ${v.current} -> ${x} (target ${v.target})`);
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('stepQuotas converges to the target and a grower waits for a shrinker to demote', () => {
    let cur = [800, 200];
    const target = [200, 800];
    const dram = [800, 200];
    for (let k = 0; k < 10; k++) {
      cur = stepQuotas(1000, cur.map((c, i) => ({ current: c, target: target[i]!, maxStepPages: 150, dramPages: dram[i]! })), 10);
      // The shrinking VM demotes down to its new quota within the step; the grower fills its new quota.
      dram[0] = Math.min(dram[0]!, cur[0]!);
      dram[1] = cur[1]!;
      assert.ok(dram[0]! + dram[1]! <= 1000, 'DRAM overcommitted during the move');
    }
    assert.deepEqual(cur, target);
  });

  it('benefitCurveFromHistogram weights buckets by their rates, hottest first', () => {
    const histogram = new Uint32Array(256);
    const rate = new Float64Array(256);
    histogram[0] = 1000; // cold, rate 0
    histogram[10] = 100;
    histogram[200] = 5;
    rate[10] = 2;
    rate[200] = 50;
    const curve = benefitCurveFromHistogram({ histogram, accessRatePerPage: rate });
    assert.deepEqual(curve, [[5, 50], [100, 2]]);
    assert.equal(curveBenefit(curve, 5), 250);
    assert.equal(curveBenefit(curve, 55), 350);
    assert.equal(curveBenefit(curve, 1e9), 450);
  });
});
