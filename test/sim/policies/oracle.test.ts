import assert from 'node:assert/strict';
import { SimMachine } from '../../../plugin/sim/machine/machine.js';
import { createPolicy } from '../../../plugin/sim/policies/index.js';
import { hottestPlacement, LookaheadWorkload } from '../../../plugin/sim/policies/oracle.js';
import { tierPreset } from '../../../plugin/sim/machine/tiers.js';
import { hotColdWorkload, xorshift } from '../inline-workloads.js';

/** Accesses a placement serves from DRAM. */
const covered = (counts: Uint32Array[], chosen: Uint8Array[]): number =>
  counts.reduce((s, c, v) => s + c.reduce((t, n, p) => t + (chosen[v]![p] === 1 ? n : 0), 0), 0);

describe('sim/policies/oracle', () => {
  it('its placement covers at least as many of the window accesses as any placement of the same DRAM size', () => {
    const next = xorshift(42);
    for (let trial = 0; trial < 200; trial++) {
      const counts = [0, 1].map(() => Uint32Array.from({ length: 5 }, () => next() % 4));
      const inDram = [0, 1].map(() => Uint8Array.from({ length: 5 }, () => next() & 1));
      const capacity = next() % 7;
      const chosen = hottestPlacement(counts, inDram, capacity);
      const size = chosen.reduce((s, c) => s + c.reduce((t, x) => t + x, 0), 0);
      assert.ok(size <= capacity, `uses at most the DRAM (${size} <= ${capacity})`);
      // Every placement of `capacity` pages among the 10: brute force.
      let best = 0;
      for (let mask = 0; mask < 1 << 10; mask++) {
        let bits = 0;
        for (let m = mask; m; m &= m - 1) bits++;
        if (bits > capacity) continue;
        const other = [0, 1].map((v) => Uint8Array.from({ length: 5 }, (_, p) => (mask >> (v * 5 + p)) & 1));
        best = Math.max(best, covered(counts, other));
      }
      assert.equal(covered(counts, chosen), best, `trial ${trial}`);
    }
  });

  it('reading ahead does not change the stream the guest sees', () => {
    const a = hotColdWorkload({ pageCount: 1000, hotPages: 100, hotShare: 0.9, writeShare: 0.3, seed: 9 });
    const b = new LookaheadWorkload(hotColdWorkload({ pageCount: 1000, hotPages: 100, hotShare: 0.9, writeShare: 0.3, seed: 9 }));
    const outA = new Uint32Array(4 * 300);
    const outB = new Uint32Array(4 * 300);
    const linesA = new Uint16Array(4 * 300);
    const linesB = new Uint16Array(4 * 300);
    a.nextOps(100, outA.subarray(0, 400), linesA.subarray(0, 400));
    b.nextOps(100, outB.subarray(0, 400), linesB.subarray(0, 400));
    b.ahead(150);
    a.nextOps(200, outA.subarray(400), linesA.subarray(400));
    b.nextOps(200, outB.subarray(400), linesB.subarray(400));
    assert.deepEqual(outB, outA);
    assert.deepEqual(linesB, linesA, 'the line descriptors too');
  });

  // Page-placement policies only: Memory Mode is a cache refilled on every miss, not a placement.
  it('on the same VMs and seeds it serves more accesses from DRAM than any page-placement policy', async function () {
    this.timeout(120_000);
    const pageCount = 1 << 13;
    const hit: Record<string, number> = {};
    for (const name of ['oracle', 'unmanaged', 'hmmv', 'numa-balancing', 'tpp']) {
      const vms = [0, 1].map((i) => ({
        name: `vm${i}`,
        // The hot set is bigger than DRAM's share and is not what first touch placed.
        workload: hotColdWorkload({ pageCount, hotPages: pageCount >> 1, hotShare: 0.9, writeShare: 0.2, seed: i + 3 }),
        pageCount,
        vcpus: 1,
        dramQuotaPages: pageCount >> 2,
      }));
      const machine = new SimMachine({ preset: tierPreset('optane'), dramPages: pageCount >> 1, nvmPages: 2 * pageCount, vms, trafficScale: 8 }, createPolicy(name));
      const r = await machine.run(400e6, undefined, 20e6);
      hit[name] = r.vms.reduce((s, vm) => s + vm.dramHitRatio * vm.accesses, 0) / r.vms.reduce((s, vm) => s + vm.accesses, 0);
    }
    for (const [name, h] of Object.entries(hit)) assert.ok(hit['oracle']! >= h, `oracle ${hit['oracle']} >= ${name} ${h}`);
  });
});
