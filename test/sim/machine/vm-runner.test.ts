import assert from 'node:assert/strict';
import {
  COUNTED_MAX_ACCESSES,
  PACKED_WRITE_UNIT,
  buildTrafficTables,
  countedPairs,
  trafficIndex,
  unpackCounted,
  unpackUnits,
} from '../../../plugin/sim/machine/line-traffic.js';
import { SimMachine, type MachineResult } from '../../../plugin/sim/machine/machine.js';
import { accessLatencyIndex, latencyIndex, TierLoad } from '../../../plugin/sim/machine/tier-load.js';
import { tierPreset } from '../../../plugin/sim/machine/tiers.js';
import { unmanagedPolicy } from '../../../plugin/sim/policies/unmanaged.js';
import { DEFAULT_WORKLOADS, makeWorkload } from '../../../plugin/sim/workloads/index.js';
import { LINE_DESCRIPTORS } from '../../../plugin/sim/workloads/workload.js';

describe('sim/machine/vm-runner: the fast loop', () => {
  /**
   * The default co-run on a host whose DRAM holds a third of the pages, so
   * both tiers serve accesses; with a warm-up, pages are backed at first
   * touch inside the loops. contentTracking sends every VM through the
   * general loop (the plain formulas: a branch per tier, write and
   * sequential test), which is the reference for the branch-free fast loop.
   */
  async function coRun(contentTracking: boolean): Promise<MachineResult> {
    const pages = 4096;
    const vms = DEFAULT_WORKLOADS.map((kind, i) => ({
      name: `vm${i}`,
      workload: makeWorkload({ kind, pageCount: pages, seed: 3 + i }),
      pageCount: pages,
      vcpus: 1 + (i % 3),
      dramQuotaPages: 0,
    }));
    const machine = new SimMachine(
      { preset: tierPreset('optane'), dramPages: Math.round((4 * pages) / 3), nvmPages: 4 * pages, vms, trafficScale: 8, contentTracking },
      unmanagedPolicy,
    );
    return machine.run(40e6, undefined, 5e6);
  }

  it('gives exactly the figures of the general loop: operations, accesses per tier, traffic, timeline', async () => {
    const fast = await coRun(false);
    const general = await coRun(true);
    assert.ok(fast.vms.every((vm) => vm.dramHitRatio > 0.05 && vm.dramHitRatio < 0.99), 'both tiers serve every VM');
    assert.ok(fast.vms.every((vm) => vm.writes > 0 || vm.workload === 'scan'));
    assert.ok(fast.tiers[1]!.writeBytes > 0 && fast.tiers[0]!.readBytes > 0);
    assert.deepEqual(fast, general);
  });

  it('packs read and write units per tier so that sums unpack exactly', () => {
    const t = buildTrafficTables(tierPreset('optane'));
    for (let tier = 0; tier < 2; tier++) {
      for (const write of [false, true]) {
        for (let d = 0; d < LINE_DESCRIPTORS; d += 7) {
          const k = trafficIndex(tier, write, d);
          const mine = t.packed[2 * k + tier]!;
          assert.deepEqual(unpackUnits(mine), [t.readUnits[k], t.writeUnits[k]]);
          assert.equal(t.packed[2 * k + 1 - tier], 0, 'the other tier gets nothing');
        }
      }
    }
    // A sum of many accesses of up to 64 units each.
    let sum = 0;
    let reads = 0;
    let writes = 0;
    for (let i = 0; i < 200_000; i++) {
      const r = i % 65;
      const w = (i * 7) % 65;
      sum += r + w * PACKED_WRITE_UNIT;
      reads += r;
      writes += w;
    }
    assert.deepEqual(unpackUnits(sum), [reads, writes]);
  });

  it("counts writes (DRAM figure) and NVM accesses (NVM figure) in the fast loop's pairs, exactly over a batch", () => {
    const t = buildTrafficTables(tierPreset('optane'));
    const pairs = countedPairs(t);
    for (let tier = 0; tier < 2; tier++) {
      for (const write of [false, true]) {
        for (let d = 0; d < LINE_DESCRIPTORS; d += 7) {
          const k = trafficIndex(tier, write, d);
          const traffic = [t.readUnits[k], t.writeUnits[k]];
          const [dramCount, ...dram] = unpackCounted(pairs[2 * k]!);
          const [nvmCount, ...nvm] = unpackCounted(pairs[2 * k + 1]!);
          assert.equal(dramCount, write ? 1 : 0);
          assert.equal(nvmCount, tier);
          assert.deepEqual(tier === 0 ? dram : nvm, traffic);
          assert.deepEqual(tier === 0 ? nvm : dram, [0, 0], 'the other tier gets no traffic');
        }
      }
    }
    // A batch's worst case: every access a 64-unit read and write, each counted.
    const worst = pairs[2 * trafficIndex(1, true, 63 << 6) + 1]!;
    assert.deepEqual(unpackCounted(worst), [1, 64, 64]);
    let sum = 0;
    for (let i = 0; i < COUNTED_MAX_ACCESSES; i++) sum += worst;
    assert.deepEqual(unpackCounted(sum), [COUNTED_MAX_ACCESSES, 64 * COUNTED_MAX_ACCESSES, 64 * COUNTED_MAX_ACCESSES]);
  });

  it('has one latency table: demand accesses pay the loaded latency, write-backs the queueing wait', () => {
    const load = new TierLoad(tierPreset('optane'), 100, 400, 1);
    load.utilisation[1] = 0.5;
    load.endSlice(0); // nothing measured: latencies stay where set
    load.sliceReads[1] = 1e6;
    load.endSlice(1e6);
    for (let t = 0; t < 2; t++) {
      for (const seq of [true, false]) {
        assert.equal(load.accessLatencyNs[accessLatencyIndex(t, false, seq)], load.latencyNs[latencyIndex(t, seq)]);
        assert.equal(load.accessLatencyNs[accessLatencyIndex(t, true, seq)], load.writeBackWaitNs[t]);
      }
    }
    assert.ok(load.writeBackWaitNs[1]! > 0, 'a loaded tier makes write-backs wait');
  });
});
