/**
 * Simulator throughput for bench/run.ts: page accesses simulated per second of
 * wall time. Runs the default four-VM co-run (kv-zipf, gups, scan, phase) under
 * the unmanaged policy, so the figure is the simulator's own cost per access
 * (workload generation included, engine excluded).
 */
import { SimMachine } from '../plugin/sim/machine/machine.js';
import { unmanagedPolicy } from '../plugin/sim/policies/unmanaged.js';
import { tierPreset } from '../plugin/sim/machine/tiers.js';
import { DEFAULT_WORKLOADS, makeWorkload } from '../plugin/sim/workloads/index.js';

export interface SimThroughput {
  readonly vmPages: number;
  readonly simulatedSeconds: number;
  readonly simulatedAccesses: number;
  readonly wallSeconds: number;
  readonly accessesPerSecond: number;
  readonly nsPerAccess: number;
}

export async function measureSimThroughput(vmPages = 1 << 16, simulatedNs = 500e6): Promise<SimThroughput> {
  const vms = DEFAULT_WORKLOADS.map((kind, i) => ({
    name: `vm${i}`,
    workload: makeWorkload({ kind, pageCount: vmPages, seed: i + 1 }),
    pageCount: vmPages,
    vcpus: 2,
    dramQuotaPages: vmPages / 4,
  }));
  const machine = new SimMachine(
    { preset: tierPreset('optane'), dramPages: vmPages, nvmPages: 4 * vmPages, vms, trafficScale: 8 },
    unmanagedPolicy,
  );
  const start = process.hrtime.bigint();
  const result = await machine.run(simulatedNs);
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const simulatedAccesses = result.vms.reduce((s, vm) => s + vm.accesses, 0);
  return {
    vmPages,
    simulatedSeconds: simulatedNs / 1e9,
    simulatedAccesses,
    wallSeconds,
    accessesPerSecond: simulatedAccesses / wallSeconds,
    nsPerAccess: (wallSeconds * 1e9) / simulatedAccesses,
  };
}
