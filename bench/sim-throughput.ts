/**
 * Simulator throughput for bench/run.ts: guest memory accesses simulated per
 * second, wall time and CPU time. Runs the default four-VM co-run (kv-zipf,
 * gups, scan, phase; 64 Ki pages each) under one policy: `unmanaged` is the
 * simulator's own cost per access (workload generation and the machine, no
 * policy work), `memory-mode` adds its line cache on every access.
 *
 * Both builds do the same amount of work: the simulator's fidelity changes
 * how many accesses a simulated second holds (the faithful one has about a
 * third as many: misses cost more), so a fixed simulated duration would weigh
 * set-up and per-slice costs differently in each. A short probe run (50 ms
 * simulated, a machine of its own; it also compiles the hot loops) measures
 * accesses per simulated second, then a fresh machine runs long enough for
 * `targetAccesses` and is timed from its run() to its result. Machine
 * construction is reported apart (setupSeconds).
 *
 * The same driver runs in an older build (bench/two-builds.ts sameDriver):
 * it finds the simulator's modules in either layout, the machine/,
 * policies/, workloads/ folders or the flat plugin/sim/ of before b0078e9.
 */
import type { SimMachine } from '../plugin/sim/machine/machine.js';
import type { Policy } from '../plugin/sim/machine/policy.js';
import type { TierPreset } from '../plugin/sim/machine/tiers.js';
import type { Workload, WorkloadSpec } from '../plugin/sim/workloads/workload.js';

export interface SimThroughput {
  readonly policy: string;
  readonly vmPages: number;
  readonly simulatedSeconds: number;
  readonly simulatedAccesses: number;
  readonly setupSeconds: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly accessesPerSecond: number;
  readonly accessesPerCpuSecond: number;
  readonly nsPerAccess: number;
  readonly cpuNsPerAccess: number;
}

interface SimModules {
  SimMachine: new (config: unknown, policy: Policy) => SimMachine;
  createPolicy: (name: string) => Policy;
  tierPreset: (name: string) => TierPreset;
  makeWorkload: (spec: WorkloadSpec) => Workload;
  DEFAULT_WORKLOADS: readonly string[];
}

/** Imports the first of `paths` (relative to this file) that exists. */
async function importFirst(...paths: string[]): Promise<Record<string, unknown>> {
  let last: unknown;
  for (const p of paths) {
    try {
      return (await import(new URL(p, import.meta.url).href)) as Record<string, unknown>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
      last = err;
    }
  }
  throw last;
}

async function simModules(): Promise<SimModules> {
  const machine = await importFirst('../plugin/sim/machine/machine.js', '../plugin/sim/machine.js');
  const tiers = await importFirst('../plugin/sim/machine/tiers.js', '../plugin/sim/tiers.js');
  const policies = await importFirst('../plugin/sim/policies/index.js');
  const workloads = await importFirst('../plugin/sim/workloads/index.js');
  const factory = typeof workloads['makeWorkload'] === 'function' ? workloads : await importFirst('../plugin/sim/workload-factory.js');
  return {
    SimMachine: machine['SimMachine'] as SimModules['SimMachine'],
    createPolicy: policies['createPolicy'] as SimModules['createPolicy'],
    tierPreset: tiers['tierPreset'] as SimModules['tierPreset'],
    makeWorkload: factory['makeWorkload'] as SimModules['makeWorkload'],
    DEFAULT_WORKLOADS: factory['DEFAULT_WORKLOADS'] as readonly string[],
  };
}

function buildMachine(m: SimModules, vmPages: number, policy: string): SimMachine {
  const vms = m.DEFAULT_WORKLOADS.map((kind, i) => ({
    name: `vm${i}`,
    workload: m.makeWorkload({ kind, pageCount: vmPages, seed: i + 1 }),
    pageCount: vmPages,
    vcpus: 2,
    dramQuotaPages: vmPages / 4,
  }));
  return new m.SimMachine(
    { preset: m.tierPreset('optane'), dramPages: vmPages, nvmPages: 4 * vmPages, vms, trafficScale: 8 },
    m.createPolicy(policy),
  );
}

const PROBE_NS = 50e6;

export async function measureSimThroughput(vmPages = 1 << 16, targetAccesses = 20e6, policy = 'unmanaged'): Promise<SimThroughput> {
  const m = await simModules();
  const probe = await buildMachine(m, vmPages, policy).run(PROBE_NS);
  const probeAccesses = probe.vms.reduce((s, vm) => s + vm.accesses, 0);
  const simulatedNs = Math.max(PROBE_NS, Math.round((targetAccesses / probeAccesses) * PROBE_NS));

  const built = process.hrtime.bigint();
  const machine = buildMachine(m, vmPages, policy);
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const result = await machine.run(simulatedNs);
  const cpu = process.cpuUsage(cpuStart);
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const simulatedAccesses = result.vms.reduce((s, vm) => s + vm.accesses, 0);
  return {
    policy,
    vmPages,
    simulatedSeconds: simulatedNs / 1e9,
    simulatedAccesses,
    setupSeconds: Number(start - built) / 1e9,
    wallSeconds,
    cpuSeconds,
    accessesPerSecond: simulatedAccesses / wallSeconds,
    accessesPerCpuSecond: simulatedAccesses / cpuSeconds,
    nsPerAccess: (wallSeconds * 1e9) / simulatedAccesses,
    cpuNsPerAccess: (cpuSeconds * 1e9) / simulatedAccesses,
  };
}
