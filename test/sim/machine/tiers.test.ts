import assert from 'node:assert/strict';
import { Tier } from '../../../plugin/host/memory-host.js';
import { TierLoad, latencyIndex } from '../../../plugin/sim/machine/tier-load.js';
import { loadedLatencyFactor, tierPreset, OPTANE_RAND_READ_NS, DRAM_RAND_READ_NS } from '../../../plugin/sim/machine/tiers.js';
import { SimMachine } from '../../../plugin/sim/machine/machine.js';
import { allDramPolicy } from '../../../plugin/sim/policies/all-dram.js';
import { unmanagedPolicy } from '../../../plugin/sim/policies/unmanaged.js';
import { hotColdWorkload } from '../inline-workloads.js';

describe('sim/machine/tiers', () => {
  it('idle latencies are the published ones and the slow tier is slower', () => {
    const optane = tierPreset('optane');
    assert.equal(optane.tiers[Tier.DRAM].randReadNs, DRAM_RAND_READ_NS);
    assert.equal(optane.tiers[Tier.NVM].randReadNs, OPTANE_RAND_READ_NS);
    assert.ok(optane.tiers[Tier.NVM].writeBytesPerSec < optane.tiers[Tier.NVM].readBytesPerSec);
    assert.ok(tierPreset('cxl').tiers[Tier.NVM].randReadNs > DRAM_RAND_READ_NS);
    assert.throws(() => tierPreset('hbm'), /unknown tier preset "hbm" \(known: optane, cxl\)/);
  });

  it('the loaded-latency curve rises with utilisation and stays finite past saturation', () => {
    let prev = loadedLatencyFactor(0);
    assert.equal(prev, 1);
    for (let u = 0.05; u <= 1.5; u += 0.05) {
      const f = loadedLatencyFactor(u);
      assert.ok(f >= prev, `factor fell at u=${u}`);
      assert.ok(Number.isFinite(f));
      prev = f;
    }
    assert.ok(loadedLatencyFactor(0.9) > 2 * loadedLatencyFactor(0.3));
  });

  it('a tier carrying more traffic answers more slowly; writes to Optane weigh more than reads', () => {
    const lat = (reads: number, writes: number): number => {
      const load = new TierLoad(tierPreset('optane'), 100, 100);
      for (let i = 0; i < 20; i++) {
        load.sliceReads[Tier.NVM] = reads;
        load.sliceWrites[Tier.NVM] = writes;
        load.endSlice(1e6);
      }
      return load.latencyNs[latencyIndex(Tier.NVM, false)]!;
    };
    const idle = lat(0, 0);
    assert.equal(idle, OPTANE_RAND_READ_NS);
    // 1 ms slices: 100k lines = 6.4 GB/s, 300k lines = 19.2 GB/s of reads.
    assert.ok(lat(100_000, 0) > idle);
    assert.ok(lat(300_000, 0) > lat(100_000, 0));
    assert.ok(lat(0, 100_000) > lat(100_000, 0), 'write bandwidth is a third of read bandwidth');
  });

  it('VMs on a shared NVM tier slow each other down as they add load', async () => {
    const pages = 4096;
    const nvmOpsPerSec = async (vmCount: number, trafficScale: number): Promise<number> => {
      const vms = Array.from({ length: vmCount }, (_, i) => ({
        name: `vm${i}`,
        workload: hotColdWorkload({ pageCount: pages, hotPages: 512, hotShare: 0.5, writeShare: 0.5, seed: i + 1, cpuNsPerOp: 0 }),
        pageCount: pages,
        vcpus: 4,
        dramQuotaPages: 0,
      }));
      // No DRAM at all: every access goes to Optane.
      const machine = new SimMachine({ preset: tierPreset('optane'), dramPages: 0, nvmPages: pages * vmCount, vms, trafficScale }, unmanagedPolicy);
      const result = await machine.run(20e6);
      assert.equal(result.vms[0]!.dramHitRatio, 0);
      return result.vms[0]!.opsPerSec;
    };
    const alone = await nvmOpsPerSec(1, 16);
    const crowded = await nvmOpsPerSec(4, 16);
    assert.ok(crowded < alone * 0.9, `one VM alone ${alone.toFixed(0)} ops/s, with three neighbours ${crowded.toFixed(0)}`);
    // And all-DRAM is faster than all-Optane for the same VM.
    const vms = [{ name: 'vm0', workload: hotColdWorkload({ pageCount: pages, hotPages: 512, hotShare: 0.5, writeShare: 0.5, seed: 1, cpuNsPerOp: 0 }), pageCount: pages, vcpus: 4, dramQuotaPages: 0 }];
    const dram = await new SimMachine({ preset: tierPreset('optane'), dramPages: 0, nvmPages: pages, vms, trafficScale: 16 }, allDramPolicy).run(20e6);
    assert.ok(dram.vms[0]!.opsPerSec > alone * 1.5);
  });
});

describe('sim/machine/tier-load copies', () => {
  it('a copy slows down when its destination tier is busy, but never stops', () => {
    const load = new TierLoad(tierPreset('optane'), 100, 100);
    assert.equal(load.copyBytesPerSec(Tier.DRAM, Tier.NVM, 4e9), 4e9, 'idle tiers: full speed');
    // Optane writes at 12.5 GB/s: 10 GB/s of write-backs leaves ~2 GB/s.
    for (let i = 0; i < 50; i++) {
      load.sliceWrites[Tier.NVM] = 10e9 / 64 / 1000;
      load.endSlice(1e6);
    }
    const busy = load.copyBytesPerSec(Tier.DRAM, Tier.NVM, 4e9);
    assert.ok(busy < 4e9 && busy >= 0.05 * 4e9, `copy at ${busy / 1e9} GB/s`);
    assert.equal(load.copyBytesPerSec(Tier.NVM, Tier.DRAM, 4e9), 4e9, 'reading Optane still has room');
  });
});
