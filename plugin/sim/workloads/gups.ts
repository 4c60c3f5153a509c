/**
 * gups: random read-modify-write updates of 8-byte elements (HPCC
 * RandomAccess / GUPS), with the hot set of HeMem's GUPS (Raybuck et al.,
 * "HeMem: Scalable Tiered Memory Management for Big Data Applications and Real
 * NVM", SOSP 2021; microbenchmarks/gups.c in github.com/cuhk-mass/hemem).
 *
 * In HeMem's gups.c each round does 8 to 11 updates (lfsr % 4 + 8, 9.5 on
 * average) inside the hot set and then one update anywhere in the region, so
 * 9.5/10.5 = 0.905 of the updates target the hot set: hence hotShare = 0.9.
 * HeMem's run.sh sweeps the hot set from 2^30 to 2^38 bytes of a 2^39-byte
 * region; the default hotFraction = 1/8 (2^36 of 2^39) sits in that sweep.
 * hotFraction = 0 gives classic uniform GUPS. HeMem's hot set is contiguous at
 * the start of the region; here it is scattered over the region by default
 * (hotLayout=scattered) so that first-touch placement does not get it into DRAM
 * by accident; hotLayout=contiguous reproduces HeMem's layout.
 *
 * One operation = one update: a read of the element's line, then its write
 * (the write-back of the dirtied line): accessesPerOp = 2 (a read then writes).
 * CPU per update: 5 ns (an xorshift step and an 8-byte copy).
 *
 * Lines: the element is 8 B at a random place in its page, so the update
 * reads one line and later writes that line back (the store hits the line the
 * load brought in: a write-back only, no second miss).
 */
import { WRITE_BACK_ONLY, type Workload, type WorkloadSpec } from './workload.js';
import { Params, checkOutput, checkPageCount, costParams, type ParamSpec } from './params.js';
import { randomPermutation } from './permutation.js';
import { Prng } from './prng.js';

export const GUPS_PARAMS: readonly ParamSpec[] = [
  { name: 'hotFraction', default: 0.125, min: 0, max: 1, description: 'fraction of the region in the hot set (0: uniform GUPS; HeMem sweeps 2^-9..2^-1)' },
  { name: 'hotShare', default: 0.9, min: 0, max: 1, description: "share of updates inside the hot set (HeMem gups.c: 9.5 of 10.5)" },
  { name: 'hotLayout', default: 'scattered', choices: ['scattered', 'contiguous'], description: 'hot pages scattered over the region, or contiguous at its start as in HeMem' },
  ...costParams(5, 2),
];

export class GupsWorkload implements Workload {
  readonly name = 'gups';
  readonly pageCount: number;
  readonly cpuNsPerOp: number;
  readonly accessesPerOp: number;
  readonly hotPages: number;
  readonly hotShare: number;
  /** The hot set's pages; building them shuffles a permutation of every page (4 bytes each). */
  readonly stateBytes: number;
  private readonly rng: Prng;
  /** Hot-set slot -> page; null when the hot set is the contiguous prefix. */
  private readonly hotPage: Uint32Array | null;

  constructor(spec: WorkloadSpec) {
    const p = new Params('gups', GUPS_PARAMS, spec.params);
    checkPageCount('gups', spec.pageCount, 1);
    this.pageCount = spec.pageCount;
    this.cpuNsPerOp = p.num('cpuNsPerOp');
    this.accessesPerOp = p.num('accessesPerOp');
    const hotFraction = p.num('hotFraction');
    this.hotPages = hotFraction === 0 ? 0 : Math.max(1, Math.round(hotFraction * spec.pageCount));
    this.hotShare = this.hotPages === 0 ? 0 : p.num('hotShare');
    const scattered = p.str('hotLayout') === 'scattered' && this.hotPages > 0 && this.hotPages < spec.pageCount;
    this.hotPage = scattered ? randomPermutation(spec.pageCount, new Prng(spec.seed, 1)).slice(0, this.hotPages) : null;
    this.rng = new Prng(spec.seed, 0);
    this.stateBytes = this.hotPage === null ? 0 : 4 * spec.pageCount;
  }

  /** True if `page` is in the hot set (O(hot pages); for tests and reports). */
  isHot(page: number): boolean {
    if (this.hotPage === null) return page < this.hotPages;
    return this.hotPage.includes(page);
  }

  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out, lines);
    const rng = this.rng;
    const per = this.accessesPerOp;
    const hotPages = this.hotPages;
    const hotPage = this.hotPage;
    const pageCount = this.pageCount;
    const hotThreshold = this.hotShare * 2 ** 32;
    const writeBack = WRITE_BACK_ONLY;
    const state = rng.state;
    let s0 = state[0]! | 0;
    let s1 = state[1]! | 0;
    let s2 = state[2]! | 0;
    let s3 = state[3]! | 0;
    let o = 0;
    for (let i = 0; i < ops; i++) {
      // Two draws per operation, xoshiro128** inline (Prng.fillU32's steps, the state in locals).
      let m = Math.imul(s1, 5);
      const first = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const second = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      let page: number;
      let line: number;
      if (hotPages > 0) {
        // The first draw: hot or not, and the element's line (one line: lineSpan(line, 1) = line); the second: the page.
        line = first & 63;
        if (first < hotThreshold) {
          const slot = Math.floor(second * 2.3283064365386963e-10 * hotPages);
          page = hotPage === null ? slot : hotPage[slot]!;
        } else page = Math.floor(second * 2.3283064365386963e-10 * pageCount);
      } else {
        page = Math.floor(first * 2.3283064365386963e-10 * pageCount);
        line = second & 63;
      }
      const read = (page << 1) >>> 0;
      out[o] = read;
      lines[o++] = line;
      for (let a = 1; a < per; a++) {
        out[o] = read | 1;
        lines[o++] = line | writeBack;
      }
    }
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = s3;
  }
}
