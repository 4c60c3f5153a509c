/**
 * One simulated host running several closed-loop VMs under a placement policy.
 * Time advances in slices (at most `sliceNs`, cut short at the next timer of
 * the virtual clock so management code wakes exactly when it asked to): every
 * VM runs to the slice's end, the tiers fold the slice's traffic into their
 * loaded latency, then due timers fire (the engines run) before the next slice.
 */
import { setMaxListeners } from 'node:events';
import { Tier } from '../../host/memory-host.js';
import type { Policy, PolicyVm, PolicyVmReport } from './policy.js';
import { SimHost, UNALLOCATED } from './sim-host.js';
import { TierLoad } from './tier-load.js';
import type { TierPreset } from './tiers.js';
import { VirtualClock } from './virtual-clock.js';
import { VmRunner, type VmRunStats } from './vm-runner.js';
import type { Workload } from '../workloads/workload.js';

export const DEFAULT_SLICE_NS = 1e6;

export interface SimVmConfig {
  readonly name: string;
  readonly workload: Workload;
  /** Guest RAM in pages (at least the workload's footprint). */
  readonly pageCount: number;
  readonly vcpus: number;
  readonly dramQuotaPages: number;
}

export interface MachineConfig {
  readonly preset: TierPreset;
  readonly dramPages: number;
  readonly nvmPages: number;
  readonly vms: readonly SimVmConfig[];
  readonly sliceNs?: number;
  readonly hostLogEntries?: number;
  readonly copyBytesPerSec?: number;
  /** Real accesses each simulated one stands for in the tiers' load (tier-load.ts). */
  readonly trafficScale?: number;
  /** Count every guest write in the hosts' page versions (tests that prove no write is lost). */
  readonly contentTracking?: boolean;
}

export interface VmResult {
  readonly name: string;
  readonly workload: string;
  readonly pageCount: number;
  readonly vcpus: number;
  readonly dramQuotaPages: number;
  readonly ops: number;
  readonly opsPerSec: number;
  readonly accesses: number;
  readonly writes: number;
  /** Fraction of accesses served by DRAM. */
  readonly dramHitRatio: number;
  readonly dramPagesAtEnd: number;
  readonly nvmPagesAtEnd: number;
  readonly migratedToDram: number;
  readonly migratedToNvm: number;
  readonly busy: number;
  readonly failed: number;
  readonly recopies: number;
  readonly bytesCopied: number;
  readonly maxPauseNs: number;
  readonly pagesScanned: number;
  readonly pmlBufferFullExits: number;
  readonly pmlDropped: number;
  /** Share of the VM's vCPU time spent on tracking (scans, TLB flushes, PML exits), percent. */
  readonly trackingCostPct: number;
  /** Share of the VM's vCPU time lost to migration switches, percent. */
  readonly migrationCostPct: number;
  readonly policy: PolicyVmReport;
}

/** Per-VM figures sampled during the run (to see a policy converge). */
export interface MachineTimeline {
  /** End of each sample interval, ns since the measured run began. */
  readonly endNs: number[];
  readonly vms: { readonly opsPerSec: number[]; readonly dramHitRatio: number[] }[];
}

/** Samples per run in the timeline. */
export const TIMELINE_SAMPLES = 20;

export interface MachineResult {
  readonly policy: string;
  readonly durationNs: number;
  readonly dramPages: number;
  readonly nvmPages: number;
  readonly vms: readonly VmResult[];
  readonly tiers: readonly {
    readonly name: string;
    readonly peakUtilisation: number;
    readonly readBytes: number;
    readonly writeBytes: number;
  }[];
  readonly timeline: MachineTimeline;
}

export class SimMachine {
  readonly clock = new VirtualClock();
  readonly load: TierLoad;
  readonly hosts: readonly SimHost[];
  readonly runners: readonly VmRunner[];
  private readonly config: MachineConfig;
  private readonly policy: Policy;
  private readonly policyVms: readonly PolicyVm[];
  private ran = false;

