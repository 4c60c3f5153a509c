/** Where `hmmv sim` gets its workloads: the generators of plugin/sim/workloads/. */
import { createWorkload } from './workloads/index.js';
import type { Workload, WorkloadSpec } from './workload.js';

export function makeWorkload(spec: WorkloadSpec): Workload {
  if (!Number.isInteger(spec.pageCount) || spec.pageCount <= 0) {
    throw new Error(`workload ${spec.kind}: page count must be a positive integer, got ${spec.pageCount}`);
  }
  return createWorkload(spec);
}

/** The default co-run: four VMs, four different access patterns. */
export const DEFAULT_WORKLOADS: readonly string[] = ['kv-zipf', 'gups', 'scan', 'phase'];
