import assert from 'node:assert/strict';
import { Tier } from '../../../plugin/host/memory-host.js';
import { NUMA_HINT_FAULT_NS, numaBalancingPolicy, watermarks } from '../../../plugin/sim/policies/numa-balancing.js';
import { guestAccess, startHarness } from './harness.js';
import { ACCESSED, pageBitsIndex } from '../../../plugin/sim/machine/sim-host.js';

const MS = 1e6;

describe('sim/policies/numa-balancing', () => {
  it('marks only slow-tier pages and charges each hint fault to the VM', async () => {
    const h = await startHarness(numaBalancingPolicy(), { vms: 1, pageCount: 1024, dramPages: 512, nvmPages: 2048, firstTouchDram: 256 });
    const host = h.hosts[0]!;
    await h.clock.advanceTo(0); // the first scan
    const watched = host.accessHook!.watched!;
    for (let p = 0; p < 1024; p++) {
      const marked = (watched[p >>> 5]! & (1 << (p & 31))) !== 0;
      assert.equal(marked, host.tier[p] === Tier.NVM, `page ${p}`);
    }
    assert.equal(host.counters.pagesScanned, 1024, 'one pass over the VM per scan, never more');
    const before = host.charges.faultNs;
    guestAccess(host, 600, h.clock.now());
    assert.equal(host.charges.faultNs - before, NUMA_HINT_FAULT_NS);
    assert.equal(guestAccess(host, 600, h.clock.now()), host.tier[600], 'the second access does not fault');
    assert.equal(host.charges.faultNs - before, NUMA_HINT_FAULT_NS);
    await h.stop();
  });

  it('promotes a page whose hint fault comes within the hot threshold of its scan, not one that comes later', async () => {
    const h = await startHarness(numaBalancingPolicy(), { vms: 1, pageCount: 1024, dramPages: 512, nvmPages: 2048, firstTouchDram: 0 });
    const host = h.hosts[0]!;
    await h.clock.advanceTo(500 * MS);
    assert.equal(guestAccess(host, 10, h.clock.now()), Tier.DRAM, 'fault 500 ms after the scan: hot, promoted');
    await h.clock.advanceTo(1500 * MS); // the scan at 1 s leaves page 20 alone: it is still PROT_NONE from the first
    assert.equal(guestAccess(host, 20, h.clock.now()), Tier.NVM, 'fault 1.5 s after its scan: not hot');
    assert.equal(host.tier[20], Tier.NVM);
    assert.equal(host.tier[10], Tier.DRAM);
    await h.stop();
  });

  it('TPP: a page touched in two scan periods is promoted, a page touched in one is not', async () => {
    const h = await startHarness(numaBalancingPolicy({ tpp: true }), { vms: 1, pageCount: 1024, dramPages: 512, nvmPages: 2048, firstTouchDram: 0 });
    const host = h.hosts[0]!;
    await h.clock.advanceTo(100 * MS);
    assert.equal(guestAccess(host, 10, h.clock.now()), Tier.NVM, 'first fault only activates');
    assert.equal(guestAccess(host, 20, h.clock.now()), Tier.NVM);
    await h.clock.advanceTo(1100 * MS); // the next scan re-marks both
    assert.equal(guestAccess(host, 10, h.clock.now()), Tier.DRAM, 'second fault of an active page promotes it');
    await h.clock.advanceTo(2100 * MS);
    assert.equal(host.tier[20], Tier.NVM, 'touched once: stays in NVM');
    await h.stop();
  });

  it('kswapd demotes unreferenced DRAM pages until free memory reaches the promo watermark, keeping referenced ones', async () => {
    const dramPages = 512;
    const wm = watermarks(dramPages, 2048);
    const h = await startHarness(numaBalancingPolicy(), { vms: 1, pageCount: 1024, dramPages, nvmPages: 2048, firstTouchDram: Infinity });
    const host = h.hosts[0]!;
    assert.equal(h.load.freePages(Tier.DRAM), 0, 'first touch filled DRAM');
    // Pages 0..99 are in use: their accessed bits are set.
    for (let p = 0; p < 100; p++) host.pageBits[pageBitsIndex(p, ACCESSED)]! |= 1 << (p & 31);
    await h.clock.advanceTo(20 * MS);
    assert.ok(h.load.freePages(Tier.DRAM) >= wm.promo, `free ${h.load.freePages(Tier.DRAM)} >= promo watermark ${wm.promo}`);
    assert.ok(h.load.freePages(Tier.DRAM) < wm.promo + 10, 'and not much more');
    for (let p = 0; p < 100; p++) assert.equal(host.tier[p], Tier.DRAM, `referenced page ${p} stays`);
    await h.stop();
  });
});
