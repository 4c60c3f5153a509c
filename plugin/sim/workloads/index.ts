/**
 * The workloads of the simulated machine, by kind: createWorkload(spec) builds
 * one, WORKLOAD_KINDS lists them (with one-line descriptions and their
 * parameters) for --help and docs.
 */
import type { Workload, WorkloadSpec } from './workload.js';
import { TRACE_PARAMS, createTraceWorkload } from './trace-replay.js';
import { GRAPH_PARAMS, GraphWorkload } from './graph.js';
import { GUPS_PARAMS, GupsWorkload } from './gups.js';
import { KV_ZIPF_PARAMS, KvZipfWorkload } from './kv-zipf.js';
import type { ParamSpec } from './params.js';
import { PHASE_PARAMS, PhaseWorkload } from './phase.js';
import { RESIZE_PARAMS, ResizeWorkload } from './resize.js';
import { SCAN_PARAMS, ScanWorkload } from './scan.js';

export interface WorkloadKind {
  /** As written on the command line; 'trace:<file>' takes the file after the colon. */
  readonly kind: string;
  readonly description: string;
  readonly params: readonly ParamSpec[];
}

export const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  { kind: 'kv-zipf', description: 'YCSB-A-like key-value store: 50% reads / 50% updates, Zipfian keys (80% of accesses to 20% of records), scattered', params: KV_ZIPF_PARAMS },
  { kind: 'gups', description: "random read-modify-write updates (GUPS) with HeMem's hot set: 90% of updates to 1/8 of memory", params: GUPS_PARAMS },
  { kind: 'scan', description: 'sequential scans of a hot window that slides through memory, plus a background full scan', params: SCAN_PARAMS },
  { kind: 'phase', description: 'a scattered hot set (10% of pages, 90% of accesses) replaced by a disjoint one every phaseOps operations', params: PHASE_PARAMS },
  { kind: 'resize', description: 'a scattered hot set that grows or shrinks once (5% -> 40% of pages by default) after phaseOps operations', params: RESIZE_PARAMS },
  { kind: 'graph', description: 'random walk on a power-law (Chung-Lu) graph in CSR layout: vertex pages and edge-list pages', params: GRAPH_PARAMS },
  { kind: 'trace:<file>', description: 'replay of a trace file (docs/trace-format.md), epochs in order, starting over at the end', params: TRACE_PARAMS },
];

/** The default co-run: four VMs, four different access patterns. */
export const DEFAULT_WORKLOADS: readonly string[] = ['kv-zipf', 'gups', 'scan', 'phase'];

/** createWorkload for a VM of `spec.pageCount` pages (a positive integer; trace replay alone takes 0 = the trace's footprint). */
export function makeWorkload(spec: WorkloadSpec): Workload {
  if (!Number.isInteger(spec.pageCount) || spec.pageCount <= 0) {
    throw new Error(`workload ${spec.kind}: page count must be a positive integer, got ${spec.pageCount}`);
  }
  return createWorkload(spec);
}

/** Builds the workload named by `spec.kind`; an unknown kind is an error listing the known ones. */
export function createWorkload(spec: WorkloadSpec): Workload {
  if (!Number.isFinite(spec.seed)) throw new Error(`workload ${spec.kind}: seed must be a finite number, got ${spec.seed}`);
  switch (spec.kind) {
    case 'kv-zipf':
      return new KvZipfWorkload(spec);
    case 'gups':
      return new GupsWorkload(spec);
    case 'scan':
      return new ScanWorkload(spec);
    case 'phase':
      return new PhaseWorkload(spec);
    case 'graph':
      return new GraphWorkload(spec);
    case 'resize':
      return new ResizeWorkload(spec);
    default:
      if (spec.kind === 'trace' || spec.kind.startsWith('trace:')) return createTraceWorkload(spec);
      throw new Error(`unknown workload '${spec.kind}' (known: ${WORKLOAD_KINDS.map((k) => k.kind).join(', ')})`);
  }
}

/** One line per kind, for --help texts. */
export function describeWorkloadKinds(): string {
  const width = Math.max(...WORKLOAD_KINDS.map((k) => k.kind.length));
  return WORKLOAD_KINDS.map((k) => `  ${k.kind.padEnd(width)}  ${k.description}`).join('\n');
}
