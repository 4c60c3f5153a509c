/**
 * A placement policy of the simulated machine: where a VM's pages start and
 * what (if anything) moves them while the VMs run. all-DRAM, unmanaged and
 * hmmv are in policies/; baselines (NUMA balancing, Memory Mode, memtierd,
 * DAMON, an oracle) plug in the same way.
 *
 * What a policy sees of the machine is narrow: per VM a PolicyHost (the
 * memory-host interface the engine drives, plus what a kernel-side baseline
 * does that no user-space manager could: read a page's tier and young bit,
 * move a page synchronously, charge its own CPU time, watch every access);
 * of the host's tiers a PolicyTiers (capacity, free pages, loaded latency,
 * traffic of the policy's own machinery). The arrays behind them are the
 * machine's (machine/sim-host.ts, machine/tier-load.ts).
 */
import type { MemoryHost, Tier } from '../../host/memory-host.js';
import type { Clock } from '../../util/clock.js';
import type { AccessHook, SimHostCharges } from './sim-host.js';
import type { Workload } from '../workloads/workload.js';

export interface PolicyHost extends MemoryHost {
  readonly name: string;
  readonly pageCount: number;
  readonly vcpuCount: number;
  /** Tier.DRAM, Tier.NVM, or UNALLOCATED (machine/sim-host.ts) for a page never touched. */
  tierOf(page: number): number;
  /** Pages of this VM on a tier. */
  pagesOn(tier: Tier): number;
  /** The page's accessed bit (set by every guest access), and clearing it (a PTE young bit, an idle-page mark). */
  isAccessed(page: number): boolean;
  clearAccessed(page: number): void;
  /**
   * Moves one page at once (a kernel path that copies with the guest stopped
   * on it, or the oracle's free moves); false if it cannot (untouched, in
   * flight, already there, target full). The caller charges the time.
   */
  relocate(page: number, target: Tier, countTraffic?: boolean): boolean;
  /** CPU time the policy's machinery takes from this VM. */
  chargeCpu(kind: keyof SimHostCharges, ns: number): void;
  /** Pages the policy's own tracker examined (for the tracking-cost table). */
  countScanned(pages: number): void;
  /** Installs the per-access hook (undefined removes it). */
  setAccessHook(hook: AccessHook | undefined): void;
  readonly accessHook: AccessHook | undefined;
}

export interface PolicyTiers {
  capacityPages(tier: Tier): number;
  freePages(tier: Tier): number;
  /** Loaded latency per (tier * 2 + (sequential ? 0 : 1)) for the current slice, ns. */
  readonly latencyNs: Float64Array;
  /** Media traffic in 64 B units that the policy's machinery causes this slice (Memory Mode's fills and write-backs). */
  addTraffic(tier: Tier, readUnits: number, writeUnits: number): void;
}

export interface PolicyVm {
  readonly name: string;
  readonly host: PolicyHost;
  readonly pageCount: number;
  /** This VM's share of the host's DRAM (static split unless the policy decides otherwise). */
  readonly dramQuotaPages: number;
}

export interface PolicyContext {
  readonly clock: Clock;
  readonly vms: readonly PolicyVm[];
  readonly load: PolicyTiers;
  /** Aborted when the run ends. */
  readonly signal: AbortSignal;
}

/** Per-VM figures a policy reports at the end (e.g. the engine's totals). */
export type PolicyVmReport = Readonly<Record<string, number>>;

export interface RunningPolicy {
  /** Set if the policy's machinery died during the run; the run stops with this error. */
  failure(): Error | undefined;
  /** Called after the signal is aborted; resolves with one report per VM. */
  stop(): Promise<readonly PolicyVmReport[]>;
}

/** The machine a policy will run on, for its memory estimate. */
export interface MachineShape {
  /** Host DRAM and NVM as configured (before hostDramPages). */
  readonly dramPages: number;
  readonly nvmPages: number;
  readonly vms: readonly { readonly pageCount: number; readonly vcpus: number; readonly cpuNsPerOp: number; readonly accessesPerOp: number }[];
}

export interface Policy {
  readonly name: string;
  readonly description: string;
  /** DRAM the host has under this policy (the all-DRAM ceiling gets enough for every VM). */
  hostDramPages(configuredDramPages: number, totalVmPages: number): number;
  /** DRAM pages a VM may take at first touch before its pages land in NVM. */
  firstTouchDramPages(vm: { readonly pageCount: number; readonly dramQuotaPages: number }): number;
  start(context: PolicyContext): RunningPolicy;
  /** Bytes of typed arrays the policy will hold on this machine, at most (machine/memory-estimate.ts); absent: negligible. */
  memoryBytes?(shape: MachineShape): number;
  /**
   * Optional: the workload VM `vmIndex` runs, wrapped (the oracle reads each
   * window's accesses ahead of the guest). The wrapper must pass the stream through unchanged.
   */
  wrapWorkload?(vmIndex: number, workload: Workload): Workload;
}

/** A policy that never moves anything after placement. */
export const idle: RunningPolicy = {
  failure: () => undefined,
  stop: async () => [],
};
