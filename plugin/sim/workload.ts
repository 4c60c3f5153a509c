/**
 * A workload of the simulated machine: a deterministic stream of operations,
 * each costing CPU time plus one memory access per page it touches (an access
 * here is one last-level-cache miss that reaches a memory tier).
 *
 * Streams depend only on (seed, position in the stream), never on time, so the
 * same seed gives every policy exactly the same accesses; a phase change happens
 * after a number of operations, as it does in a real program.
 */

/** One access encoded in a Uint32: page index << 1 | 1 if it is a write. */
export const encodeAccess = (page: number, write: boolean): number => ((page << 1) | (write ? 1 : 0)) >>> 0;
export const accessPage = (access: number): number => access >>> 1;
export const accessIsWrite = (access: number): boolean => (access & 1) === 1;

export interface Workload {
  /** Short name for tables ("kv-zipf", "gups", "trace:foo"). */
  readonly name: string;
  /** Pages of guest memory the workload uses (its footprint); page indices are 0 .. pageCount-1. */
  readonly pageCount: number;
  /** CPU time of one operation that is not spent waiting on memory, in ns. */
  readonly cpuNsPerOp: number;
  /** Memory accesses (LLC misses) per operation. */
  readonly accessesPerOp: number;
  /**
   * Writes the accesses of the next `ops` operations into `out`
   * (ops * accessesPerOp entries, encoded with encodeAccess) and advances the stream.
   */
  nextOps(ops: number, out: Uint32Array): void;
}

/** How a workload is named on the command line and in reports. */
export interface WorkloadSpec {
  readonly kind: string;
  readonly pageCount: number;
  readonly seed: number;
  /** Workload-specific knobs (e.g. theta, hotFraction, trace path). */
  readonly params?: Readonly<Record<string, string | number>>;
}
