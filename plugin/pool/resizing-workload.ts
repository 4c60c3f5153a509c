/**
 * resize: a workload whose hot set changes size after a number of operations,
 * for the pool's co-run phase where one VM's hot set grows while another's
 * shrinks (`hotFraction` for the first `phaseOps` operations, then
 * `hotFractionAfter`). hotShare of the accesses go uniformly to the hot set,
 * the rest uniformly to all pages; the hot set is the first pages of a seeded
 * scatter (a multiplicative permutation), so a grown hot set contains the old
 * one. Deterministic in (seed, position in the stream), like every workload.
 * (Belongs with the simulator's workloads once both areas are merged.)
 */
import { encodeAccess, type Workload, type WorkloadSpec } from '../sim/workload.js';

const num = (spec: WorkloadSpec, name: string, def: number, min: number, max: number): number => {
  const raw = spec.params?.[name];
  const v = raw === undefined ? def : Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`resize: parameter ${name} must be a number in [${min}, ${max}], got ${String(raw)}`);
  return v;
};

export const RESIZE_DEFAULTS = { hotFraction: 0.05, hotFractionAfter: 0.4, hotShare: 0.9, phaseOps: 4_000_000, writeShare: 0.3 } as const;

export class ResizingWorkload implements Workload {
  readonly name = 'resize';
  readonly pageCount: number;
  readonly cpuNsPerOp = 100;
  readonly accessesPerOp = 2;
  readonly hotBefore: number;
  readonly hotAfter: number;
  readonly phaseOps: number;
  private readonly hotShare: number;
  private readonly writeShare: number;
  private readonly stride: number;
  private state: number;
  private opIndex = 0;

  constructor(spec: WorkloadSpec) {
    if (!Number.isInteger(spec.pageCount) || spec.pageCount < 2) throw new Error(`resize: pageCount must be an integer >= 2, got ${spec.pageCount}`);
    this.pageCount = spec.pageCount;
    this.hotBefore = Math.max(1, Math.round(num(spec, 'hotFraction', RESIZE_DEFAULTS.hotFraction, 0.0001, 1) * spec.pageCount));
    this.hotAfter = Math.max(1, Math.round(num(spec, 'hotFractionAfter', RESIZE_DEFAULTS.hotFractionAfter, 0.0001, 1) * spec.pageCount));
    this.hotShare = num(spec, 'hotShare', RESIZE_DEFAULTS.hotShare, 0, 1);
    this.phaseOps = Math.floor(num(spec, 'phaseOps', RESIZE_DEFAULTS.phaseOps, 1, Number.MAX_SAFE_INTEGER));
    this.writeShare = num(spec, 'writeShare', RESIZE_DEFAULTS.writeShare, 0, 1);
    // An odd-ish stride coprime with pageCount scatters slot i to page (i * stride) % pageCount.
    let stride = Math.floor(spec.pageCount * 0.6180339887) | 1;
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
    while (gcd(stride, spec.pageCount) !== 1) stride += 2;
    this.stride = stride;
    this.state = (spec.seed ^ 0x9e3779b9) >>> 0 || 1;
  }

  /** Hot pages at operation `op`. */
  hotPagesAt(op: number): number {
    return op < this.phaseOps ? this.hotBefore : this.hotAfter;
  }

  /** Page of hot slot i (the scatter). */
  hotPage(i: number): number {
    return (i * this.stride) % this.pageCount;
  }

  private next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 4294967296;
  }

  nextOps(ops: number, out: Uint32Array): void {
    if (out.length < ops * this.accessesPerOp) throw new Error(`resize: output holds ${out.length} accesses, ${ops * this.accessesPerOp} needed`);
    let o = 0;
    for (let k = 0; k < ops; k++, this.opIndex++) {
      const hot = this.hotPagesAt(this.opIndex);
      for (let a = 0; a < this.accessesPerOp; a++) {
        const page = this.next() < this.hotShare ? this.hotPage(Math.floor(this.next() * hot)) : Math.floor(this.next() * this.pageCount);
        out[o++] = encodeAccess(page, this.next() < this.writeShare);
      }
    }
  }
}
