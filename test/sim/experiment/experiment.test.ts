import assert from 'node:assert/strict';
import { runExperiment, prepareExperiment, type ExperimentConfig } from '../../../plugin/sim/experiment/experiment.js';
import { makeWorkload } from '../../../plugin/sim/workloads/index.js';
import type { WorkloadSpec } from '../../../plugin/sim/workloads/workload.js';
import { hotColdWorkload } from '../inline-workloads.js';

const small = (overrides: Partial<ExperimentConfig> = {}): ExperimentConfig => ({
  preset: 'optane',
  dramPages: 4096,
  nvmPages: 16384,
  vms: [
    { name: 'a', workload: { kind: 'kv-zipf', pageCount: 8192 }, vcpus: 2 },
    { name: 'b', workload: { kind: 'gups', pageCount: 8192 }, vcpus: 1 },
  ],
  durationNs: 200e6,
  warmupNs: 10e6,
  seed: 42,
  policies: ['all-dram', 'unmanaged', 'hmmv'],
  trafficScale: 8,
  engine: { roundIntervalNs: 5e6 },
  ...overrides,
});

const hotCold = (spec: WorkloadSpec) =>
  hotColdWorkload({ pageCount: spec.pageCount, hotPages: spec.pageCount / 10, hotShare: 0.9, writeShare: 0.2, seed: spec.seed });

describe('sim/experiment: experiment', () => {
  it('gives the same JSON twice for the same seed, and different JSON for another seed', async () => {
    const first = JSON.stringify(await runExperiment(small(), makeWorkload));
    const second = JSON.stringify(await runExperiment(small(), makeWorkload));
    assert.equal(first, second);
    const other = JSON.stringify(await runExperiment(small({ seed: 43 }), makeWorkload));
    assert.notEqual(first, other);
    const parsed = JSON.parse(first) as { runs: { policy: string; vms: { migratedToDram: number }[] }[] };
    assert.ok(parsed.runs.find((r) => r.policy === 'hmmv')!.vms.some((vm) => vm.migratedToDram > 0), 'the engine migrated');
  });

  it('all-DRAM is the ceiling and HMM-V beats unmanaged when first touch left the hot pages in NVM', async () => {
    // No warm-up: pages are backed in address order, so the scattered hot set lands mostly in NVM.
    const config = small({
      warmupNs: 0,
      durationNs: 600e6,
      vms: [0, 1, 2, 3].map((i) => ({ name: `vm${i}`, workload: { kind: 'hotcold', pageCount: 8192 }, vcpus: 1 })),
      dramPages: 8192,
      nvmPages: 32768,
    });
    const result = await runExperiment(config, hotCold);
    const { summary } = result;
    assert.equal(summary.totalSlowdown['all-dram'], 1);
    assert.ok(summary.totalSlowdown['unmanaged']! > 1.2, `unmanaged slowdown ${summary.totalSlowdown['unmanaged']}`);
    assert.ok(summary.hmmvBeatsUnmanagedPct! > 30, `HMM-V vs unmanaged: ${summary.hmmvBeatsUnmanagedPct}%`);
    const hits = (policy: string) => result.runs.find((r) => r.policy === policy)!.vms.map((vm) => vm.dramHitRatio);
    hits('hmmv').forEach((h, i) => assert.ok(h > hits('unmanaged')[i]!, `vm${i}: hmmv ${h} vs unmanaged ${hits('unmanaged')[i]}`));
    for (const vm of result.runs.find((r) => r.policy === 'hmmv')!.vms) {
      assert.ok(vm.dramPagesAtEnd <= vm.dramQuotaPages, `${vm.name} holds ${vm.dramPagesAtEnd} DRAM pages, quota ${vm.dramQuotaPages}`);
      assert.ok(vm.trackingCostPct > 0, 'tracking is charged');
    }
  });

  it('rejects bad input with a message naming what is wrong, before running anything', () => {
    assert.throws(() => prepareExperiment(small({ policies: ['numa'] }), makeWorkload), /unknown policy "numa"/);
    assert.throws(() => prepareExperiment(small({ preset: 'hbm' }), makeWorkload), /unknown tier preset "hbm"/);
    const vms = small().vms;
    assert.throws(
      () => prepareExperiment(small({ vms: [{ ...vms[0]!, workload: { kind: 'nope', pageCount: 8 } }] }), makeWorkload),
      /unknown workload 'nope'/,
    );
    assert.throws(
      () => prepareExperiment(small({ vms: [{ ...vms[0]!, dramQuotaPages: 3000 }, { ...vms[1]!, dramQuotaPages: 3000 }] }), makeWorkload),
      /DRAM quotas add up to 6000 pages, more than the host's 4096/,
    );
    assert.throws(
      () => prepareExperiment(small({ vms: [{ ...vms[0]!, workload: { kind: 'gups', pageCount: 30000 } }] }), makeWorkload),
      /VM a has 30000 pages, more than DRAM \(4096\) and NVM \(16384\) together/,
    );
    assert.throws(() => prepareExperiment(small({ durationNs: 0 }), makeWorkload), /duration must be positive/);
  });
});
