import type { Workload } from '../../../plugin/sim/workload.js';

/** The next `ops` operations of `w` as a fresh array. */
export function take(w: Workload, ops: number): Uint32Array {
  const out = new Uint32Array(ops * w.accessesPerOp);
  w.nextOps(ops, out);
  return out;
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
