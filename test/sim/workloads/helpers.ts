import type { Workload } from '../../../plugin/sim/workloads/workload.js';

/** The next `ops` operations of `w` as a fresh array (their line descriptors dropped). */
export function take(w: Workload, ops: number): Uint32Array {
  return takeWithLines(w, ops).accesses;
}

/** The next `ops` operations of `w`: accesses and their line descriptors. */
export function takeWithLines(w: Workload, ops: number): { accesses: Uint32Array; lines: Uint16Array } {
  const accesses = new Uint32Array(ops * w.accessesPerOp);
  const lines = new Uint16Array(ops * w.accessesPerOp);
  w.nextOps(ops, accesses, lines);
  return { accesses, lines };
}

/** Per-page access counts (reads + writes) and the number of writes. */
export function countPages(w: Workload, accesses: Uint32Array): { counts: Float64Array; writes: number } {
  const counts = new Float64Array(w.pageCount);
  let writes = 0;
  for (let i = 0; i < accesses.length; i++) {
    const a = accesses[i]!;
    counts[a >>> 1]!++;
    writes += a & 1;
  }
  return { counts, writes };
}
