/**
 * Prints the placement table of docs/emulated-optane.md from
 * out/e2e-host.json (or the file given): per domain, under hmmv and under the
 * numa_balancing=2 baseline, where its hot and cold pages are at the end, its
 * DRAM quota, pages moved, the time to converge and (kmod domains) the
 * module's pause per switched page; then the boot and suite
 * times. Markdown, so the note is re-measured by pasting, not by retyping.
 *   node dist/test/e2e-host/placement-table.js [out/e2e-host.json]
 */
import { readFileSync } from 'node:fs';
import { E2E_HOST_JSON } from './e2e-report.js';

interface Split {
  dram: number;
  nvm: number;
}
interface DomainRow {
  name: string;
  backend?: string;
  startOn?: string;
  hotPages?: Split;
  coldPages?: Split;
  ramPages?: Split;
  quotaPages?: number;
  pagesMoved?: number;
  pagesChangedNode?: number;
  secondsToConverge?: number;
  contentChecks?: { passed: number; failed: number };
  guestRunningAtEnd?: boolean;
  pauseNsPerPage?: number;
  maxPauseNs?: number;
}
interface Record {
  generatedAt: string;
  host: { suiteSeconds?: number; bootSeconds: number; hostReadySeconds: number; totalSeconds: number; inGuestSeconds?: number };
  domains: DomainRow[];
  baseline?: { seconds: number; domains: DomainRow[] };
  faults: { name: string; passed: boolean }[];
  destroyHandover?: { domain: string; quotaPagesBefore: number; quotaPagesAfter: number; maxPages: number };
}

const split = (s: Split | undefined) => (s ? `${s.dram} / ${s.nvm}` : '-');
const num = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toFixed(digits));

export function placementTable(r: Record): string {
  const rows = [
    '| policy | domain | starts on | DRAM quota (pages) | hot pages DRAM / NVM | cold pages DRAM / NVM | all RAM DRAM / NVM | pages moved | s to converge | content checks passed / failed | pause per page / max (ns) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const pause = (d: DomainRow) => (d.pauseNsPerPage === undefined && d.maxPauseNs === undefined ? '-' : `${num(d.pauseNsPerPage)} / ${num(d.maxPauseNs)}`);
  const line = (policy: string, d: DomainRow) =>
    `| ${policy} | ${d.name} | ${d.startOn ?? '-'} | ${d.quotaPages ?? 'none'} | ${split(d.hotPages)} | ${split(d.coldPages)} | ${split(d.ramPages)} | ${d.pagesMoved ?? '-'} | ${d.secondsToConverge === undefined ? 'not within the run' : num(d.secondsToConverge, 1)} | ${d.contentChecks ? `${d.contentChecks.passed} / ${d.contentChecks.failed}` : '-'} | ${pause(d)} |`;
  for (const d of r.domains) rows.push(line(`hmmv (${d.backend ?? 'linux'} backend, pool)`, d));
  for (const d of r.baseline?.domains ?? []) rows.push(line('numa_balancing=2', d));
  const h = r.host;
  const times = [
    '',
    '| | seconds |',
    '|---|---:|',
    `| QEMU start to /init (boot) | ${num(h.bootSeconds, 1)} |`,
    `| QEMU start to host ready (NVDIMM onlined, libvirtd answering) | ${num(h.hostReadySeconds, 1)} |`,
    `| the in-guest program (operator set-up, chain, faults, baseline) | ${num(h.inGuestSeconds, 1)} |`,
    `| QEMU start to power-off | ${num(h.totalSeconds, 1)} |`,
    `| the suite (test-bed build from the cache, boot, run) | ${num(h.suiteSeconds, 1)} |`,
  ];
  const handover = r.destroyHandover
    ? [``, `virsh destroy of the other domain: ${r.destroyHandover.domain}'s quota ${r.destroyHandover.quotaPagesBefore} -> ${r.destroyHandover.quotaPagesAfter} pages (bound ${r.destroyHandover.maxPages}).`]
    : [];
  const faults = [``, `Faults: ${r.faults.map((f) => `${f.name} ${f.passed ? 'passed' : 'FAILED'}`).join(', ')}.`];
  return [...rows, ...handover, ...faults, ...times, '', `(${r.generatedAt}; 4 KiB pages at the end of each run)`].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] ?? E2E_HOST_JSON;
  process.stdout.write(`${placementTable(JSON.parse(readFileSync(file, 'utf8')) as Record)}\n`);
}
