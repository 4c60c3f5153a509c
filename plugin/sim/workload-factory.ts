/**
 * Where `hmmv sim` gets its workloads. The generators proper (Zipfian KV,
 * GUPS, moving scan, phase change, graph, trace replay) live in
 * plugin/sim/workloads/ (branch `workloads`); until that lands, this file
 * provides two seeded stand-ins so the simulator runs end to end.
 */
import { encodeAccess, type Workload, type WorkloadSpec } from './workload.js';

/** xorshift32 stream. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

/** Spreads rank k over the address space so hot keys are not the low pages. */
const scatter = (k: number, pages: number): number => (Math.imul(k, 0x9e3779b1) >>> 0) % pages;

function standIn(spec: WorkloadSpec): Workload {
  const next = rng(spec.seed);
  const pages = spec.pageCount;
  switch (spec.kind) {
    case 'kv-zipf': {
      // 80% of accesses to 20% of the keys: CDF (k/n)^a with a = ln 0.8 / ln 0.2.
      const exponent = Math.log(0.2) / Math.log(0.8);
      const perOp = 4;
      return {
        name: 'kv-zipf',
        pageCount: pages,
        cpuNsPerOp: 400,
        accessesPerOp: perOp,
        nextOps(ops, out) {
          for (let o = 0; o < ops; o++) {
            const rank = Math.floor(pages * Math.pow(next() / 4294967296, exponent));
            const page = scatter(rank, pages);
            const write = (next() & 1) === 1; // 50% updates
            for (let j = 0; j < perOp; j++) out[o * perOp + j] = encodeAccess(page, write && j === perOp - 1);
          }
        },
      };
    }
    case 'gups':
      return {
        name: 'gups',
        pageCount: pages,
        cpuNsPerOp: 20,
        accessesPerOp: 1,
        nextOps(ops, out) {
          for (let o = 0; o < ops; o++) out[o] = encodeAccess(next() % pages, true);
        },
      };
    default:
      throw new Error(`unknown workload "${spec.kind}" (known: ${STAND_IN_KINDS.join(', ')})`);
  }
}

export const STAND_IN_KINDS: readonly string[] = ['kv-zipf', 'gups'];

export function makeWorkload(spec: WorkloadSpec): Workload {
  if (!Number.isInteger(spec.pageCount) || spec.pageCount <= 0) {
    throw new Error(`workload ${spec.kind}: page count must be a positive integer, got ${spec.pageCount}`);
  }
  return standIn(spec);
}

export const DEFAULT_WORKLOADS: readonly string[] = ['kv-zipf', 'gups', 'kv-zipf', 'gups'];
