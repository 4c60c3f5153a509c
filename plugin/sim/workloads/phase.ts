/**
 * phase: a program whose hot set is replaced at a phase change (e.g. a batch
 * job moving from one input partition to the next). During each phase of
 * phaseOps operations, hotShare of the accesses go uniformly to a hot set of
 * hotFraction of the pages and the rest uniformly to all pages. At the
 * change the hot set is replaced by the next hotFraction of a seeded random
 * permutation of the pages, so consecutive hot sets are disjoint (as long as
 * hotFraction <= 0.5) and scattered. Phase k spans operations
 * [k * phaseOps, (k + 1) * phaseOps): the change happens after a number of
 * operations, never after a time.
 *
 * One operation: accessesPerOp = 2 independent accesses (e.g. a lookup and an
 * update in two structures), each a write with probability writeShare = 0.3;
 * 100 ns of CPU. The default phase length (4 M operations, about 1.6 s of a VM
 * on DRAM) spans several 200-1000 ms monitoring windows, so a tiering policy
 * has time to settle before the change and must react after it.
 *
 * Lines: each access is one 8 B item at a random place in its page, one line.
 */
import type { Workload, WorkloadSpec } from './workload.js';
import { Params, checkOutput, checkPageCount, costParams, type ParamSpec } from './params.js';
import { randomPermutation } from './permutation.js';
import { Prng } from './prng.js';

export const PHASE_PARAMS: readonly ParamSpec[] = [
  { name: 'hotFraction', default: 0.1, min: 0.0001, max: 1, description: 'fraction of the pages in each phase\'s hot set' },
  { name: 'hotShare', default: 0.9, min: 0, max: 1, description: 'share of accesses that go to the current hot set' },
  { name: 'phaseOps', default: 4_000_000, min: 1, integer: true, description: 'operations per phase (the hot set is replaced after this many)' },
  { name: 'writeShare', default: 0.3, min: 0, max: 1, description: 'share of accesses that are writes' },
  ...costParams(100, 2),
];

export class PhaseWorkload implements Workload {
  readonly name = 'phase';
  readonly pageCount: number;
  readonly cpuNsPerOp: number;
  readonly accessesPerOp: number;
  readonly hotPages: number;
  readonly phaseOps: number;
  private readonly hotShare: number;
  private readonly writeShare: number;
  private readonly order: Uint32Array;
  /** The page order (4 bytes per page). */
  readonly stateBytes: number;
  private readonly rng: Prng;
  /** Operations generated so far. */
  private opIndex = 0;

  constructor(spec: WorkloadSpec) {
    const p = new Params('phase', PHASE_PARAMS, spec.params);
    checkPageCount('phase', spec.pageCount, 2);
    this.pageCount = spec.pageCount;
    this.cpuNsPerOp = p.num('cpuNsPerOp');
    this.accessesPerOp = p.num('accessesPerOp');
    this.hotPages = Math.max(1, Math.round(p.num('hotFraction') * spec.pageCount));
    this.hotShare = p.num('hotShare');
    this.phaseOps = p.num('phaseOps');
    this.writeShare = p.num('writeShare');
    this.order = randomPermutation(spec.pageCount, new Prng(spec.seed, 1));
    this.stateBytes = 4 * spec.pageCount;
    this.rng = new Prng(spec.seed, 0);
  }

  /** Phase of operation number `op` (0-based). */
  phaseOf(op: number): number {
    return Math.floor(op / this.phaseOps);
  }

  /** The hot set of phase k (a copy; for tests and reports). */
  hotSetOfPhase(k: number): Uint32Array {
    const set = new Uint32Array(this.hotPages);
    const start = (k * this.hotPages) % this.pageCount;
    for (let i = 0; i < this.hotPages; i++) set[i] = this.order[(start + i) % this.pageCount]!;
    return set;
  }

  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out, lines);
    const writeThreshold = this.writeShare * 2 ** 32;
    const rng = this.rng;
    const n = this.pageCount;
    const hot = this.hotPages;
    const per = this.accessesPerOp;
    const hotThreshold = this.hotShare * 2 ** 32;
    const order = this.order;
    const state = rng.state;
    let s0 = state[0]! | 0;
    let s1 = state[1]! | 0;
    let s2 = state[2]! | 0;
    let s3 = state[3]! | 0;
    let o = 0;
    let done = 0;
    while (done < ops) {
      // Generate up to the end of the current phase with that phase's hot-set offset.
      const phase = Math.floor(this.opIndex / this.phaseOps);
      const chunk = Math.min(ops - done, (phase + 1) * this.phaseOps - this.opIndex);
      const start = (phase * hot) % n;
      // Three draws per access (hot or not, the slot or page, write and line), xoshiro128** inline
      // (Prng.fillU32's steps, the state in locals: no store and load of each draw).
      for (let left = chunk * per; left > 0; left--) {
        let m = Math.imul(s1, 5);
        const d0 = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
        let t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        m = Math.imul(s1, 5);
        const d1 = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
        t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        m = Math.imul(s1, 5);
        const w = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
        t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        // Hot or not without a branch (a tenth of the accesses are not, at random): both pages, one picked by a mask.
        let slot = start + Math.floor(d1 * 2.3283064365386963e-10 * hot);
        if (slot >= n) slot -= n;
        const hotPage = order[slot]!;
        const anyPage = Math.floor(d1 * 2.3283064365386963e-10 * n);
        const page = anyPage ^ ((hotPage ^ anyPage) & -+(d0 < hotThreshold));
        // One 8 B item at a random place in the page: one line (from the low bits of the write draw).
        // The write bit as a number, without a branch (a third of the accesses write, at random).
        out[o] = (page << 1) | +(w < writeThreshold);
        lines[o++] = w & 63;
      }
      done += chunk;
      this.opIndex += chunk;
    }
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = s3;
  }
}
