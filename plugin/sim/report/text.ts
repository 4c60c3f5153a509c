/** The experiment as a text table and a one-line verdict, for the terminal. */
import type { ExperimentResult } from '../experiment/experiment.js';

const fmtOps = (v: number): string =>
  v >= 1e9 ? `${(v / 1e9).toFixed(2)}G` : v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
const fmtX = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(2)}x`);
const fmtPct = (v: number): string => `${v.toFixed(2)}%`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const mib = (pages: number): string => ((pages * 4096) / 2 ** 20).toFixed(0);

/** The VM's DRAM quota: static under hmmv; start -> end (min..max) when the pool moved it. */
function fmtQuota(report: Readonly<Record<string, number>>, staticPages: number, policy: string): string {
  const start = report['quotaStartPages'];
  if (start !== undefined) {
    const { quotaEndPages: end = start, quotaMinPages: min = start, quotaMaxPages: max = start } = report;
    return `${mib(start)} -> ${mib(end)} (${mib(min)}..${mib(max)})`;
  }
  return policy.startsWith('hmmv') ? mib(staticPages) : '-';
}

export function formatTable(result: ExperimentResult): string {
  const { runs, summary } = result;
  const rows: string[][] = [];
  for (const run of runs) {
    for (const [i, vm] of run.vms.entries()) {
      rows.push([
        run.policy,
        `${vm.name} ${vm.workload}`,
        fmtOps(vm.opsPerSec),
        fmtX(summary.vms[i]!.slowdown[run.policy]),
        `${(100 * vm.dramHitRatio).toFixed(1)}%`,
        String(vm.migratedToDram + vm.migratedToNvm),
        fmtPct(vm.trackingCostPct),
        fmtQuota(vm.policy, vm.dramQuotaPages, run.policy),
      ]);
    }
    const migrated = run.vms.reduce((s, vm) => s + vm.migratedToDram + vm.migratedToNvm, 0);
    const tracking = run.vms.reduce((s, vm) => s + vm.trackingCostPct, 0) / run.vms.length;
    rows.push([run.policy, 'total', fmtOps(summary.totalOpsPerSec[run.policy]!), fmtX(summary.totalSlowdown[run.policy]), '', String(migrated), fmtPct(tracking), '']);
  }
  return table(['policy', 'vm', 'ops/s', 'slowdown', 'dram hits', 'pages migrated', 'tracking cost', 'dram quota MiB'], rows);
}

/** "HMM-V beats unmanaged by N%" with the slowdowns, or what is missing to say it. */
export function formatVerdict(result: ExperimentResult): string {
  const { summary } = result;
  const parts: string[] = [];
  const slow = summary.totalSlowdown;
  if (slow['unmanaged'] !== undefined && slow['hmmv'] !== undefined) {
    parts.push(`total slowdown vs all-DRAM (geometric mean over VMs): unmanaged ${fmtX(slow['unmanaged'])}, hmmv ${fmtX(slow['hmmv'])}.`);
  }
  if (summary.hmmvBeatsUnmanagedPct !== undefined) {
    const pct = summary.hmmvBeatsUnmanagedPct;
    parts.push(
      Math.abs(pct) < 0.05
        ? 'HMM-V and unmanaged run at the same speed (geometric mean of per-VM ops/s).'
        : pct > 0
          ? `HMM-V beats unmanaged by ${pct.toFixed(1)}% (geometric mean of per-VM ops/s).`
          : `HMM-V is ${(-pct).toFixed(1)}% slower than unmanaged (geometric mean of per-VM ops/s).`,
    );
  }
  if (summary.poolBeatsStaticPct !== undefined) {
    const pct = summary.poolBeatsStaticPct;
    parts.push(
      Math.abs(pct) < 0.05
        ? 'The DRAM pool and the static equal split run at the same speed.'
        : pct > 0
          ? `The DRAM pool beats the static equal split by ${pct.toFixed(1)}% (geometric mean of per-VM ops/s).`
          : `The DRAM pool is ${(-pct).toFixed(1)}% slower than the static equal split (geometric mean of per-VM ops/s).`,
    );
  }
  return parts.join('\n');
}
