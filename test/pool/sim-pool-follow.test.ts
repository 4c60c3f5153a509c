/**
 * The pool's quota follows the hot sets, and fast: two VMs on one simulated
 * host, one whose hot set grows from 10% to 60% of its pages while the
 * other's shrinks from 60% to 10%. The quotas are sampled at every
 * reallocation; the change's time is when the workloads pass their phaseOps.
 */
import assert from 'node:assert/strict';
import { defaultEngineOptions } from '../../plugin/engine/run.js';
import { SimMachine } from '../../plugin/sim/machine/machine.js';
import { hmmvPoolPolicy } from '../../plugin/sim/policies/hmmv-pool.js';
import { tierPreset } from '../../plugin/sim/machine/tiers.js';
import type { Workload } from '../../plugin/sim/workloads/workload.js';
import { createWorkload } from '../../plugin/sim/workloads/index.js';

const PAGES = 16_384;
const PHASE_OPS = 3_000_000;

/** Passes the stream through; remembers the clock's time when the workload passed `phaseOps` operations. */
function timed(inner: Workload, phaseOps: number, now: () => number, at: { ns?: number }): Workload {
  let ops = 0;
  return {
    name: inner.name,
    pageCount: inner.pageCount,
    cpuNsPerOp: inner.cpuNsPerOp,
    accessesPerOp: inner.accessesPerOp,
    nextOps(n: number, out: Uint32Array, lines: Uint16Array): void {
      inner.nextOps(n, out, lines);
      if (ops < phaseOps && ops + n >= phaseOps) at.ns = now();
      ops += n;
    },
  };
}

describe('the pool follows hot sets that change size', function () {
  this.timeout(180_000);

  it('moves quota to the growing VM within a few windows of the change, never beyond the host DRAM', async () => {
    const samples: { t: number; grows: number; shrinks: number }[] = [];
    const policy = hmmvPoolPolicy({
      onState: (s) => {
        const q = (d: string) => s.vms.find((v) => v.domain === d)!.quotaPages;
        samples.push({ t: s.timeMs * 1e6, grows: q('grows'), shrinks: q('shrinks') });
      },
    });
    const change: { grows: { ns?: number }; shrinks: { ns?: number } } = { grows: {}, shrinks: {} };
    let machine: SimMachine | undefined;
    const now = () => machine!.clock.now();
    const resize = (name: 'grows' | 'shrinks', from: number, to: number, seed: number) =>
      timed(createWorkload({ kind: 'resize', pageCount: PAGES, seed, params: { hotFraction: from, hotFractionAfter: to, phaseOps: PHASE_OPS } }), PHASE_OPS, now, change[name]);
    machine = new SimMachine(
      {
        preset: tierPreset('optane'),
        dramPages: PAGES,
        nvmPages: 4 * PAGES,
        trafficScale: 8,
        vms: [
          { name: 'grows', workload: resize('grows', 0.1, 0.6, 11), pageCount: PAGES, vcpus: 1, dramQuotaPages: PAGES / 2 },
          { name: 'shrinks', workload: resize('shrinks', 0.6, 0.1, 12), pageCount: PAGES, vcpus: 1, dramQuotaPages: PAGES / 2 },
        ],
      },
      policy,
    );
    await machine.run(2.5e9);
    const defaults = defaultEngineOptions(0);
    const windowNs = defaults.roundsPerWindow * defaults.roundIntervalNs;
    assert.ok(change.grows.ns !== undefined && change.shrinks.ns !== undefined, 'both workloads changed during the run');
    const changedAt = Math.max(change.grows.ns!, change.shrinks.ns!);
    for (const s of samples) assert.ok(s.grows + s.shrinks <= PAGES, `quotas ${s.grows} + ${s.shrinks} over the host's ${PAGES} pages`);
    // Before the change the VM with the big hot set (60% of its pages) holds most of the DRAM.
    const before = samples.filter((s) => s.t < Math.min(change.grows.ns!, change.shrinks.ns!));
    const lastBefore = before[before.length - 1]!;
    assert.ok(lastBefore.shrinks >= 0.6 * PAGES && lastBefore.grows <= 0.4 * PAGES, `before the change: ${JSON.stringify(lastBefore)}`);
    // Within 8 windows of the change the quotas have swapped sides.
    const followed = samples.find((s) => s.t > changedAt && s.grows >= 0.6 * PAGES && s.shrinks <= 0.4 * PAGES);
    assert.ok(followed, `the quota never followed: ${JSON.stringify(samples.filter((s) => s.t > changedAt).slice(0, 12))}`);
    const windows = (followed.t - changedAt) / windowNs;
    assert.ok(windows <= 8, `the quota followed after ${windows.toFixed(1)} windows`);
    console.log(`      quota followed the hot sets ${windows.toFixed(1)} windows (${((followed.t - changedAt) / 1e6).toFixed(0)} ms) after the change`);
  });
});
