/**
 * scan: sequential scans over a hot window that moves through memory, plus a
 * background full scan (a streaming/analytics job whose working set drifts,
 * e.g. a sliding time window over a log).
 *
 * A window of windowFraction of the pages is scanned page by page, over and
 * over; after each pass it slides forward by stepFraction of its size
 * (wrapping at the end of memory), so pages enter the hot set at the front and
 * cool down at the back. With the default 1/50, a page stays in the window
 * for 50 passes: about 0.8 s of a 256 Ki-page VM on DRAM, a few monitoring
 * windows, so a tracker can follow the window but must keep moving pages. A coldShare of the operations instead read the next
 * page of a full scan over all pages.
 *
 * One operation = processing one 4 KiB page: accessesPerOp = 4 demand misses
 * that the hardware stream prefetcher does not hide (it hides most of the 64
 * lines of a sequentially read page), 200 ns of CPU (about 3 ns per 64-byte
 * line). Scans only read unless writeShare > 0 (in-place updates of the
 * whole page: every access of that operation writes).
 *
 * Lines: each demand miss brings in its share of the page's 64 lines with
 * the prefetched ones (16 lines per access at the default 4), so a scanned
 * page moves all 64 lines.
 */
import { LINES_PER_PAGE, lineSpan, type Workload, type WorkloadSpec } from './workload.js';
import { Params, checkOutput, checkPageCount, costParams, type ParamSpec } from './params.js';
import { Prng } from './prng.js';

export const SCAN_PARAMS: readonly ParamSpec[] = [
  { name: 'windowFraction', default: 0.1, min: 0.0001, max: 1, description: 'size of the hot window as a fraction of the pages' },
  { name: 'stepFraction', default: 0.02, min: 0, max: 1, description: 'how far the window slides after each pass, as a fraction of its size' },
  { name: 'coldShare', default: 0.1, min: 0, max: 1, description: 'share of operations that read the next page of a full scan' },
  { name: 'writeShare', default: 0, min: 0, max: 1, description: 'share of operations that also write the page they scan' },
  ...costParams(200, 4),
];

export class ScanWorkload implements Workload {
  readonly name = 'scan';
  readonly pageCount: number;
  readonly cpuNsPerOp: number;
  readonly accessesPerOp: number;
  readonly windowPages: number;
  readonly stepPages: number;
  private readonly coldShare: number;
  private readonly writeShare: number;
  private readonly rng: Prng;
  /** Line descriptor of each access of an operation: its share of the page. */
  private readonly chunks: Uint16Array;
  /** First page of the window, position inside it, and the full-scan cursor. */
  private windowStart = 0;
  private windowPos = 0;
  private coldCursor = 0;

  constructor(spec: WorkloadSpec) {
    const p = new Params('scan', SCAN_PARAMS, spec.params);
    checkPageCount('scan', spec.pageCount, 1);
    this.pageCount = spec.pageCount;
    this.cpuNsPerOp = p.num('cpuNsPerOp');
    this.accessesPerOp = p.num('accessesPerOp');
    this.windowPages = Math.max(1, Math.round(p.num('windowFraction') * spec.pageCount));
    this.stepPages = Math.round(p.num('stepFraction') * this.windowPages);
    this.coldShare = p.num('coldShare');
    this.writeShare = p.num('writeShare');
    this.rng = new Prng(spec.seed, 0);
    // The window and the full scan start at seeded places, not both at page 0.
    this.windowStart = new Prng(spec.seed, 1).nextBelow(spec.pageCount);
    this.coldCursor = new Prng(spec.seed, 2).nextBelow(spec.pageCount);
    this.chunks = new Uint16Array(this.accessesPerOp);
    for (let a = 0; a < this.accessesPerOp; a++) {
      const first = Math.floor((a * LINES_PER_PAGE) / this.accessesPerOp);
      const next = Math.floor(((a + 1) * LINES_PER_PAGE) / this.accessesPerOp);
      this.chunks[a] = lineSpan(first, next - first);
    }
  }

  /** First page of the hot window now (it wraps at pageCount). */
  get currentWindowStart(): number {
    return this.windowStart;
  }

  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out, lines);
    const chunks = this.chunks;
    const n = this.pageCount | 0;
    const per = this.accessesPerOp | 0;
    const windowPages = this.windowPages | 0;
    const stepPages = this.stepPages | 0;
    // Prng.nextFloat() < share, as a threshold on the 32-bit draw (d * 2^-32 < share <=> d < share * 2^32, exactly).
    const coldShare = this.coldShare;
    const coldThreshold = coldShare * 2 ** 32;
    const writeShare = this.writeShare;
    const writeThreshold = writeShare * 2 ** 32;
    let windowStart = this.windowStart | 0;
    let windowPos = this.windowPos | 0;
    let coldCursor = this.coldCursor | 0;
    // xoshiro128** inline (Prng.fillU32's steps, the state in locals), one draw per test as Prng.nextFloat made it.
    const state = this.rng.state;
    let s0 = state[0]! | 0;
    let s1 = state[1]! | 0;
    let s2 = state[2]! | 0;
    let s3 = state[3]! | 0;
    let o = 0;
    for (let i = 0; i < ops; i++) {
      let page: number;
      let cold = false;
      if (coldShare > 0) {
        const m = Math.imul(s1, 5);
        const draw = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        cold = draw < coldThreshold;
      }
      if (cold) {
        page = coldCursor;
        coldCursor = page + 1 === n ? 0 : page + 1;
      } else {
        page = windowStart + windowPos;
        if (page >= n) page -= n;
        if (++windowPos === windowPages) {
          windowPos = 0;
          windowStart = (windowStart + stepPages) % n;
        }
      }
      let write = 0;
      if (writeShare > 0) {
        const m = Math.imul(s1, 5);
        const draw = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        write = draw < writeThreshold ? 1 : 0;
      }
      const access = ((page << 1) | write) >>> 0;
      for (let a = 0; a < per; a++) {
        out[o] = access;
        lines[o++] = chunks[a]!;
      }
    }
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = s3;
    this.windowStart = windowStart;
    this.windowPos = windowPos;
    this.coldCursor = coldCursor;
  }
}
