/**
 * resize: a program whose hot set changes size once (a cache that warms up, a
 * batch job that moves to a smaller partition). For the first phaseOps
 * operations hotShare of the accesses go uniformly to a hot set of
 * hotFraction of the pages, afterwards to hotFractionAfter of them; the rest
 * go uniformly to all pages. The hot set is a prefix of a seeded random
 * permutation, so a grown hot set contains the old one and a shrunk one stays
 * inside it. Two of these, one growing and one shrinking, make the pool's
 * co-run phase: the DRAM quota should follow the hot sets.
 *
 * One operation: 2 accesses, each a write with probability writeShare; 100 ns of CPU.
 * Each access is one 8 B item at a random place in its page: one line.
 */
import { encodeAccess, type Workload, type WorkloadSpec } from './workload.js';
import { Params, checkOutput, checkPageCount, costParams, type ParamSpec } from './params.js';
import { randomPermutation } from './permutation.js';
import { Prng } from './prng.js';

export const RESIZE_PARAMS: readonly ParamSpec[] = [
  { name: 'hotFraction', default: 0.05, min: 0.0001, max: 1, description: 'fraction of the pages in the hot set before the change' },
  { name: 'hotFractionAfter', default: 0.4, min: 0.0001, max: 1, description: 'fraction of the pages in the hot set after the change' },
  { name: 'hotShare', default: 0.9, min: 0, max: 1, description: 'share of accesses that go to the hot set' },
  { name: 'phaseOps', default: 4_000_000, min: 1, integer: true, description: 'operations before the hot set changes size' },
  { name: 'writeShare', default: 0.3, min: 0, max: 1, description: 'share of accesses that are writes' },
  ...costParams(100, 2),
];

export class ResizeWorkload implements Workload {
  readonly name = 'resize';
  readonly pageCount: number;
  readonly cpuNsPerOp: number;
  readonly accessesPerOp: number;
  readonly hotBefore: number;
  readonly hotAfter: number;
  readonly phaseOps: number;
  private readonly hotShare: number;
  private readonly writeShare: number;
  private readonly order: Uint32Array;
  /** The page order (4 bytes per page). */
  readonly stateBytes: number;
  private readonly rng: Prng;
  private opIndex = 0;

  constructor(spec: WorkloadSpec) {
    const p = new Params('resize', RESIZE_PARAMS, spec.params);
    checkPageCount('resize', spec.pageCount, 2);
    this.pageCount = spec.pageCount;
    this.cpuNsPerOp = p.num('cpuNsPerOp');
    this.accessesPerOp = p.num('accessesPerOp');
    this.hotBefore = Math.max(1, Math.round(p.num('hotFraction') * spec.pageCount));
    this.hotAfter = Math.max(1, Math.round(p.num('hotFractionAfter') * spec.pageCount));
    this.hotShare = p.num('hotShare');
    this.phaseOps = p.num('phaseOps');
    this.writeShare = p.num('writeShare');
    this.order = randomPermutation(spec.pageCount, new Prng(spec.seed, 1));
    this.stateBytes = 4 * spec.pageCount;
    this.rng = new Prng(spec.seed, 0);
  }

  /** Hot-set size at operation `op` (0-based). */
  hotPagesAt(op: number): number {
    return op < this.phaseOps ? this.hotBefore : this.hotAfter;
  }

  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out, lines);
    const writeThreshold = this.writeShare * 2 ** 32;
    const rng = this.rng;
    const n = this.pageCount;
    const per = this.accessesPerOp;
    let o = 0;
    let done = 0;
    while (done < ops) {
      const before = this.opIndex < this.phaseOps;
      const chunk = before ? Math.min(ops - done, this.phaseOps - this.opIndex) : ops - done;
      const hot = before ? this.hotBefore : this.hotAfter;
      for (let i = 0; i < chunk * per; i++) {
        const page = rng.nextFloat() < this.hotShare ? this.order[rng.nextBelow(hot)]! : rng.nextBelow(n);
        // One 8 B item at a random place in the page: one line (from the low bits of the write draw).
        const w = rng.nextU32();
        out[o] = encodeAccess(page, w < writeThreshold);
        lines[o++] = w & 63;
      }
      done += chunk;
      this.opIndex += chunk;
    }
  }
}
