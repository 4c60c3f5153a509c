/**
 * A placement policy of the simulated machine: where a VM's pages start and
 * what (if anything) moves them while the VMs run. all-DRAM, unmanaged and
 * hmmv are in policies/; baselines (NUMA balancing, Memory Mode, memtierd,
 * DAMON, an oracle) plug in the same way.
 */
import type { Clock } from '../util/clock.js';
import type { SimHost } from './sim-host.js';
import type { TierLoad } from './tier-load.js';

export interface PolicyVm {
  readonly name: string;
  readonly host: SimHost;
  readonly pageCount: number;
  /** This VM's share of the host's DRAM (static split unless the policy decides otherwise). */
  readonly dramQuotaPages: number;
}

export interface PolicyContext {
  readonly clock: Clock;
  readonly vms: readonly PolicyVm[];
  readonly load: TierLoad;
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

export interface Policy {
  readonly name: string;
  readonly description: string;
  /** DRAM the host has under this policy (the all-DRAM ceiling gets enough for every VM). */
  hostDramPages(configuredDramPages: number, totalVmPages: number): number;
  /** DRAM pages a VM may take at first touch before its pages land in NVM. */
  firstTouchDramPages(vm: { readonly pageCount: number; readonly dramQuotaPages: number }): number;
  start(context: PolicyContext): RunningPolicy;
}

/** A policy that never moves anything after placement. */
export const idle: RunningPolicy = {
  failure: () => undefined,
  stop: async () => [],
};
