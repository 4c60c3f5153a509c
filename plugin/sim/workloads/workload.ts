/**
 * A workload of the simulated machine: a deterministic stream of operations,
 * each costing CPU time plus a few memory accesses (an access here is one
 * last-level-cache miss that reaches a memory tier, or the write-back of a
 * line the operation dirtied).
 *
 * Every access names its page (what page-level policies see: accessed and
 * dirty bits, migrations) and the 64 B lines of that page it moves (what the
 * memory devices see: Memory Mode's line cache, Optane's 256 B media
 * granularity, bandwidth). The line descriptor says "lines [first, first +
 * count) of the page", e.g. one line for a random 8 B update, 16 for a 1 KB
 * record, 16 per access for a prefetched page scan; its WRITE_BACK_ONLY flag
 * marks the write-back of a line the operation already read (no demand miss,
 * no latency: the store hit the CPU cache, only the eviction reaches memory).
 *
 * Streams depend only on (seed, position in the stream), never on time, so the
 * same seed gives every policy exactly the same accesses; a phase change happens
 * after a number of operations, as it does in a real program.
 */

/** One access encoded in a Uint32: page index << 1 | 1 if it is a write. */
export const encodeAccess = (page: number, write: boolean): number => ((page << 1) | (write ? 1 : 0)) >>> 0;
export const accessPage = (access: number): number => access >>> 1;
export const accessIsWrite = (access: number): boolean => (access & 1) === 1;

/** 64 B cache lines in a 4 KiB page. */
export const LINES_PER_PAGE = 64;
/** Bytes per cache line. */
export const LINE_BYTES = 64;
/** Descriptor flag: the write-back of a line already read by this operation (no demand read, no latency). */
export const WRITE_BACK_ONLY = 1 << 12;
/** Descriptors are below this (13 bits); tables indexed by descriptor have this many entries. */
export const LINE_DESCRIPTORS = 1 << 13;

/**
 * The line descriptor of an access to lines [first, first + count) of its
 * page (0 <= first < 64, 1 <= count <= 64 - first), stored in a Uint16.
 */
export const lineSpan = (first: number, count: number): number => (first | ((count - 1) << 6)) & 0xfff;
/** The same lines, as the write-back of lines this operation already read. */
export const writeBackSpan = (first: number, count: number): number => lineSpan(first, count) | WRITE_BACK_ONLY;
export const spanFirstLine = (d: number): number => d & 63;
/** Lines moved, clipped at the end of the page. */
export const spanLineCount = (d: number): number => Math.min(((d >>> 6) & 63) + 1, LINES_PER_PAGE - (d & 63));
export const isWriteBackOnly = (d: number): boolean => (d & WRITE_BACK_ONLY) !== 0;

/** A whole page touched by one access (e.g. a copy, or a trace access without line data). */
export const WHOLE_PAGE = lineSpan(0, LINES_PER_PAGE);

export interface Workload {
  /** Short name for tables ("kv-zipf", "gups", "trace:foo"). */
  readonly name: string;
  /** Pages of guest memory the workload uses (its footprint); page indices are 0 .. pageCount-1. */
  readonly pageCount: number;
  /** CPU time of one operation that is not spent waiting on memory, in ns. */
  readonly cpuNsPerOp: number;
  /** Memory accesses (LLC misses and write-backs) per operation. */
  readonly accessesPerOp: number;
  /** Bytes of typed arrays the workload holds (its tables), for the machine's memory estimate; absent: negligible. */
  readonly stateBytes?: number;
  /**
   * Writes the accesses of the next `ops` operations into `out` (ops *
   * accessesPerOp entries, encoded with encodeAccess) and their line
   * descriptors into `lines` (same positions, lineSpan / writeBackSpan), and
   * advances the stream.
   */
  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void;
}

/** How a workload is named on the command line and in reports. */
export interface WorkloadSpec {
  readonly kind: string;
  readonly pageCount: number;
  readonly seed: number;
  /** Workload-specific knobs (e.g. theta, hotFraction, trace path). */
  readonly params?: Readonly<Record<string, string | number>>;
}
