/**
 * Generator throughput of the workloads (not a test): set-up time and page
 * accesses generated per second for each synthetic kind at a few sizes.
 * `node dist/bench/workloads.js [pageCount ...]` prints JSON; the main bench
 * runner can import benchWorkloads().
 */
import { pathToFileURL } from 'node:url';
import { createWorkload } from '../plugin/sim/workloads/index.js';

export interface WorkloadBenchResult {
  kind: string;
  pageCount: number;
  setupMs: number;
  accessesPerOp: number;
  /** Page accesses generated per second of wall time. */
  accessesPerSec: number;
}

export function benchWorkloads(
  pageCounts: readonly number[] = [1 << 18, 1 << 20, 1 << 22],
  kinds: readonly string[] = ['kv-zipf', 'gups', 'scan', 'phase', 'graph'],
  accessesPerRun = 4_000_000,
): WorkloadBenchResult[] {
  const results: WorkloadBenchResult[] = [];
  for (const pageCount of pageCounts) {
    for (const kind of kinds) {
      const t0 = performance.now();
      const w = createWorkload({ kind, pageCount, seed: 1 });
      const setupMs = performance.now() - t0;
      const batch = 65_536;
      const out = new Uint32Array(batch * w.accessesPerOp);
      const lines = new Uint16Array(out.length);
      w.nextOps(batch, out, lines); // warm-up
      const batches = Math.max(1, Math.round(accessesPerRun / out.length));
      const t1 = performance.now();
      for (let i = 0; i < batches; i++) w.nextOps(batch, out, lines);
      const seconds = (performance.now() - t1) / 1000;
      results.push({ kind, pageCount, setupMs: round(setupMs), accessesPerOp: w.accessesPerOp, accessesPerSec: Math.round((batches * out.length) / seconds) });
    }
  }
  return results;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizes = process.argv.slice(2).map(Number);
  const results = benchWorkloads(sizes.length ? sizes : undefined);
  process.stdout.write(JSON.stringify({ bench: 'workload-generators', node: process.version, results }, null, 2) + '\n');
}
