import assert from 'node:assert/strict';
import { Tier } from '../../../plugin/host/memory-host.js';
import { assignFrames, DirectMappedCache, MEMORY_MODE_MISS_PENALTY_NS, memoryModePolicy } from '../../../plugin/sim/policies/memory-mode.js';
import { TierLoad } from '../../../plugin/sim/tier-load.js';
import { tierPreset } from '../../../plugin/sim/tiers.js';
import { guestAccess, startHarness } from './harness.js';

describe('sim/baselines/memory-mode', () => {
  it('two frames that map to the same cache set evict each other; other sets are untouched', () => {
    const load = new TierLoad(tierPreset('optane'), 0, 1000);
    const cache = new DirectMappedCache(8, 1, load);
    assert.equal(cache.access(0, 3, false), Tier.NVM, 'cold miss');
    assert.equal(cache.access(0, 3, false), Tier.DRAM, 'hit');
    assert.equal(cache.access(0, 5, false), Tier.NVM, 'another set: miss');
    assert.equal(cache.access(0, 11, false), Tier.NVM, '11 = 3 + 8: same set, evicts 3');
    assert.equal(cache.access(0, 3, false), Tier.NVM, '3 was evicted by 11');
    assert.equal(cache.access(0, 11, false), Tier.NVM, '11 was evicted by 3');
    assert.equal(cache.access(0, 5, false), Tier.DRAM, '5 kept its set all along');
    assert.deepEqual([cache.hits[0], cache.misses[0]], [2, 5]);
  });

  it('a dirty victim is written back to NVM, a clean one is not; every miss fills DRAM', () => {
    const load = new TierLoad(tierPreset('optane'), 0, 1000);
    const cache = new DirectMappedCache(4, 2, load);
    cache.access(0, 1, true); // VM 0 writes frame 1: fill, dirty
    cache.access(1, 5, false); // VM 1 evicts it: dirty write-back charged to VM 0's line
    cache.access(0, 1, false); // and back: clean victim (frame 5)
    assert.equal(load.sliceWrites[Tier.NVM], 1, 'one dirty write-back');
    assert.equal(load.sliceWrites[Tier.DRAM], 3, 'three fills');
    assert.equal(cache.dirtyEvictions[0], 1);
    assert.equal(cache.evictedByOther[0], 1, "VM 1 evicted VM 0's line");
    assert.equal(cache.evictedByOther[1], 1, "VM 0 evicted VM 1's line");
  });

  it('gives every page a distinct frame and refuses VMs larger than NVM', () => {
    const frames = assignFrames([100, 50], 200, 7);
    const all = new Set([...frames[0]!, ...frames[1]!]);
    assert.equal(all.size, 150);
    for (const f of all) assert.ok(f >= 0 && f < 200);
    assert.throws(() => assignFrames([150, 100], 200, 7), /need 250 pages but NVM has only 200/);
  });

  it('as a policy: DRAM is not memory (every page in NVM) and co-running VMs share the cache', async () => {
    const policy = memoryModePolicy(1);
    const h = await startHarness(policy, { vms: 2, pageCount: 64, dramPages: 16, nvmPages: 128, firstTouchDram: Infinity });
    assert.equal(h.load.capacityPages[Tier.DRAM], 0);
    assert.ok(h.hosts.every((host) => host.vmTierPages[Tier.NVM] === 64));
    // VM 0 loops over 8 pages: after the first pass they hit unless VM 1 evicts them.
    for (let pass = 0; pass < 3; pass++) for (let p = 0; p < 8; p++) guestAccess(h.hosts[0]!, p, 0);
    const hook = h.hosts[0]!.accessHook!;
    assert.equal(guestAccess(h.hosts[0]!, 40, 0), Tier.NVM);
    assert.equal(hook.extraLatencyNs, MEMORY_MODE_MISS_PENALTY_NS, 'a miss pays the tag check on top of Optane');
    assert.equal(guestAccess(h.hosts[0]!, 40, 0), Tier.DRAM);
    assert.equal(hook.extraLatencyNs, 0, 'a hit costs what DRAM costs');
    for (let p = 0; p < 64; p++) guestAccess(h.hosts[1]!, p, 0);
    const hits = [0, 1, 2, 3, 4, 5, 6, 7].filter((p) => guestAccess(h.hosts[0]!, p, 0) === Tier.DRAM).length;
    assert.ok(hits < 8, `VM 1's sweep over 64 pages through a 16-set cache must evict some of VM 0's pages (hits ${hits})`);
    const reports = await h.running.stop();
    assert.ok((reports[0]!['evictedByOtherVms'] ?? 0) > 0);
    assert.equal(h.hosts[0]!.accessHook, undefined, 'the hook is removed at the end');
  });
});
