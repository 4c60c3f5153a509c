import assert from 'node:assert/strict';
import { Tier } from '../../../plugin/host/memory-host.js';
import { assignFrames, DirectMappedCache, MEMORY_MODE_MISS_PENALTY_NS, memoryModePolicy } from '../../../plugin/sim/policies/memory-mode.js';
import { xorshift32 } from '../../../plugin/sim/policies/rng.js';
import { TierLoad } from '../../../plugin/sim/machine/tier-load.js';
import { tierPreset } from '../../../plugin/sim/machine/tiers.js';
import { SimMachine } from '../../../plugin/sim/machine/machine.js';
import { encodeAccess, lineSpan, writeBackSpan } from '../../../plugin/sim/workloads/workload.js';
import { guestAccess, startHarness } from './harness.js';

const SETS = 8;

/** A cache of SETS pages over 1000 frames, and the traffic one access puts on the tiers (64 B units). */
function setup() {
  const load = new TierLoad(tierPreset('optane'), 0, 1000);
  const cache = new DirectMappedCache(SETS, 1000, 2, load);
  const traffic = (frame: number, first: number, count: number, write = false, writeBackOnly = false, vm = 0) => {
    load.sliceReads.fill(0);
    load.sliceWrites.fill(0);
    const hit = cache.access(vm, (frame % SETS) * 64, Math.floor(frame / SETS), first, count, write, writeBackOnly);
    return { hit, dramR: load.sliceReads[Tier.DRAM], dramW: load.sliceWrites[Tier.DRAM], nvmR: load.sliceReads[Tier.NVM], nvmW: load.sliceWrites[Tier.NVM] };
  };
  return { load, cache, traffic };
}

/**
 * Brute-force reference: a Map per cache line holding {frame, dirty}, the
 * protocol written out step by step, Optane traffic in 256 B XPLines with the
 * same grouping rules (missed lines of one XPLine share a read; consecutive
 * dirty victims of one XPLine share a write).
 */
function referenceAccess(state: Map<number, { frame: number; dirty: boolean }>, frame: number, first: number, count: number, write: boolean, wbOnly: boolean) {
  const t = { hit: true, dramR: 0, dramW: 0, nvmR: 0, nvmW: 0 };
  let lastReadXp = -1;
  let lastVictim = '';
  const victim = (set: number, l: number) => {
    const v = state.get(set)!;
    if (!v.dirty) return;
    const key = `${v.frame}:${l >> 2}`;
    if (key !== lastVictim) t.nvmW += 4;
    lastVictim = key;
  };
  for (let l = first; l < first + count; l++) {
    if (wbOnly) break;
    const set = (frame % SETS) * 64 + l;
    t.dramR++;
    const held = state.get(set);
    if (held && held.frame === frame) continue;
    if (l === first) t.hit = false;
    if (l >> 2 !== lastReadXp) t.nvmR += 4;
    lastReadXp = l >> 2;
    t.dramW++;
    if (held) victim(set, l);
    state.set(set, { frame, dirty: false });
  }
  if (write) {
    for (let l = first; l < first + count; l++) {
      const set = (frame % SETS) * 64 + l;
      t.dramR++;
      t.dramW++;
      const held = state.get(set);
      if (held && held.frame !== frame) victim(set, l);
      state.set(set, { frame, dirty: true });
    }
  }
  return t;
}

