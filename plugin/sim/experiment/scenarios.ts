/**
 * Named experiments for the report (`hmmv scenario <name>`):
 *
 *  four-vm     the paper's co-run: four VMs with different workloads on one
 *              host whose DRAM holds a quarter of their memory, under every
 *              policy; gives the per-VM slowdown table, HMM-V's margin over
 *              each baseline, its distance from the oracle, and the tracking-cost table.
 *  dram-sweep  one VM per workload alone on a host, DRAM from 10% to 100% of
 *              its footprint: slowdown vs DRAM fraction curves.
 *  traces      one VM per trace file (real programs, `hmmv trace convert`),
 *              at 25% DRAM, under every policy.
 *
 * A scenario is a list of cases (one machine configuration each); every case
 * runs once per policy with the same VMs and seeds.
 */
import type { ExperimentConfig } from './experiment.js';
import { createTraceWorkload } from '../workloads/trace-replay.js';
import { PAGE_SIZE_BYTES } from '../machine/sim-host.js';

const MiB = 1 << 20;

export interface ScenarioCase {
  /** Unique within the scenario, safe as a file name. */
  readonly id: string;
  /** Workload (sweep) or "co-run". */
  readonly group: string;
  /** Fraction of the VMs' footprint that is host DRAM. */
  readonly dramFraction: number;
  readonly config: Omit<ExperimentConfig, 'policies'>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly policies: readonly string[];
  readonly cases: readonly ScenarioCase[];
}

export interface ScenarioOptions {
  /** Simulated seconds per run. */
  readonly durationSec?: number;
  readonly warmupSec?: number;
  readonly vmSizeMiB?: number;
  readonly vcpus?: number;
  readonly seed?: number;
  readonly preset?: string;
  readonly trafficScale?: number;
  readonly workloads?: readonly string[];
  readonly fractions?: readonly number[];
  readonly policies?: readonly string[];
  readonly traces?: readonly string[];
}

/** Every policy, ceiling and floor first, the limit last. */
export const ALL_POLICIES: readonly string[] = [
  'all-dram', 'unmanaged', 'hmmv', 'numa-balancing', 'tpp', 'memory-mode', 'memtierd', 'damon', 'oracle',
];

export const FOUR_VM_WORKLOADS: readonly string[] = ['kv-zipf', 'gups', 'scan', 'phase'];
export const SWEEP_FRACTIONS: readonly number[] = [0.1, 0.25, 0.5, 0.75, 1];

const pagesOf = (mib: number): number => Math.floor((mib * MiB) / PAGE_SIZE_BYTES);

function base(o: ScenarioOptions) {
  return {
    preset: o.preset ?? 'optane',
    durationNs: Math.round((o.durationSec ?? 10) * 1e9),
    warmupNs: Math.round((o.warmupSec ?? 0) * 1e9),
    seed: o.seed ?? 1,
    trafficScale: o.trafficScale ?? 8,
  };
}

function checkFraction(f: number): number {
  if (!(f > 0 && f <= 1)) throw new Error(`DRAM fraction must be in (0, 1], got ${f}`);
  return f;
}

/** The one DRAM fraction of a scenario that runs a single fraction (four-vm, traces); more is an error, not ignored. */
function singleFraction(scenarioName: string, o: ScenarioOptions): number {
  const fractions = o.fractions ?? [0.25];
  if (fractions.length !== 1) throw new Error(`the ${scenarioName} scenario runs one DRAM fraction, got ${fractions.length} (--fractions ${fractions.join(',')}); use dram-sweep for several`);
  return checkFraction(fractions[0]!);
}

