/**
 * Simulator throughput: page accesses simulated per second of wall time, for
 * bench/run.ts. Runs the four-VM machine under the unmanaged policy (no engine
 * work) so the figure is the simulator's own cost per access.
 */
import { SimMachine } from '../plugin/sim/machine.js';
import { unmanagedPolicy } from '../plugin/sim/policies/unmanaged.js';
import { tierPreset } from '../plugin/sim/tiers.js';
import { hotColdWorkload } from '../test/sim/inline-workloads.js';

export interface SimThroughput {
  readonly simulatedAccesses: number;
  readonly wallSeconds: number;
  readonly accessesPerSecond: number;
  readonly nsPerAccess: number;
}

export async function measureSimThroughput(simulatedNs = 200e6): Promise<SimThroughput> {
  const pageCount = 1 << 18;
  const vms = [0, 1, 2, 3].map((i) => ({
    name: `vm${i}`,
    workload: hotColdWorkload({ pageCount, hotPages: pageCount >> 3, hotShare: 0.8, writeShare: 0.3, seed: i + 1 }),
    pageCount,
    vcpus: 4,
    dramQuotaPages: Math.floor(pageCount / 5),
  }));
  const machine = new SimMachine({ preset: tierPreset('optane'), dramPages: 4 * Math.floor(pageCount / 5), nvmPages: 4 * pageCount, vms }, unmanagedPolicy);
  const start = process.hrtime.bigint();
  const result = await machine.run(simulatedNs);
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const simulatedAccesses = result.vms.reduce((s, vm) => s + vm.accesses, 0);
  return {
    simulatedAccesses,
    wallSeconds,
    accessesPerSecond: simulatedAccesses / wallSeconds,
    nsPerAccess: (wallSeconds * 1e9) / simulatedAccesses,
  };
}
