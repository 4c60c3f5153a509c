import assert from 'node:assert/strict';
import { runExperiment, type ExperimentConfig } from '../../plugin/sim/experiment/experiment.js';
import { makeWorkload } from '../../plugin/sim/workloads/index.js';

describe('the DRAM pool in the simulated machine', () => {
  it('moves DRAM to the VM whose hot set grows, from the one whose hot set shrinks, within the host DRAM', async () => {
    const pages = 16_384;
    // The change comes after 2M operations: about 0.8 s into the run.
    const resize = (from: number, to: number) => ({ kind: 'resize', pageCount: pages, params: { hotFraction: from, hotFractionAfter: to, phaseOps: 2_000_000 } });
    const config: ExperimentConfig = {
      preset: 'optane',
      dramPages: 16_384,
      nvmPages: 65_536,
      vms: [
        { name: 'grows', workload: resize(0.1, 0.7), vcpus: 1 },
        { name: 'shrinks', workload: resize(0.7, 0.1), vcpus: 1 },
      ],
      durationNs: 1.5e9,
      warmupNs: 10e6,
      seed: 5,
      policies: ['hmmv', 'hmmv-pool'],
      trafficScale: 8,
      engine: { roundIntervalNs: 5e6 },
    };
    const result = await runExperiment(config, makeWorkload);
    const pool = result.runs.find((r) => r.policy === 'hmmv-pool')!;
    const [grows, shrinks] = pool.vms;
    const q = (vm: typeof grows) => vm!.policy as Record<string, number>;
    assert.equal(q(grows)['quotaStartPages'], 8192);
    // Before the change the VM with the big hot set gets more than the static half...
    assert.ok(q(shrinks)['quotaMaxPages']! > 9000 && q(grows)['quotaMinPages']! < 7000, `before the change: ${JSON.stringify([q(grows), q(shrinks)])}`);
    // ...after it the quota follows the hot sets back: the growing VM gains, the shrinking one gives up.
    assert.ok(q(grows)['quotaEndPages']! > q(grows)['quotaMinPages']! + 2000, `the growing VM's quota rose: ${JSON.stringify(q(grows))}`);
    assert.ok(q(shrinks)['quotaEndPages']! < q(shrinks)['quotaMaxPages']! - 2000, `the shrinking VM's quota fell: ${JSON.stringify(q(shrinks))}`);
    assert.ok(q(grows)['quotaEndPages']! + q(shrinks)['quotaEndPages']! <= 16_384, 'quotas within the host DRAM');
    for (const vm of pool.vms) assert.ok(vm.dramPagesAtEnd <= q(vm)['quotaEndPages']! + 64, `${vm.name} holds ${vm.dramPagesAtEnd} DRAM pages`);
    assert.ok(result.summary.poolBeatsStaticPct !== undefined);
    console.log(`      pool vs static split: ${result.summary.poolBeatsStaticPct!.toFixed(1)}% (geometric mean of per-VM ops/s)`);
  });

  it('fair: a VM whose hot set outgrows its share gets more from one whose hot set is small (the hot set is not cut at the quota)', async () => {
    const pages = 16_384;
    const hot = (fraction: number) => ({ kind: 'resize', pageCount: pages, params: { hotFraction: fraction, hotFractionAfter: fraction } });
    const config: ExperimentConfig = {
      preset: 'optane',
      dramPages: 16_384,
      nvmPages: 65_536,
      vms: [
        { name: 'big', workload: hot(0.7), vcpus: 1 },
        { name: 'small', workload: hot(0.1), vcpus: 1 },
      ],
      durationNs: 1.5e9,
      warmupNs: 10e6,
      seed: 5,
      policies: ['hmmv-pool-fair'],
      trafficScale: 8,
      engine: { roundIntervalNs: 5e6 },
    };
    const result = await runExperiment(config, makeWorkload);
    const [big, small] = result.runs[0]!.vms;
    const q = (vm: typeof big) => vm!.policy as Record<string, number>;
    // The small VM's hot set (1638 pages) stays covered and the big one (11469) gets well above the equal 8192.
    const quotas = JSON.stringify([q(big)['quotaEndPages'], q(small)['quotaEndPages']]);
    assert.ok(q(big)['quotaEndPages']! > 10_000, `the big hot set's quota rose: ${quotas}`);
    assert.ok(q(small)['quotaEndPages']! < 6_500 && q(small)['quotaEndPages']! >= 1638, `the small hot set's quota fell, still covering it: ${quotas}`);
    assert.ok(q(big)['quotaEndPages']! + q(small)['quotaEndPages']! <= 16_384, 'quotas within the host DRAM');
  });
});
