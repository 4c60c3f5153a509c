/**
 * Tiny deterministic workloads for the simulator's own tests (the real
 * generators live in plugin/sim/workloads/). Not a test file itself.
 */
import { xorshift32 as xorshift } from '../../plugin/sim/policies/rng.js';
import { encodeAccess, type Workload } from '../../plugin/sim/workloads/workload.js';

export { xorshift32 as xorshift } from '../../plugin/sim/policies/rng.js';

/** A hot set (the first `hotPages` pages, scattered by a stride) takes `hotShare` of accesses. */
export function hotColdWorkload(opts: {
  pageCount: number;
  hotPages: number;
  hotShare: number;
  writeShare: number;
  seed: number;
  accessesPerOp?: number;
  cpuNsPerOp?: number;
}): Workload {
  const next = xorshift(opts.seed);
  const apo = opts.accessesPerOp ?? 4;
  const hotPages = Math.max(1, Math.floor(opts.hotPages));
  const hotThreshold = Math.floor(opts.hotShare * 2 ** 32);
  const writeThreshold = Math.floor(opts.writeShare * 2 ** 32);
  // Scatter the hot pages over the address space so first touch by address order does not favour them.
  const stride = 7919;
  return {
    name: 'hotcold',
    pageCount: opts.pageCount,
    cpuNsPerOp: opts.cpuNsPerOp ?? 200,
    accessesPerOp: apo,
    nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
      for (let i = 0; i < ops * apo; i++) {
        const hot = next() < hotThreshold;
        const k = hot ? next() % hotPages : hotPages + (next() % (opts.pageCount - hotPages));
        const page = (k * stride) % opts.pageCount;
        const w = next();
        out[i] = encodeAccess(page, w < writeThreshold);
        lines[i] = w & 63; // one random line of the page
      }
    },
  };
}

/** Every access writes, to pages chosen uniformly from the first `pages` pages. */
export function writerWorkload(pageCount: number, pages: number, seed: number): Workload {
  const next = xorshift(seed);
  return {
    name: 'writer',
    pageCount,
    cpuNsPerOp: 50,
    accessesPerOp: 1,
    nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
      for (let i = 0; i < ops; i++) {
        out[i] = encodeAccess(next() % pages, true);
        lines[i] = 0;
      }
    },
  };
}