  constructor(config: MachineConfig, policy: Policy) {
    validateMachine(config);
    this.config = config;
    this.policy = policy;
    const totalVmPages = config.vms.reduce((s, vm) => s + vm.pageCount, 0);
    this.load = new TierLoad(config.preset, policy.hostDramPages(config.dramPages, totalVmPages), config.nvmPages, config.trafficScale);
    this.hosts = config.vms.map(
      (vm) =>
        new SimHost(
          {
            name: vm.name,
            pageCount: vm.pageCount,
            vcpuCount: vm.vcpus,
            firstTouchDramPages: policy.firstTouchDramPages(vm),
            ...(config.hostLogEntries !== undefined ? { hostLogEntries: config.hostLogEntries } : {}),
            ...(config.copyBytesPerSec !== undefined ? { copyBytesPerSec: config.copyBytesPerSec } : {}),
            ...(config.contentTracking ? { contentTracking: true } : {}),
          },
          this.load,
          this.clock,
        ),
    );
    this.runners = config.vms.map((vm, i) => new VmRunner(this.hosts[i]!, policy.wrapWorkload?.(i, vm.workload) ?? vm.workload, this.load));
    this.policyVms = config.vms.map((vm, i) => ({
      name: vm.name,
      host: this.hosts[i]!,
      pageCount: vm.pageCount,
      dramQuotaPages: vm.dramQuotaPages,
    }));
  }

  /**
   * Runs the VMs for `durationNs` of simulated time; `onProgress` gets the
   * fraction done. First a warm-up of `warmupNs` with no management: pages are
   * backed at first touch as the workloads reach them; then the pages still
   * untouched are backed (page by page, the VMs in turn, as booting guests
   * would), the counters restart and the policy starts.
   */
  async run(durationNs: number, onProgress?: (fraction: number) => void, warmupNs = 0): Promise<MachineResult> {
    if (this.ran) throw new Error('a SimMachine runs once');
    this.ran = true;
    if (!(durationNs > 0)) throw new Error(`duration must be positive, got ${durationNs} ns`);
    if (!(warmupNs >= 0)) throw new Error(`warm-up must be >= 0, got ${warmupNs} ns`);
    const sliceNs = this.config.sliceNs ?? DEFAULT_SLICE_NS;
    const clock = this.clock;
    for (let t = 0; t < warmupNs; ) {
      const next = Math.min(warmupNs, t + sliceNs);
      for (const runner of this.runners) runner.runUntil(next);
      this.load.endSlice(next - t);
      await clock.advanceTo(next);
      t = next;
    }
    this.backUntouchedPages();
    for (const host of this.hosts) host.resetAccounting();
    for (const runner of this.runners) runner.resetStats();
    this.load.resetTotals();
    const stop = new AbortController();
    // Every engine and migration of every VM waits on this one signal.
    setMaxListeners(0, stop.signal);
    const running = this.policy.start({ clock, vms: this.policyVms, load: this.load, signal: stop.signal });
    let reports: readonly PolicyVmReport[] = [];
    const timeline: MachineTimeline = { endNs: [], vms: this.runners.map(() => ({ opsPerSec: [], dramHitRatio: [] })) };
    try {
      await clock.settle();
      const begin = clock.now();
      const end = begin + durationNs;
      const sampleNs = durationNs / TIMELINE_SAMPLES;
      let nextSample = begin + sampleNs;
      let lastSampleAt = begin;
      const last = this.runners.map(() => ({ ops: 0, accesses: 0, dram: 0 }));
      let lastProgress = -1;
      while (clock.now() < end) {
        const start = clock.now();
        const next = Math.min(end, clock.nextTimerAt(), start + sliceNs);
        if (next > start) {
          for (const runner of this.runners) runner.runUntil(next);
          this.load.endSlice(next - start);
        }
        await clock.advanceTo(next);
        if (clock.now() >= nextSample || clock.now() >= end) {
          const dt = clock.now() - lastSampleAt;
          timeline.endNs.push(clock.now() - begin);
          this.runners.forEach((runner, i) => {
            const s = runner.stats;
            const prev = last[i]!;
            const accesses = s.accesses - prev.accesses;
            timeline.vms[i]!.opsPerSec.push(dt > 0 ? ((s.ops - prev.ops) * 1e9) / dt : 0);
            timeline.vms[i]!.dramHitRatio.push(accesses > 0 ? (s.dramAccesses - prev.dram) / accesses : 0);
            last[i] = { ops: s.ops, accesses: s.accesses, dram: s.dramAccesses };
          });
          lastSampleAt = clock.now();
          while (nextSample <= clock.now()) nextSample += sampleNs;
        }
        const failure = running.failure();
        if (failure) throw failure;
        if (onProgress) {
          const pct = Math.floor((100 * (clock.now() - (end - durationNs))) / durationNs);
          if (pct !== lastProgress) {
            lastProgress = pct;
            onProgress(pct / 100);
          }
        }
      }
    } finally {
      stop.abort(new Error('simulation finished'));
      await clock.settle();
      const stopped = running.stop();
      // Migrations still sleeping on the clock were aborted with the signal; let them unwind.
      reports = await stopped.finally(() => Promise.all(this.hosts.map((h) => h.close())));
    }
    return this.result(durationNs, reports, timeline);
  }

