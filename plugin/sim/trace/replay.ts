/**
 * trace:<file> — replays a trace as a workload. Epochs are played in order and
 * the trace starts over after the last one (a program run again). Within an
 * epoch, the format keeps only counts per page, so the epoch's accesses
 * (each page's reads and writes) are played in a seeded random order: the
 * stream depends on the seed and the position only.
 *
 * One operation = accesses_per_op accesses (header, default 1). CPU per
 * operation: the header's cpu_ns_per_op (the lackey converter derives it from
 * the instruction count), else 50 ns.
 */
import { encodeAccess, type Workload, type WorkloadSpec } from '../workload.js';
import { Params, checkOutput, type ParamSpec } from '../workloads/params.js';
import { Prng } from '../workloads/prng.js';
import { readTraceFile } from './reader.js';
import type { TraceData } from './trace-data.js';

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
  private readonly rng: Prng;
  /** The current epoch's accesses in play order, and the next one to play. */
  private buffer: Uint32Array;
  private bufferLength = 0;
  private bufferPos = 0;
  private nextEpoch = 0;

  constructor(readonly trace: TraceData, spec: WorkloadSpec, params: Params) {
    if (trace.totalAccesses === 0) throw new Error(`trace ${trace.header.name}: the trace has no accesses to replay`);
    this.name = `trace:${trace.header.name}`;
    if (spec.pageCount > 0 && spec.pageCount < trace.pageCount) {
      throw new Error(`workload ${this.name}: pageCount ${spec.pageCount} is smaller than the trace's footprint of ${trace.pageCount} pages`);
    }
    this.pageCount = Math.max(spec.pageCount, trace.pageCount);
    this.cpuNsPerOp = params.optionalNum('cpuNsPerOp') ?? trace.header.cpu_ns_per_op ?? DEFAULT_TRACE_CPU_NS_PER_OP;
    this.accessesPerOp = params.optionalNum('accessesPerOp') ?? trace.header.accesses_per_op ?? 1;
    let largest = 0;
    for (let e = 0; e < trace.epochCount; e++) largest = Math.max(largest, this.epochAccesses(e));
    this.buffer = new Uint32Array(largest);
    this.rng = new Prng(spec.seed, 0);
  }

  nextOps(ops: number, out: Uint32Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out);
    const need = ops * this.accessesPerOp;
    let o = 0;
    while (o < need) {
      if (this.bufferPos === this.bufferLength) this.loadNextEpoch();
      const n = Math.min(need - o, this.bufferLength - this.bufferPos);
      out.set(this.buffer.subarray(this.bufferPos, this.bufferPos + n), o);
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

  /** Expands the next non-empty epoch into the buffer and shuffles it (Fisher-Yates). */
  private loadNextEpoch(): void {
    const t = this.trace;
    let len = 0;
    do {
      if (this.nextEpoch === t.epochCount) this.nextEpoch = 0;
      const e = this.nextEpoch++;
      const buf = this.buffer;
      len = 0;
      for (let i = t.epochStart[e]!; i < t.epochStart[e + 1]!; i++) {
        const readAccess = encodeAccess(t.page[i]!, false);
        const writeAccess = encodeAccess(t.page[i]!, true);
        for (let r = t.reads[i]!; r > 0; r--) buf[len++] = readAccess;
        for (let w = t.writes[i]!; w > 0; w--) buf[len++] = writeAccess;
      }
    } while (len === 0);
    const buf = this.buffer;
    const rng = this.rng;
    for (let i = len - 1; i > 0; i--) {
      const j = rng.nextBelow(i + 1);
      const x = buf[i]!;
      buf[i] = buf[j]!;
      buf[j] = x;
    }
    this.bufferLength = len;
    this.bufferPos = 0;
  }
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
