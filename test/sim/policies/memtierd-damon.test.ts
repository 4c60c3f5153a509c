import assert from 'node:assert/strict';
import { Tier } from '../../../plugin/host/memory-host.js';
import { damonPolicy, feedLoopNextInput } from '../../../plugin/sim/policies/damon.js';
import { heatClass, MEMTIERD_E2E_IDLEPAGE_CONFIG, MEMTIERD_SAMPLE_CONFIG, memtierdPolicy, nextHeat } from '../../../plugin/sim/policies/memtierd.js';
import { ACCESSED, pageBitsIndex, type SimHost } from '../../../plugin/sim/machine/sim-host.js';
import { startHarness, type Harness } from './harness.js';

const MS = 1e6;

/** Plays a guest that touches `pages` every millisecond until `untilNs`. */
async function touchUntil(h: Harness, host: SimHost, pages: readonly number[], untilNs: number): Promise<void> {
  while (h.clock.now() < untilNs) {
    for (const p of pages) host.pageBits[pageBitsIndex(p, ACCESSED)]! |= 1 << (p & 31);
    await h.clock.advanceTo(Math.min(untilNs, h.clock.now() + MS));
  }
}

describe('sim/policies/memtierd', () => {
  it('heat = min(max, accesses/pages + old x retention^dt), classes split [0, max] evenly', () => {
    const c = MEMTIERD_SAMPLE_CONFIG; // heatmax 0.001, retention 0.99, 4 classes
    assert.equal(nextHeat(c, 0, 0, 512, 1), 0);
    assert.equal(nextHeat(c, 0, 1, 512, 1), 0.001, 'one access in 512 pages is over heatmax: capped');
    assert.ok(Math.abs(nextHeat(c, 0.0008, 0, 512, 10) - 0.0008 * 0.99 ** 10) < 1e-12, 'cools by retention^seconds');
    assert.deepEqual([0, 0.00024, 0.00026, 0.0008, 0.001].map((h) => heatClass(c, h)), [0, 0, 1, 3, 3]);
  });

  it('with NumaSize: demotes idle regions, then moves the region the guest keeps touching into the room made', async () => {
    const c = MEMTIERD_E2E_IDLEPAGE_CONFIG;
    const region = c.pagesInRegion;
    // DRAM holds 2 regions' worth; first touch filled it with regions 0-1, the guest uses region 2.
    const h = await startHarness(memtierdPolicy(c), { vms: 1, pageCount: 4 * region, dramPages: 2 * region + 16, nvmPages: 8 * region, firstTouchDram: 2 * region });
    const host = h.hosts[0]!;
    const hot = Array.from({ length: region }, (_, i) => 2 * region + i);
    await touchUntil(h, host, hot, (c.intervalMs + 500) * MS);
    // First round (4 s): the hot region does not fit in DRAM by memtierd's accounting; idle ones go to NVM.
    assert.ok(hot.every((p) => host.tier[p] === Tier.NVM || hot.indexOf(p) < 16), 'the hot region waited');
    await touchUntil(h, host, hot, (2 * c.intervalMs + 500) * MS);
    for (const p of hot) assert.equal(host.tier[p], Tier.DRAM, `hot page ${p}`);
    for (let p = 0; p < 2 * region; p++) assert.equal(host.tier[p], Tier.NVM, `idle page ${p} demoted`);
    await h.stop();
  });
});

describe('sim/policies/damon', () => {
  it("the quota feedback loop grows below the goal, shrinks above it, and resets when far over", () => {
    assert.equal(feedLoopNextInput(20000, 5000), 30000, 'half the goal: +50%');
    assert.equal(feedLoopNextInput(20000, 15000), 10000, 'over by 50%: -50%, not below the minimum');
    assert.equal(feedLoopNextInput(40000, 10000), 40000, 'on the goal: unchanged');
    assert.equal(feedLoopNextInput(40000, 25000), 10000, 'twice the goal or more: back to the minimum');
  });

  it('promotes the pages the guest uses (young) and leaves the others in NVM while DRAM is below its goal', async function () {
    this.timeout(120_000);
    // How many of the scattered hot pages DAMON's paddr regions catch depends on the random frame layout: three layouts.
    let promoted = 0;
    for (const seed of [1, 2, 3]) {
      const h = await startHarness(damonPolicy(seed), { vms: 2, pageCount: 4096, dramPages: 4096, nvmPages: 8192, firstTouchDram: 0 });
      const hot = Array.from({ length: 512 }, (_, i) => i * 8); // scattered over the VM
      await touchUntil(h, h.hosts[0]!, hot, 2500 * MS);
      promoted += hot.filter((p) => h.hosts[0]!.tier[p] === Tier.DRAM).length / 3;
      assert.equal(h.hosts[1]!.vmTierPages[Tier.DRAM]!, 0, 'nothing of the idle VM is promoted (the young filter)');
      const reports = await h.stop();
      assert.ok((reports[0]!['hotRegions'] ?? 0) > 10, 'regions split beyond the minimum');
    }
    assert.ok(promoted > 256, `most hot pages promoted (${promoted.toFixed(0)} of 512 on average)`);
  });
});
