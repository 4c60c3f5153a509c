/**
 * An experiment: the same VMs (same workloads, same seeds) on the same host
 * under several placement policies, one after another, and the comparison:
 * each VM's slowdown against all-DRAM and how much HMM-V beats unmanaged.
 * Results hold simulated figures only (no wall-clock times), so a fixed seed
 * gives identical JSON.
 */
import type { EngineOptions } from '../../engine/run.js';
import { SimMachine, validateMachine, type MachineResult, type SimVmConfig } from '../machine/machine.js';
import { createPolicy } from '../policies/index.js';
import { tierPreset } from '../machine/tiers.js';
import { geomean } from '../report/summary.js';
import type { Workload, WorkloadSpec } from '../workloads/workload.js';

export interface ExperimentVm {
  readonly name: string;
  /** The workload; its pageCount is the VM's footprint, its seed is set from the experiment's. */
  readonly workload: Omit<WorkloadSpec, 'seed'>;
  /** Guest RAM in pages; defaults to the workload's footprint. */
  readonly pageCount?: number;
  readonly vcpus: number;
  /** DRAM quota under hmmv; default: the host's DRAM split equally. */
  readonly dramQuotaPages?: number;
}

export interface ExperimentConfig {
  readonly preset: string;
  readonly dramPages: number;
  readonly nvmPages: number;
  readonly vms: readonly ExperimentVm[];
  readonly durationNs: number;
  readonly warmupNs: number;
  readonly seed: number;
  readonly policies: readonly string[];
  readonly trafficScale: number;
  readonly sliceNs?: number;
  readonly engine?: Partial<Omit<EngineOptions, 'dramQuotaPages' | 'onWindow'>>;
}

export interface VmComparison {
  readonly name: string;
  readonly workload: string;
  /** ops/s per policy. */
  readonly opsPerSec: Readonly<Record<string, number>>;
  /** all-DRAM ops/s divided by this policy's (1 = as fast as all-DRAM); absent without an all-dram run. */
  readonly slowdown: Readonly<Record<string, number>>;
}

export interface ExperimentSummary {
  readonly vms: readonly VmComparison[];
  readonly totalOpsPerSec: Readonly<Record<string, number>>;
  /** Geometric mean of the VMs' slowdowns, per policy. */
  readonly totalSlowdown: Readonly<Record<string, number>>;
  /** How much faster HMM-V runs than unmanaged (geometric mean over VMs), percent; absent if either is missing. */
  readonly hmmvBeatsUnmanagedPct?: number;
  /** How much faster HMM-V runs with the DRAM pool than with the static split (geometric mean over VMs), percent. */
  readonly poolBeatsStaticPct?: number;
}

export interface ExperimentResult {
  readonly config: ExperimentConfig;
  readonly runs: readonly MachineResult[];
  readonly summary: ExperimentSummary;
}

export type WorkloadFactory = (spec: WorkloadSpec) => Workload;

export interface PreparedRun {
  readonly policy: string;
  readonly machine: SimMachine;
}

/** Seed of VM i's workload: distinct per VM, fixed by the experiment's seed. */
export const vmSeed = (seed: number, vmIndex: number): number => (Math.imul(seed >>> 0, 0x9e3779b1) + vmIndex * 0x85ebca6b + 1) >>> 0;

/**
 * Builds every machine before anything runs, so bad input (unknown workload
 * or policy, impossible sizes) fails at once with nothing started.
 */
export function prepareExperiment(config: ExperimentConfig, makeWorkload: WorkloadFactory): PreparedRun[] {
  const preset = tierPreset(config.preset);
  if (config.policies.length === 0) throw new Error('no policy to run');
  if (!(config.durationNs > 0)) throw new Error(`duration must be positive, got ${config.durationNs} ns`);
  const equalShare = Math.floor(config.dramPages / Math.max(1, config.vms.length));
  const runs: PreparedRun[] = [];
  for (const policyName of config.policies) {
    const policy = createPolicy(policyName, config.engine ? { engine: config.engine } : {});
    const vms: SimVmConfig[] = config.vms.map((vm, i) => {
      const workload = makeWorkload({ ...vm.workload, seed: vmSeed(config.seed, i) });
      return {
        name: vm.name,
        workload,
        pageCount: vm.pageCount ?? workload.pageCount,
        vcpus: vm.vcpus,
        dramQuotaPages: vm.dramQuotaPages ?? equalShare,
      };
    });
    const machineConfig = {
      preset,
      dramPages: config.dramPages,
      nvmPages: config.nvmPages,
      vms,
      trafficScale: config.trafficScale,
      ...(config.sliceNs !== undefined ? { sliceNs: config.sliceNs } : {}),
    };
    validateMachine(machineConfig);
    runs.push({ policy: policyName, machine: new SimMachine(machineConfig, policy) });
  }
  return runs;
}

export async function runExperiment(
  config: ExperimentConfig,
  makeWorkload: WorkloadFactory,
  onProgress?: (policy: string, fraction: number) => void,
): Promise<ExperimentResult> {
  const prepared = prepareExperiment(config, makeWorkload);
  const runs: MachineResult[] = [];
  for (const { policy, machine } of prepared) {
    runs.push(await machine.run(config.durationNs, onProgress && ((f) => onProgress(policy, f)), config.warmupNs));
  }
  return { config, runs, summary: summarise(runs) };
}

export function summarise(runs: readonly MachineResult[]): ExperimentSummary {
  const ceiling = runs.find((r) => r.policy === 'all-dram');
  const vmNames = runs[0]?.vms.map((vm) => vm.name) ?? [];
  const vms = vmNames.map((name, i): VmComparison => {
    const opsPerSec: Record<string, number> = {};
    const slowdown: Record<string, number> = {};
    for (const run of runs) {
      const ops = run.vms[i]!.opsPerSec;
      opsPerSec[run.policy] = ops;
      if (ceiling) slowdown[run.policy] = ops > 0 ? ceiling.vms[i]!.opsPerSec / ops : Infinity;
    }
    return { name, workload: runs[0]!.vms[i]!.workload, opsPerSec, slowdown };
  });
  const totalOpsPerSec: Record<string, number> = {};
  const totalSlowdown: Record<string, number> = {};
  for (const run of runs) {
    totalOpsPerSec[run.policy] = run.vms.reduce((s, vm) => s + vm.opsPerSec, 0);
    if (ceiling) totalSlowdown[run.policy] = geomean(vms.map((vm) => vm.slowdown[run.policy]!));
  }
  const hmmv = runs.find((r) => r.policy === 'hmmv');
  const unmanaged = runs.find((r) => r.policy === 'unmanaged');
  let hmmvBeatsUnmanagedPct: number | undefined;
  if (hmmv && unmanaged) {
    const speedups = hmmv.vms.map((vm, i) => vm.opsPerSec / unmanaged.vms[i]!.opsPerSec);
    hmmvBeatsUnmanagedPct = 100 * (geomean(speedups) - 1);
  }
  const pool = runs.find((r) => r.policy === 'hmmv-pool');
  let poolBeatsStaticPct: number | undefined;
  if (hmmv && pool) poolBeatsStaticPct = 100 * (geomean(pool.vms.map((vm, i) => vm.opsPerSec / hmmv.vms[i]!.opsPerSec)) - 1);
  return {
    vms,
    totalOpsPerSec,
    totalSlowdown,
    ...(hmmvBeatsUnmanagedPct !== undefined ? { hmmvBeatsUnmanagedPct } : {}),
    ...(poolBeatsStaticPct !== undefined ? { poolBeatsStaticPct } : {}),
  };
}