  private backUntouchedPages(): void {
    const most = Math.max(...this.hosts.map((h) => h.pageCount));
    for (let p = 0; p < most; p++) {
      for (const host of this.hosts) {
        if (p < host.pageCount && host.tier[p] === UNALLOCATED) host.allocateOnTouch(p);
      }
    }
  }

  private result(durationNs: number, reports: readonly PolicyVmReport[], timeline: MachineTimeline): MachineResult {
    const vms = this.config.vms.map((vm, i): VmResult => {
      const host = this.hosts[i]!;
      const stats: VmRunStats = this.runners[i]!.stats;
      const elapsedNs = this.runners[i]!.localNs - this.runners[i]!.statsSinceNs;
      const vcpuNs = elapsedNs * vm.vcpus;
      const c = host.counters;
      return {
        name: vm.name,
        workload: vm.workload.name,
        pageCount: vm.pageCount,
        vcpus: vm.vcpus,
        dramQuotaPages: vm.dramQuotaPages,
        ops: stats.ops,
        opsPerSec: elapsedNs > 0 ? (stats.ops / elapsedNs) * 1e9 : 0,
        accesses: stats.accesses,
        writes: stats.writes,
        dramHitRatio: stats.accesses > 0 ? stats.dramAccesses / stats.accesses : 0,
        dramPagesAtEnd: host.vmTierPages[Tier.DRAM]!,
        nvmPagesAtEnd: host.vmTierPages[Tier.NVM]!,
        migratedToDram: c.migratedToDram,
        migratedToNvm: c.migratedToNvm,
        busy: c.busy,
        failed: c.failed,
        recopies: c.recopies,
        bytesCopied: c.bytesCopied,
        maxPauseNs: c.maxPauseNs,
        pagesScanned: c.pagesScanned,
        pmlBufferFullExits: c.pmlBufferFullExits,
        pmlDropped: c.pmlDropped,
        trackingCostPct: vcpuNs > 0 ? (100 * host.trackingCpuNs()) / vcpuNs : 0,
        migrationCostPct: vcpuNs > 0 ? (100 * host.charges.switchNs) / vcpuNs : 0,
        policy: reports[i] ?? {},
      };
    });
    return {
      policy: this.policy.name,
      durationNs,
      dramPages: this.load.capacityPages(Tier.DRAM),
      nvmPages: this.load.capacityPages(Tier.NVM),
      vms,
      tiers: [Tier.DRAM, Tier.NVM].map((t) => ({
        name: this.config.preset.tiers[t]!.name,
        peakUtilisation: this.load.peakUtilisation[t]!,
        readBytes: this.load.totalReadBytes[t]!,
        writeBytes: this.load.totalWriteBytes[t]!,
      })),
      timeline,
    };
  }
}

/** Rejects a machine that cannot hold its VMs, naming what is wrong. */
export function validateMachine(config: MachineConfig): void {
  const { dramPages, nvmPages, vms } = config;
  for (const [what, v] of [
    ['DRAM', dramPages],
    ['NVM', nvmPages],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`host ${what} must be a whole number of pages >= 0, got ${v}`);
  }
  if (vms.length === 0) throw new Error('the machine needs at least one VM');
  const names = new Set<string>();
  let totalPages = 0;
  let totalQuota = 0;
  for (const vm of vms) {
    if (names.has(vm.name)) throw new Error(`two VMs are named "${vm.name}"`);
    names.add(vm.name);
    if (vm.pageCount > dramPages + nvmPages) {
      throw new Error(
        `VM ${vm.name} has ${vm.pageCount} pages, more than DRAM (${dramPages}) and NVM (${nvmPages}) together`,
      );
    }
    if (!Number.isInteger(vm.dramQuotaPages) || vm.dramQuotaPages < 0) {
      throw new Error(`VM ${vm.name}: DRAM quota must be a whole number of pages >= 0, got ${vm.dramQuotaPages}`);
    }
    totalPages += vm.pageCount;
    totalQuota += vm.dramQuotaPages;
  }
  if (totalQuota > dramPages) {
    throw new Error(`the VMs' DRAM quotas add up to ${totalQuota} pages, more than the host's ${dramPages} pages of DRAM`);
  }
  if (totalPages > dramPages + nvmPages) {
    throw new Error(
      `the VMs need ${totalPages} pages together, more than DRAM (${dramPages}) and NVM (${nvmPages}) hold`,
    );
  }
}
