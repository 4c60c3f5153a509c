/** The report's Markdown summary: the tables a person reads, and what each figure assumes. */
import type { Scenario } from '../experiment/scenarios.js';
import type { CoRunTable, SweepCurve, TrackingRow } from './summary.js';

const x = (v: number | undefined): string => (v !== undefined && Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
const pct = (v: number | undefined): string => (v !== undefined && Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(1)}%` : 'n/a');
const num = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(v < 10 ? 2 : 0));

export function coRunMarkdown(t: CoRunTable): string {
  const cols = [...t.vms, 'geomean'];
  const lines = [
    `| policy | ${cols.join(' | ')} | HMM-V faster by |`,
    `|---|${cols.map(() => '---:').join('|')}|---:|`,
    ...t.policies.map((p) => `| ${p} | ${cols.map((c) => x(t.slowdown[p]?.[c])).join(' | ')} | ${p === 'hmmv' ? '—' : pct(t.hmmvSpeedupPct[p])} |`),
  ];
  return lines.join('\n');
}

export function trackingMarkdown(rows: readonly TrackingRow[]): string {
  return [
    '| policy | pages scanned / 200 ms | PML-full exits | hint faults | pages migrated | tracking cost | migration cost | DRAM hit ratio |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.policy} | ${num(r.pagesScannedPerWindow)} | ${num(r.pmlBufferFullExits)} | ${num(r.hintFaults)} | ${num(r.pagesMigrated)} | ${r.trackingCostPct.toFixed(2)}% | ${r.migrationCostPct.toFixed(2)}% | ${(100 * r.dramHitRatio).toFixed(1)}% |`),
  ].join('\n');
}

export function sweepMarkdown(c: SweepCurve): string {
  const policies = Object.keys(c.slowdown);
  return [
    `| DRAM | ${policies.join(' | ')} |`,
    `|---:|${policies.map(() => '---:').join('|')}|`,
    ...c.fractions.map((f, i) => `| ${Math.round(f * 100)}% | ${policies.map((p) => x(c.slowdown[p]![i])).join(' | ')} |`),
  ].join('\n');
}

export function scenarioHeader(sc: Scenario): string {
  const c = sc.cases[0]!.config;
  return [
    `Scenario \`${sc.name}\`: ${sc.description}.`,
    `Tiers \`${c.preset}\`, ${c.durationNs / 1e9} s simulated per run after ${c.warmupNs / 1e9} s of first-touch warm-up, seed ${c.seed}, traffic scale ${c.trafficScale}; policies: ${sc.policies.join(', ')}.`,
    'Slowdown = all-DRAM ops/s / policy ops/s (1.00x = as fast as all-DRAM; lower is better). "HMM-V faster by" = geometric mean over the VMs of HMM-V ops/s / that policy\'s ops/s, minus 1.',
  ].join('\n');
}

/** What the baselines are and what they assume, for every report. */
export const MODEL_NOTES = `## How the peers are modelled

Every parameter is a named constant with its source in \`plugin/sim/policies/<policy>.ts\`.

- **numa-balancing**: Linux memory-tiering mode (\`numa_balancing=2\`, demotion on). Per VM (QEMU process) a scan marks 256 MB of slow-tier pages PROT_NONE every max(100 ms, 1 s x 256 MB / RSS), i.e. a full pass per second; a guest access to a marked page is a hint fault (2.5 us charged to the VM); the page is promoted in the fault if fault time - scan time < hot threshold (1000 ms, auto-adjusted every 60 s toward the 65536 MB/s rate limit) and DRAM is above its high watermark, else kswapd is woken and demotes unreferenced DRAM pages (CLOCK over the node, host-wide) to the promo watermark. Watermarks from the kernel's min_free_kbytes / watermark_scale_factor formulas. In tiering-only mode the scan period does not adapt (no fault statistics for slow-tier pages).
- **tpp**: the same scanner; promotion only of pages on the active LRU (the first hint fault activates, the second promotes); kswapd keeps 2% of DRAM free (demotion decoupled from allocation).
- **memory-mode**: all VM memory in NVM, host DRAM a direct-mapped write-back cache of 64 B lines shared by all VMs, tags kept in DRAM, guest pages on random host frames; a demand hit costs DRAM latency, a miss Optane latency + 70 ns (tag check, Moon et al. 2020) plus the line fill and, for a dirty victim, a write-back; Optane media traffic counts 256 B XPLines (model and sources: \`docs/simulator.md\`). A cache refilled on every miss that holds only the lines touched, not a placement: its hit ratio can exceed the page oracle's.
- **memtierd**: heat policy with the idle-page tracker, configuration of memtierd's own end-to-end test for moving pages with it (heat interval 4 s, heatmax 0.01, retention 0, 2 classes, 512-page regions, scan 500 ms, mover 100 MB/s in 20 ms steps), plus NumaSize of DRAM = the host's DRAM (its capacity-aware path, hottest ranges first). Its first moves come at 4 s, so short runs show little of it.
- **damon**: DAMOS \`migrate_hot\`/\`migrate_cold\` on the host's physical address space as in the kernel's mtier sample (samples/damon/mtier.c): 5 ms sampling, 100 ms aggregation, 10..1000 adaptive regions, 200 MiB/s quota per scheme, goals DRAM 99.7% used / 0.5% free, young-page filters.
- **oracle**: knows each 200 ms window's accesses in advance and fills all host DRAM with that window's hottest pages (all VMs), moved for free: the limit of page placement for this DRAM size (not of a line cache, nor of placement that spreads bandwidth over both tiers).
- **hmmv**: the project's engine with its defaults (80 ms windows of 8 scan rounds of falling length, a sieve that reads access frequency on a log scale from accessed bits; stream following; 1 GiB/s migration), static equal DRAM split per VM; **hmmv-pool** (\`-fair\`, \`-weighted\`): the same engines with the host-wide DRAM pool's policy instead of the static split.

All times are simulated; tracking and migration costs are charged to the VM's vCPUs as described in \`plugin/sim/costs.ts\`.`;