export function fourVmScenario(o: ScenarioOptions = {}): Scenario {
  const vmPages = pagesOf(o.vmSizeMiB ?? 128);
  const workloads = o.workloads ?? FOUR_VM_WORKLOADS;
  const total = vmPages * workloads.length;
  const fraction = singleFraction('four-vm', o);
  const dramPages = Math.max(1, Math.floor(total * fraction));
  return {
    name: 'four-vm',
    description: `${workloads.length} co-running VMs (${workloads.join(', ')}), host DRAM = ${Math.round(fraction * 100)}% of their memory, NVM holds all of it`,
    policies: o.policies ?? ALL_POLICIES,
    cases: [
      {
        id: 'co-run',
        group: 'co-run',
        dramFraction: fraction,
        config: {
          ...base(o),
          dramPages,
          // Memory Mode puts every page in NVM: NVM holds all VMs.
          nvmPages: total,
          vms: workloads.map((kind, i) => ({ name: `vm${i}-${kind}`, workload: { kind, pageCount: vmPages }, pageCount: vmPages, vcpus: o.vcpus ?? 2 })),
        },
      },
    ],
  };
}

export function dramSweepScenario(o: ScenarioOptions = {}): Scenario {
  const vmPages = pagesOf(o.vmSizeMiB ?? 128);
  const workloads = o.workloads ?? FOUR_VM_WORKLOADS;
  const fractions = o.fractions ?? SWEEP_FRACTIONS;
  fractions.forEach(checkFraction);
  return {
    name: 'dram-sweep',
    description: `one VM alone per workload (${workloads.join(', ')}), host DRAM ${fractions.map((f) => `${Math.round(f * 100)}%`).join(', ')} of its footprint`,
    policies: o.policies ?? ['all-dram', 'unmanaged', 'hmmv', 'numa-balancing', 'memory-mode', 'oracle'],
    cases: workloads.flatMap((kind) =>
      fractions.map((f) => ({
        id: `${kind}-${Math.round(f * 100)}`,
        group: kind,
        dramFraction: f,
        config: {
          ...base(o),
          dramPages: Math.max(1, Math.round(f * vmPages)),
          nvmPages: vmPages,
          vms: [{ name: kind, workload: { kind, pageCount: vmPages }, pageCount: vmPages, vcpus: o.vcpus ?? 2 }],
        },
      })),
    ),
  };
}

export function tracesScenario(o: ScenarioOptions = {}): Scenario {
  const traces = o.traces ?? [];
  if (traces.length === 0) throw new Error('the traces scenario needs trace files: --trace FILE (repeatable), made with `hmmv trace convert`');
  const fraction = singleFraction('traces', o);
  return {
    name: 'traces',
    description: `one VM per trace (${traces.length}), host DRAM ${Math.round(fraction * 100)}% of the trace's footprint`,
    policies: o.policies ?? ALL_POLICIES,
    cases: traces.map((path, i) => {
      const label = (path.split('/').pop() ?? path).replace(/\.trace(\.gz)?$/, '').replace(/[^A-Za-z0-9_.-]/g, '_');
      // The pages the trace touches (a sparse trace is renumbered densely, workloads/trace-replay.ts).
      const footprint = createTraceWorkload({ kind: `trace:${path}`, pageCount: 0, seed: 0 }).pageCount;
      return {
        id: `trace${i}-${label}`,
        group: label,
        dramFraction: fraction,
        config: {
          ...base(o),
          dramPages: Math.max(1, Math.round(fraction * footprint)),
          nvmPages: footprint,
          vms: [{ name: label, workload: { kind: `trace:${path}`, pageCount: footprint }, pageCount: footprint, vcpus: o.vcpus ?? 1 }],
        },
      };
    }),
  };
}

export const SCENARIOS: Readonly<Record<string, (o: ScenarioOptions) => Scenario>> = {
  'four-vm': fourVmScenario,
  'dram-sweep': dramSweepScenario,
  traces: tracesScenario,
};

export function scenario(name: string, o: ScenarioOptions = {}): Scenario {
  const make = SCENARIOS[name];
  if (!make) throw new Error(`unknown scenario "${name}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
  return make(o);
}
