/**
 * The engine's placement on the simulated machine, against what it must
 * achieve: follow a moving hot window, follow a hot set that is replaced.
 * Real engine, real sim host; only the sizes are small.
 */
import assert from 'node:assert/strict';
import { runExperiment, type ExperimentConfig } from '../../plugin/sim/experiment/experiment.js';
import { makeWorkload } from '../../plugin/sim/workloads/index.js';

const MiB = 256; // pages

function alone(kind: string, params: Record<string, number> = {}, policies = ['all-dram', 'unmanaged', 'hmmv'], engine = {}): ExperimentConfig {
  const pages = 64 * MiB;
  return {
    preset: 'optane',
    dramPages: pages / 4,
    nvmPages: pages,
    vms: [{ name: kind, workload: { kind, pageCount: pages, params }, vcpus: 2 }],
    durationNs: 1.5e9,
    warmupNs: 0,
    seed: 7,
    policies,
    trafficScale: 8,
    engine,
  };
}

const hits = (r: Awaited<ReturnType<typeof runExperiment>>, policy: string): number =>
  r.runs.find((x) => x.policy === policy)!.vms[0]!.dramHitRatio;

describe('engine placement on the simulated machine', function () {
  this.timeout(120_000);

  it('follows a hot window that slides faster than a monitoring window can confirm it', async () => {
    const followed = await runExperiment(alone('scan'), makeWorkload);
    const unfollowed = await runExperiment(alone('scan', {}, ['hmmv'], { followStreams: false }), makeWorkload);
    const withStreams = hits(followed, 'hmmv');
    const without = hits(unfollowed, 'hmmv');
    // 90% of the operations are in the window: following it serves most of them from DRAM.
    assert.ok(withStreams > 0.75, `DRAM hits following the stream: ${withStreams}`);
    assert.ok(without < 0.5, `DRAM hits without: ${without}`);
    assert.ok(followed.summary.totalSlowdown['hmmv']! < followed.summary.totalSlowdown['unmanaged']! * 0.8);
    const vm = followed.runs.find((x) => x.policy === 'hmmv')!.vms[0]!;
    assert.ok(vm.dramPagesAtEnd <= vm.dramQuotaPages, `${vm.dramPagesAtEnd} DRAM pages, quota ${vm.dramQuotaPages}`);
  });

  it('moves DRAM to a new hot set within a few windows of a phase change', async () => {
    // Phases of 2 M operations (300-500 ms, four to six windows): several hot sets in the run.
    const r = await runExperiment(alone('phase', { phaseOps: 2_000_000 }, ['all-dram', 'hmmv', 'oracle']), makeWorkload);
    const h = hits(r, 'hmmv');
    assert.ok(h > 0.75, `DRAM hits across phase changes: ${h} (oracle ${hits(r, 'oracle')})`);
    // Since the simulator charges Optane's 256 B media reads (issue 13's fidelity work) a miss costs more,
    // so the same DRAM hits leave a wider gap to the oracle than the 15% this allowed before (measured 1.30 vs 1.09).
    assert.ok(r.summary.totalSlowdown['hmmv']! < r.summary.totalSlowdown['oracle']! * 1.25, JSON.stringify(r.summary.totalSlowdown));
  });
});