describe('sim/policies/memory-mode: the line cache', () => {
  it('caches 64 B lines, not pages: another line of a cached frame misses', () => {
    const { traffic } = setup();
    assert.equal(traffic(3, 5, 1).hit, false, 'cold miss');
    assert.equal(traffic(3, 5, 1).hit, true, 'the same line hits');
    assert.equal(traffic(3, 6, 1).hit, false, 'the next line of the same page was never filled');
    assert.equal(traffic(3, 6, 1).hit, true);
  });

  it('frames congruent modulo the cache evict each other line by line; their other lines stay', () => {
    const { cache, traffic } = setup();
    traffic(3, 0, 2); // lines 0 and 1 of frame 3
    traffic(11, 1, 1); // frame 11 = 3 + 8: same set group, evicts line 1 only
    assert.equal(cache.contains(3 * 64, 0, 0), true, 'line 0 of frame 3 kept its set');
    assert.equal(cache.contains(3 * 64, 0, 1), false, 'line 1 of frame 3 was evicted');
    assert.equal(cache.contains(3 * 64, 1, 1), true, 'by line 1 of frame 11');
    assert.equal(traffic(5, 1, 1).hit, false, 'another set group is untouched by both');
  });

  it('moves what the Cascade Lake controller moves: tag-check reads, fills, Optane in 256 B XPLines', () => {
    const { cache, traffic } = setup();
    assert.deepEqual(traffic(3, 5, 1), { hit: false, dramR: 1, dramW: 1, nvmR: 4, nvmW: 0 }, 'read miss: DRAM read (tag), Optane XPLine read, DRAM fill');
    assert.deepEqual(traffic(3, 5, 1), { hit: true, dramR: 1, dramW: 0, nvmR: 0, nvmW: 0 }, 'read hit: one DRAM read');
    assert.deepEqual(traffic(3, 5, 1, true, true), { hit: true, dramR: 1, dramW: 1, nvmR: 0, nvmW: 0 }, 'write-back of a cached line: tag check and write, no Optane read');
    assert.equal(cache.isDirty(3 * 64, 0, 5), true);
    assert.deepEqual(traffic(11, 5, 1), { hit: false, dramR: 1, dramW: 1, nvmR: 4, nvmW: 4 }, 'a miss on a dirty line writes the victim back: a 256 B media write');
    assert.deepEqual(traffic(19, 5, 1, true), { hit: false, dramR: 2, dramW: 2, nvmR: 4, nvmW: 0 }, 'a store miss: read for ownership, then the write-back');
    assert.equal(cache.isDirty(19 % SETS * 64, 2, 5), true);
  });

  it('the lines of one access share XPLine reads, and a dirty victim XPLine is written once', () => {
    const { traffic } = setup();
    assert.deepEqual(traffic(2, 0, 16), { hit: false, dramR: 16, dramW: 16, nvmR: 16, nvmW: 0 }, '16 lines = 4 XPLines read from Optane');
    assert.deepEqual(traffic(2, 0, 16, true, true), { hit: true, dramR: 16, dramW: 16, nvmR: 0, nvmW: 0 });
    assert.deepEqual(traffic(10, 0, 16), { hit: false, dramR: 16, dramW: 16, nvmR: 16, nvmW: 16 }, '16 dirty victim lines of one frame: 4 XPLine writes');
    assert.deepEqual(traffic(4, 2, 3), { hit: false, dramR: 3, dramW: 3, nvmR: 8, nvmW: 0 }, 'lines 2-4 straddle two XPLines');
  });

  it('matches a brute-force reference on random accesses', () => {
    const { cache, traffic } = setup();
    const state = new Map<number, { frame: number; dirty: boolean }>();
    const next = xorshift32(42);
    for (let i = 0; i < 5000; i++) {
      const frame = next() % 40;
      const first = next() % 64;
      const count = 1 + (next() % Math.min(16, 64 - first));
      const write = next() % 3 === 0;
      const wbOnly = write && next() % 2 === 0;
      assert.deepEqual(traffic(frame, first, count, write, wbOnly), referenceAccess(state, frame, first, count, write, wbOnly), `access ${i}`);
    }
    for (const [set, v] of state) assert.equal(cache.contains(Math.floor(set / 64) * 64, Math.floor(v.frame / SETS), set % 64), true);
  });

  it('counts evictions by another VM and refuses an NVM too large for its tag bytes', () => {
    const { cache, traffic } = setup();
    cache.own(1, 0);
    cache.own(9, 1);
    traffic(1, 0, 1, true, false, 0);
    traffic(9, 0, 1, false, false, 1);
    assert.equal(cache.counters.evictedByOther[0], 1);
    assert.equal(cache.counters.dirtyEvictions[0], 1);
    assert.throws(() => new DirectMappedCache(8, 8 * 200, 1, undefined), /NVM \(1600 pages\) may be at most 127 times the DRAM cache \(8 pages\)/);
    assert.throws(() => new DirectMappedCache(0, 8, 1, undefined), /needs DRAM to use as its cache/);
  });

  it('gives every page a distinct frame and refuses VMs larger than NVM', () => {
    const frames = assignFrames([100, 50], 200, 7);
    const all = new Set([...frames[0]!, ...frames[1]!]);
    assert.equal(all.size, 150);
    for (const f of all) assert.ok(f >= 0 && f < 200);
    assert.throws(() => assignFrames([150, 100], 200, 7), /need 250 pages but NVM has only 200/);
  });
});

