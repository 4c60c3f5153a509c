/**
 * The numbers of the report, from a scenario's runs: slowdown vs all-DRAM per
 * VM and policy, HMM-V's margin over each baseline and its distance from the
 * oracle, the tracking-cost table, and slowdown vs DRAM fraction per workload.
 * Simulated figures only, so a fixed seed gives the same report.
 */
import type { MachineResult, VmResult } from '../machine/machine.js';
import type { CaseRun } from '../experiment/run-scenario.js';

/** Geometric mean (NaN for none): the one every total of the simulator's reports uses. */
export const geomean = (values: readonly number[]): number =>
  values.length === 0 ? NaN : Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);

export interface CoRunTable {
  readonly caseId: string;
  readonly policies: readonly string[];
  readonly vms: readonly string[];
  /** slowdown[policy][vm]: all-DRAM ops/s / policy ops/s; 'geomean' over the VMs. */
  readonly slowdown: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly opsPerSec: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** How much faster HMM-V runs than each policy: geomean over VMs of ops ratios, percent. */
  readonly hmmvSpeedupPct: Readonly<Record<string, number>>;
  /** How much faster the oracle runs than HMM-V (geomean over VMs), percent. */
  readonly oracleAheadOfHmmvPct?: number;
}

export interface TrackingRow {
  readonly policy: string;
  /** Pages whose accessed bit (or PTE) the policy examined, per 200 ms window, all VMs. */
  readonly pagesScannedPerWindow: number;
  readonly pmlBufferFullExits: number;
  readonly hintFaults: number;
  readonly pagesMigrated: number;
  /** Mean over VMs of the vCPU time lost to tracking / to migration, percent. */
  readonly trackingCostPct: number;
  readonly migrationCostPct: number;
  /** Share of all accesses served by DRAM (Memory Mode: its cache). */
  readonly dramHitRatio: number;
}

export interface SweepCurve {
  readonly group: string;
  readonly fractions: readonly number[];
  /** slowdown[policy][i] at fractions[i] (NaN where the run is missing). */
  readonly slowdown: Readonly<Record<string, readonly number[]>>;
}

const WINDOW_NS = 200e6;

export function coRunTable(runs: readonly CaseRun[], caseId: string): CoRunTable {
  const mine = runs.filter((r) => r.caseId === caseId).map((r) => r.result);
  if (!mine.some((r) => r.policy === 'all-dram')) throw new Error(`case ${caseId}: the report needs an all-dram run as the reference`);
  return tableOfRuns(caseId, mine);
}

/**
 * The table of runs of the same VMs under several policies (one case of a
 * scenario, or one `hmmv sim`): ops/s, and with an all-dram run the slowdowns
 * (empty without one) and HMM-V's margins.
 */
export function tableOfRuns(caseId: string, mine: readonly MachineResult[]): CoRunTable {
  const ceiling = mine.find((r) => r.policy === 'all-dram');
  const vms = (ceiling ?? mine[0])?.vms.map((vm) => vm.name) ?? [];
  const slowdown: Record<string, Record<string, number>> = {};
  const opsPerSec: Record<string, Record<string, number>> = {};
  for (const r of mine) {
    const s: Record<string, number> = {};
    const o: Record<string, number> = {};
    r.vms.forEach((vm, i) => {
      o[vm.name] = vm.opsPerSec;
      if (ceiling) s[vm.name] = ceiling.vms[i]!.opsPerSec / vm.opsPerSec;
    });
    if (ceiling) {
      s['geomean'] = geomean(vms.map((v) => s[v]!));
      slowdown[r.policy] = s;
    }
    o['total'] = r.vms.reduce((t, vm) => t + vm.opsPerSec, 0);
    opsPerSec[r.policy] = o;
  }
  const hmmv = opsPerSec['hmmv'];
  const hmmvSpeedupPct: Record<string, number> = {};
  let oracleAheadOfHmmvPct: number | undefined;
  if (hmmv) {
    for (const r of mine) {
      if (r.policy === 'hmmv') continue;
      const other = opsPerSec[r.policy]!;
      hmmvSpeedupPct[r.policy] = 100 * (geomean(vms.map((v) => hmmv[v]! / other[v]!)) - 1);
    }
    const oracle = opsPerSec['oracle'];
    if (oracle) oracleAheadOfHmmvPct = 100 * (geomean(vms.map((v) => oracle[v]! / hmmv[v]!)) - 1);
  }
  return {
    caseId,
    policies: mine.map((r) => r.policy),
    vms,
    slowdown,
    opsPerSec,
    hmmvSpeedupPct,
    ...(oracleAheadOfHmmvPct !== undefined ? { oracleAheadOfHmmvPct } : {}),
  };
}

export function trackingTable(runs: readonly CaseRun[], caseId: string): TrackingRow[] {
  return runs
    .filter((r) => r.caseId === caseId)
    .map((r) => {
      const vms: readonly VmResult[] = r.result.vms;
      const sum = (f: (vm: VmResult) => number): number => vms.reduce((s, vm) => s + f(vm), 0);
      const accesses = sum((vm) => vm.accesses);
      return {
        policy: r.policy,
        pagesScannedPerWindow: sum((vm) => vm.pagesScanned) / (r.result.durationNs / WINDOW_NS),
        pmlBufferFullExits: sum((vm) => vm.pmlBufferFullExits),
        hintFaults: sum((vm) => vm.policy['hintFaults'] ?? 0),
        pagesMigrated: sum((vm) => vm.migratedToDram + vm.migratedToNvm),
        trackingCostPct: sum((vm) => vm.trackingCostPct) / vms.length,
        migrationCostPct: sum((vm) => vm.migrationCostPct) / vms.length,
        dramHitRatio: accesses > 0 ? sum((vm) => vm.dramHitRatio * vm.accesses) / accesses : 0,
      };
    });
}

export function sweepCurves(runs: readonly CaseRun[]): SweepCurve[] {
  const groups = [...new Set(runs.map((r) => r.group))];
  return groups.map((group) => {
    const mine = runs.filter((r) => r.group === group);
    const fractions = [...new Set(mine.map((r) => r.dramFraction))].sort((a, b) => a - b);
    const policies = [...new Set(mine.map((r) => r.policy))];
    const slowdown: Record<string, number[]> = {};
    for (const policy of policies) {
      slowdown[policy] = fractions.map((f) => {
        const run = mine.find((r) => r.policy === policy && r.dramFraction === f);
        const ceiling = mine.find((r) => r.policy === 'all-dram' && r.dramFraction === f);
        if (!run || !ceiling) return NaN;
        return geomean(run.result.vms.map((vm, i) => ceiling.result.vms[i]!.opsPerSec / vm.opsPerSec));
      });
    }
    return { group, fractions, slowdown };
  });
}
