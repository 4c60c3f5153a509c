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
import { availableMemoryBytes, checkMemory, estimateMachineMemory, type MemoryEstimate } from '../machine/memory-estimate.js';
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
  /** Largest memory one run may take (default: what the OS reports available); larger runs are refused up front. */
  readonly memoryLimitBytes?: number;
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
  /** What the run will take (machine/memory-estimate.ts), checked against the limit before it is built. */
  readonly memory: MemoryEstimate;
  /** Builds the machine with fresh workloads (their streams from the start); call right before running it. */
  build(): SimMachine;
}

/** Seed of VM i's workload: distinct per VM, fixed by the experiment's seed. */
export const vmSeed = (seed: number, vmIndex: number): number => (Math.imul(seed >>> 0, 0x9e3779b1) + vmIndex * 0x85ebca6b + 1) >>> 0;

/**
 * Checks every run before anything runs, so bad input (unknown workload or
 * policy, impossible sizes, a machine larger than this computer's memory)
 * fails at once with nothing started. Each VM's workload is built once here
 * (its parameters checked, its size and tables known) and dropped; the
 * machines themselves are built one at a time when they run (build()), so
 * only one run's memory is ever held.
 */
export function prepareExperiment(config: ExperimentConfig, makeWorkload: WorkloadFactory): PreparedRun[] {
  const preset = tierPreset(config.preset);
  if (config.policies.length === 0) throw new Error('no policy to run');
  if (!(config.durationNs > 0)) throw new Error(`duration must be positive, got ${config.durationNs} ns`);
  const equalShare = Math.floor(config.dramPages / Math.max(1, config.vms.length));
  const limit = config.memoryLimitBytes ?? availableMemoryBytes();
  const specs = config.vms.map((vm, i): WorkloadSpec => ({ ...vm.workload, seed: vmSeed(config.seed, i) }));
  // First from the sizes alone, without the workloads' own tables (a lower bound), so that a machine far
  // too large is refused before even its workloads are built; then exactly, from the built workloads.
  for (const policyName of config.policies) {
    const policy = createPolicy(policyName, config.engine ? { engine: config.engine } : {});
    const rough = config.vms.map((vm) => {
      const pages = vm.pageCount ?? vm.workload.pageCount;
      return { name: vm.name, pageCount: pages, vcpus: vm.vcpus, workload: { name: vm.workload.kind, pageCount: pages, cpuNsPerOp: 0, accessesPerOp: 1, nextOps: () => undefined } };
    });
    checkMemory(estimateMachineMemory(rough, config.dramPages, config.nvmPages, policy), limit, `the ${policyName} run`);
  }
  const probes = specs.map((spec) => makeWorkload(spec));
  const vmConfigs = (workloads: readonly Workload[]): SimVmConfig[] =>
    config.vms.map((vm, i) => ({
      name: vm.name,
      workload: workloads[i]!,
      pageCount: vm.pageCount ?? workloads[i]!.pageCount,
      vcpus: vm.vcpus,
      dramQuotaPages: vm.dramQuotaPages ?? equalShare,
    }));
  const machineConfig = (workloads: readonly Workload[]) => ({
    preset,
    dramPages: config.dramPages,
    nvmPages: config.nvmPages,
    vms: vmConfigs(workloads),
    trafficScale: config.trafficScale,
    ...(config.sliceNs !== undefined ? { sliceNs: config.sliceNs } : {}),
  });
  validateMachine(machineConfig(probes));
  return config.policies.map((policyName): PreparedRun => {
    const policy = createPolicy(policyName, config.engine ? { engine: config.engine } : {});
    const memory = estimateMachineMemory(
      vmConfigs(probes).map((vm) => ({ name: vm.name, pageCount: vm.pageCount, vcpus: vm.vcpus, workload: vm.workload })),
      config.dramPages,
      config.nvmPages,
      policy,
    );
    checkMemory(memory, limit, `the ${policyName} run`);
    return {
      policy: policyName,
      memory,
      build: () => new SimMachine(machineConfig(specs.map((spec) => makeWorkload(spec))), policy),
    };
  });
}

export async function runExperiment(
  config: ExperimentConfig,
  makeWorkload: WorkloadFactory,
  onProgress?: (policy: string, fraction: number) => void,
): Promise<ExperimentResult> {
  const prepared = prepareExperiment(config, makeWorkload);
  const runs: MachineResult[] = [];
  for (const run of prepared) {
    const machine = run.build();
    runs.push(await machine.run(config.durationNs, onProgress && ((f) => onProgress(run.policy, f)), config.warmupNs));
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

