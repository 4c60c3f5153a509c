/**
 * trace:<file> — replays a trace as a workload. Epochs are played in order and
 * the trace starts over after the last one (a program run again). Within an
 * epoch, the format keeps only counts per page, so the epoch's accesses
 * (each page's reads and writes) are played in a seeded random order: the
 * stream depends on the seed and the position only.
 *
 * Pages: a sparse trace (some page below the largest is never touched, e.g.
 * pages 0-199 plus page 0x1ffe000 as recorded from a program's addresses) is
 * renumbered densely in address order on load, so the VM is as large as the
 * pages the program touched, not as its address span; `renumberedFrom` keeps
 * the span. Cost: one sort of the trace's entries, O(n log n).
 *
 * Lines: each access moves one 64 B line. A page that an epoch touched in L
 * distinct lines (the trace's line count, line_size=64) has its accesses
 * spread round-robin over L consecutive lines from a per-page offset. A trace
 * without line counts is taken to touch a new line with every access, up to
 * all 64 (L = min(64, accesses of the page in the epoch)): no reuse of a line
 * within an epoch, the least locality the counts allow.
 *
 * One operation = accesses_per_op accesses (header, default 1). CPU per
 * operation: the header's cpu_ns_per_op (the lackey converter derives it from
 * the instruction count), else 50 ns.
 */
import { LINES_PER_PAGE, encodeAccess, type Workload, type WorkloadSpec } from './workload.js';
import { Params, checkOutput, type ParamSpec } from './params.js';
import { Prng } from './prng.js';
import { readTraceFile } from '../trace/reader.js';
import type { TraceData } from '../trace/trace-data.js';

export const TRACE_PARAMS: readonly ParamSpec[] = [
  { name: 'file', text: true, description: "trace file (also given as the kind 'trace:<file>')" },
  { name: 'cpuNsPerOp', min: 0, description: "CPU time per operation in ns (default: the header's cpu_ns_per_op, else 50)" },
  { name: 'accessesPerOp', min: 1, max: 64, integer: true, description: "accesses per operation (default: the header's accesses_per_op, else 1)" },
];

export const DEFAULT_TRACE_CPU_NS_PER_OP = 50;

export class TraceReplayWorkload implements Workload {
  readonly name: string;
  readonly pageCount: number;
  readonly cpuNsPerOp: number;
  readonly accessesPerOp: number;
  /** Pages the trace touches (its dense footprint). */
  readonly touchedPages: number;
  /** The trace's page span before renumbering, if it was sparse; undefined if dense. */
  readonly renumberedFrom: number | undefined;
  /** The trace's arrays, the renumbered pages and the epoch buffers. */
  readonly stateBytes: number;
  private readonly rng: Prng;
  /** Page of each trace entry after renumbering (the trace's own array when dense). */
  private readonly page: Uint32Array;
  /** The current epoch's accesses and line descriptors in play order, and the next one to play. */
  private buffer: Uint32Array;
  private lineBuffer: Uint16Array;
  private bufferLength = 0;
  private bufferPos = 0;
  private nextEpoch = 0;

