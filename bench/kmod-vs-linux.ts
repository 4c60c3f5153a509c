/**
 * hmmv.ko (kmod backend) beside the linux backend on the same TCG guest, in
 * one run: boots the test bed with a DRAM node, a slow NUMA node (linux) and
 * a devdax NVDIMM (kmod), runs test/kmod/in-guest-bench.ts there and writes
 * its figures and ratios to out/bench-kmod.json (and a table to stdout).
 * Not a test: under TCG the absolute numbers mean little; the ratios, taken
 * side by side on one guest, are the result.
 *
 *   flock /tmp/hmmv-guest.lock node dist/bench/kmod-vs-linux.js
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { bootGuest } from '../test/guest/testbed.js';

const run = await bootGuest({
  scenario: 'bench',
  program: 'dist/test/kmod/in-guest-kmod.js',
  timeoutMs: 10 * 60_000,
  dramMiB: 1024,
  nvmMiB: 256,
  nvdimms: [{ sizeMiB: 256, mode: 'devdax' }],
  layers: ['kmod'],
});
const result = run.results.find((r) => r.check === 'bench-kmod-vs-linux') as Record<string, any> | undefined;
if (!result) {
  process.stderr.write(`the guest reported no benchmark: ${JSON.stringify(run.results)}\n${run.console.slice(-3000)}\n`);
  process.exit(1);
}
await mkdir('out', { recursive: true });
await writeFile('out/bench-kmod.json', `${JSON.stringify({ date: new Date().toISOString(), guestSeconds: run.totalSeconds, ...result }, null, 2)}\n`);
const k = result.kmod;
const l = result.linux;
const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const rows = [
  // move_pages' pause is not visible from user space: a one-page call (which also drains the LRU caches) and a
  // 64-page batch (its pages stay unmapped while the batch is copied) bound it from above.
  ['pause per moved page (ns; linux: upper bounds)', f(k.pauseNsPerPage), `<= ${f(l.pauseNsPerPage)} (1-page call), <= ${f(l.pauseBoundNsPerPage)} (64-page batch)`, 'n/a (bounds only)'],
  ['migration (pages/s, both ways, hot pages written)', f(k.pagesPerSecond), f(l.pagesPerSecond), f(result.ratios.throughput, 2)],
  ['tracking per round (ms: accessed + dirty log, 8192 pages)', f(k.trackingMsPerRound, 2), f(l.trackingMsPerRound, 2), f(result.ratios.trackingPerRound, 2)],
  ['accessed precision per page', f(k.precision, 3), f(l.precision, 3), f(result.ratios.precision, 2)],
  ['accessed recall per page', f(k.recall, 3), f(l.recall, 3), f(result.ratios.recall, 2)],
];
process.stdout.write(`| measure | kmod (hmmv.ko) | linux (move_pages, DAMON + soft-dirty) | kmod / linux |\n|---|---:|---:|---:|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
process.stdout.write(`wrote out/bench-kmod.json (guest ${f(run.totalSeconds)} s)\n`);