describe('sim/policies/memory-mode: the policy', () => {
  it('DRAM is not memory (every page in NVM), misses pay the tag check, co-running VMs share the cache', async () => {
    const policy = memoryModePolicy(1);
    const h = await startHarness(policy, { vms: 2, pageCount: 64, dramPages: 16, nvmPages: 128, firstTouchDram: Infinity });
    assert.equal(h.load.capacityPages(Tier.DRAM), 0);
    assert.ok(h.hosts.every((host) => host.vmTierPages[Tier.NVM] === 64));
    const whole = lineSpan(0, 64);
    // VM 0 loops over 8 whole pages: after the first pass they hit unless VM 1 evicts them.
    for (let pass = 0; pass < 3; pass++) for (let p = 0; p < 8; p++) guestAccess(h.hosts[0]!, p, 0, false, whole);
    const hook = h.hosts[0]!.accessHook!;
    assert.equal(hook.accountsTraffic, true);
    assert.equal(guestAccess(h.hosts[0]!, 40, 0, false, lineSpan(3, 1)), Tier.NVM);
    assert.equal(hook.extraLatencyNs, MEMORY_MODE_MISS_PENALTY_NS, 'a miss pays the tag check on top of Optane (idle DRAM)');
    assert.equal(guestAccess(h.hosts[0]!, 40, 0, false, lineSpan(3, 1)), Tier.DRAM);
    assert.equal(hook.extraLatencyNs, 0, 'a hit costs what DRAM costs');
    assert.equal(guestAccess(h.hosts[0]!, 40, 0, true, writeBackSpan(3, 1)), Tier.DRAM, 'write-back of a cached line');
    for (let p = 0; p < 64; p++) guestAccess(h.hosts[1]!, p, 0, false, whole);
    const hits = [0, 1, 2, 3, 4, 5, 6, 7].filter((p) => guestAccess(h.hosts[0]!, p, 0, false, whole) === Tier.DRAM).length;
    assert.ok(hits < 8, `VM 1's sweep over 64 pages through a 16-page cache must evict some of VM 0's lines (hits ${hits})`);
    const reports = await h.running.stop();
    assert.ok((reports[0]!['evictedByOtherVms'] ?? 0) > 0);
    assert.ok(reports[0]!['cacheHitRatio']! > 0 && reports[0]!['cacheHitRatio']! < 1);
    assert.equal(h.hosts[0]!.accessHook, undefined, 'the hook is removed at the end');
  });
});

describe('sim/policies/memory-mode: against published Memory Mode behaviour', () => {
  /**
   * A pointer chase (one thread, dependent random reads of single lines,
   * uniform over a working set) in Memory Mode, as Moon et al. (JOK 2020)
   * measured it against the working-set size: within the DRAM cache it runs
   * at DRAM latency apart from direct-mapped conflicts, beyond it most
   * accesses pay Optane's latency plus ~70 ns for the tag check. Returns the
   * mean latency per access and the cache's line hit ratio after warm-up.
   */
  async function chase(workingSetPages: number, cachePages: number): Promise<{ latencyNs: number; hitRatio: number }> {
    const next = xorshift32(77);
    const workload = {
      name: 'chase',
      pageCount: workingSetPages,
      cpuNsPerOp: 0,
      accessesPerOp: 1,
      nextOps(ops: number, out: Uint32Array, lines: Uint16Array) {
        for (let i = 0; i < ops; i++) {
          const r = next();
          out[i] = encodeAccess(r % workingSetPages, false);
          lines[i] = lineSpan(next() & 63, 1);
        }
      },
    };
    const machine = new SimMachine(
      { preset: tierPreset('optane'), dramPages: cachePages, nvmPages: 64 * cachePages, trafficScale: 1, vms: [{ name: 'vm0', workload, pageCount: workingSetPages, vcpus: 1, dramQuotaPages: 0 }] },
      memoryModePolicy(5),
    );
    // Frames are spread over an NVM 64 times the cache, as on a host whose Optane is much larger than its DRAM.
    // The cache starts cold with the policy: long enough a run for every line to be touched ~10 times,
    // measured over its second half (the run's timeline).
    const r = await machine.run(Math.max(100e6, workingSetPages * 64 * 20 * 300));
    const t = r.timeline.vms[0]!;
    const half = t.opsPerSec.length / 2;
    const mean = (xs: number[]) => xs.slice(half).reduce((a, b) => a + b, 0) / (xs.length - half);
    return { latencyNs: 1e9 / mean(t.opsPerSec), hitRatio: mean(t.dramHitRatio) };
  }

  it('follows the direct-mapped hit ratio (1 - e^-λ)/λ and Moon et al.\'s latencies from inside to beyond the cache', async function () {
    this.timeout(300_000);
    const cache = 4096;
    const rows: string[] = [];
    for (const lambda of [0.125, 0.5, 1, 2, 8]) {
      const { latencyNs, hitRatio } = await chase(Math.round(lambda * cache), cache);
      const expectedHit = (1 - Math.exp(-lambda)) / lambda;
      rows.push(`λ=${lambda}: hit ${(100 * hitRatio).toFixed(1)}% (formula ${(100 * expectedHit).toFixed(1)}%), ${latencyNs.toFixed(0)} ns`);
      assert.ok(Math.abs(hitRatio - expectedHit) < 0.03, rows.join('; '));
      // Random reads: DRAM 101 ns on a hit, Optane 305 ns + 70 ns tag check on a miss, at idle.
      const expectedNs = hitRatio * 101 + (1 - hitRatio) * (305 + MEMORY_MODE_MISS_PENALTY_NS);
      assert.ok(Math.abs(latencyNs - expectedNs) / expectedNs < 0.05, rows.join('; '));
    }
    if (process.env['HMMV_VERBOSE']) console.log(rows.join('\n'));
  });
});