  constructor(readonly trace: TraceData, spec: WorkloadSpec, params: Params) {
    if (trace.totalAccesses === 0) throw new Error(`trace ${trace.header.name}: the trace has no accesses to replay`);
    this.name = `trace:${trace.header.name}`;
    const dense = densePages(trace.page);
    this.touchedPages = dense.count;
    if (dense.count < trace.pageCount) {
      this.page = dense.page;
      this.renumberedFrom = trace.pageCount;
    } else {
      this.page = trace.page;
      this.renumberedFrom = undefined;
    }
    if (spec.pageCount > 0 && spec.pageCount < this.touchedPages) {
      throw new Error(`workload ${this.name}: pageCount ${spec.pageCount} is smaller than the trace's footprint of ${this.touchedPages} pages`);
    }
    this.pageCount = Math.max(spec.pageCount, this.touchedPages);
    this.cpuNsPerOp = params.optionalNum('cpuNsPerOp') ?? trace.header.cpu_ns_per_op ?? DEFAULT_TRACE_CPU_NS_PER_OP;
    this.accessesPerOp = params.optionalNum('accessesPerOp') ?? trace.header.accesses_per_op ?? 1;
    let largest = 0;
    for (let e = 0; e < trace.epochCount; e++) largest = Math.max(largest, this.epochAccesses(e));
    this.buffer = new Uint32Array(largest);
    this.lineBuffer = new Uint16Array(largest);
    const entries = trace.page.length;
    this.stateBytes = entries * (12 + (trace.lines ? 1 : 0) + (this.page === trace.page ? 0 : 4)) + 6 * largest;
    this.rng = new Prng(spec.seed, 0);
  }

  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out, lines);
    const need = ops * this.accessesPerOp;
    let o = 0;
    while (o < need) {
      if (this.bufferPos === this.bufferLength) this.loadNextEpoch();
      const n = Math.min(need - o, this.bufferLength - this.bufferPos);
      out.set(this.buffer.subarray(this.bufferPos, this.bufferPos + n), o);
      lines.set(this.lineBuffer.subarray(this.bufferPos, this.bufferPos + n), o);
      this.bufferPos += n;
      o += n;
    }
  }

  private epochAccesses(e: number): number {
    const t = this.trace;
    let sum = 0;
    for (let i = t.epochStart[e]!; i < t.epochStart[e + 1]!; i++) sum += t.reads[i]! + t.writes[i]!;
    return sum;
  }

  /** Expands the next non-empty epoch into the buffers and shuffles them together (Fisher-Yates). */
  private loadNextEpoch(): void {
    const t = this.trace;
    const buf = this.buffer;
    const lineBuf = this.lineBuffer;
    let len = 0;
    do {
      if (this.nextEpoch === t.epochCount) this.nextEpoch = 0;
      const e = this.nextEpoch++;
      len = 0;
      for (let i = t.epochStart[e]!; i < t.epochStart[e + 1]!; i++) {
        const page = this.page[i]!;
        const reads = t.reads[i]!;
        const accesses = reads + t.writes[i]!;
        const distinct = t.lines?.[i] ?? Math.min(LINES_PER_PAGE, accesses);
        // The page's lines: `distinct` consecutive ones from an offset fixed by the page number.
        const offset = Math.imul(page, 0x9e3779b1) >>> 26;
        for (let k = 0; k < accesses; k++) {
          buf[len] = encodeAccess(page, k >= reads);
          lineBuf[len++] = (offset + (k % distinct)) & (LINES_PER_PAGE - 1);
        }
      }
    } while (len === 0);
    const rng = this.rng;
    for (let i = len - 1; i > 0; i--) {
      const j = rng.nextBelow(i + 1);
      const x = buf[i]!;
      buf[i] = buf[j]!;
      buf[j] = x;
      const l = lineBuf[i]!;
      lineBuf[i] = lineBuf[j]!;
      lineBuf[j] = l;
    }
    this.bufferLength = len;
    this.bufferPos = 0;
  }
}

/**
 * The pages of `page` renumbered densely in increasing order (address order
 * for a trace made from addresses): the rank of each entry's page among the
 * distinct pages, and how many distinct pages there are.
 */
export function densePages(page: Uint32Array): { page: Uint32Array; count: number } {
  const sorted = page.slice().sort();
  let count = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[count++] = sorted[i]!;
  const distinct = sorted.subarray(0, count);
  const out = new Uint32Array(page.length);
  for (let i = 0; i < page.length; i++) {
    // Binary search for the entry's page among the distinct ones.
    const p = page[i]!;
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (distinct[mid]! < p) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return { page: out, count };
}

/** Builds the replay workload for `trace:<file>` (or kind 'trace' with params.file). */
export function createTraceWorkload(spec: WorkloadSpec): TraceReplayWorkload {
  const p = new Params(spec.kind, TRACE_PARAMS, spec.params);
  const fromKind = spec.kind.startsWith('trace:') ? spec.kind.slice('trace:'.length) : '';
  const fromParams = spec.params?.['file'];
  const file = fromKind || (fromParams === undefined ? '' : String(fromParams));
  if (!file) throw new Error(`workload ${spec.kind}: name the trace file as 'trace:<file>'`);
  return new TraceReplayWorkload(readTraceFile(file), spec, p);
}
