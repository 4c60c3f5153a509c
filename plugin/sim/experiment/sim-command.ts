/**
 * `hmmv sim`: runs VMs side by side on one simulated host under all-DRAM,
 * unmanaged and HMM-V (by default the four-VM co-run, DRAM:NVM 1:4), prints
 * the comparison and writes it as JSON and an SVG chart.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createRunProgress } from '../../util/progress.js';
import { opsBars, slowdownBars, timelineChart } from '../report/svg.js';
import { tableOfRuns } from '../report/summary.js';
import { prepareExperiment, runExperiment, type ExperimentConfig, type ExperimentResult, type ExperimentVm } from './experiment.js';
import { writeOutputs } from './output.js';
import { POLICY_NAMES } from '../policies/index.js';
import { formatTable, formatVerdict } from '../report/text.js';
import { PAGE_SIZE_BYTES } from '../machine/sim-host.js';
import { TIER_PRESETS } from '../machine/tiers.js';
import { DEFAULT_WORKLOADS, makeWorkload } from '../workloads/index.js';
import { describeWorkloadKinds } from '../workloads/index.js';

const MiB = 1 << 20;

export interface SimCliOptions {
  vms: number;
  vmSize: number;
  vcpus: number;
  workloads: string[];
  trace: string[];
  param: string[];
  dram?: number;
  nvm?: number;
  quota?: number;
  preset: string;
  duration: number;
  warmup: number;
  seed: number;
  policies: string[];
  trafficScale: number;
  memoryLimit?: number;
  out: string;
  quiet: boolean;
}

const positiveInt = (what: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive whole number, got "${value}"`);
  return n;
};
const nonNegativeInt = (what: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`${what} must be a whole number from 0 to 2^32-1, got "${value}"`);
  return n;
};
const nonNegative = (what: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${what} must be a number >= 0, got "${value}"`);
  return n;
};
const positive = (what: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a number > 0, got "${value}"`);
  return n;
};
const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** MiB to whole pages. */
const pagesOf = (mib: number): number => Math.floor((mib * MiB) / PAGE_SIZE_BYTES);

/** `--param TARGET.NAME=VALUE`: TARGET is a VM name (vm0) or a workload kind (kv-zipf, trace). */
export function parseParams(given: readonly string[]): { target: string; name: string; value: string }[] {
  return given.map((text) => {
    const m = /^([^.=\s]+)\.([A-Za-z_][\w]*)=(.+)$/.exec(text);
    if (!m) throw new Error(`--param "${text}": expected TARGET.NAME=VALUE, e.g. kv-zipf.theta=0.9 or vm1.hotFraction=0.1`);
    return { target: m[1]!, name: m[2]!, value: m[3]! };
  });
}

/** Turns the command line into an experiment (throws on anything inconsistent). */
export function experimentFromOptions(o: SimCliOptions): ExperimentConfig {
  const vmPages = pagesOf(o.vmSize);
  if (vmPages < 1) throw new Error(`--vm-size ${o.vmSize} MiB is smaller than one page`);
  const totalPages = vmPages * o.vms;
  // Default host: DRAM a quarter of the VMs' total footprint, NVM four times the DRAM (1:4 overall),
  // so DRAM holds a quarter of the VMs and NVM has room to spare for migrations.
  const dramPages = o.dram !== undefined ? pagesOf(o.dram) : Math.floor(totalPages / 4);
  const nvmPages = o.nvm !== undefined ? pagesOf(o.nvm) : 4 * dramPages;
  if (o.workloads.length === 0 && o.trace.length === 0) throw new Error('--workloads is empty');
  const params = parseParams(o.param);
  const vms: ExperimentVm[] = [];
  const used = new Set<number>();
  for (let i = 0; i < o.vms; i++) {
    const trace = o.trace[i];
    const kind = trace !== undefined ? `trace:${trace}` : o.workloads[i % o.workloads.length]!;
    const name = `vm${i}`;
    const mine: Record<string, string> = {};
    params.forEach((p, j) => {
      if (p.target === name || p.target === kind || (trace !== undefined && p.target === 'trace')) {
        mine[p.name] = p.value;
        used.add(j);
      }
    });
    vms.push({
      name,
      workload: { kind, pageCount: vmPages, ...(Object.keys(mine).length > 0 ? { params: mine } : {}) },
      // A trace VM is as large as the trace's footprint if that exceeds --vm-size.
      ...(trace === undefined ? { pageCount: vmPages } : {}),
      vcpus: o.vcpus,
      ...(o.quota !== undefined ? { dramQuotaPages: pagesOf(o.quota) } : {}),
    });
  }
  params.forEach((p, j) => {
    if (!used.has(j)) throw new Error(`--param ${p.target}.${p.name}: no VM is named "${p.target}" or runs that workload`);
  });
  if (o.trace.length > o.vms) throw new Error(`${o.trace.length} trace files given for ${o.vms} VMs`);
  for (const p of o.policies) {
    if (!POLICY_NAMES.includes(p)) throw new Error(`unknown policy "${p}" (known: ${POLICY_NAMES.join(', ')})`);
  }
  return {
    preset: o.preset,
    dramPages,
    nvmPages,
    vms,
    durationNs: Math.round(o.duration * 1e9),
    warmupNs: Math.round(o.warmup * 1e9),
    seed: o.seed,
    policies: o.policies,
    trafficScale: o.trafficScale,
    ...(o.memoryLimit !== undefined ? { memoryLimitBytes: o.memoryLimit * MiB } : {}),
  };
}

export async function runSimCommand(o: SimCliOptions): Promise<void> {
  const config = experimentFromOptions(o);
  prepareExperiment(config, makeWorkload); // all input errors surface here, before any run
  const mib = (pages: number): string => `${((pages * PAGE_SIZE_BYTES) / MiB).toFixed(0)} MiB`;
  if (!o.quiet) {
    process.stderr.write(
      `[hmmv sim] ${config.vms.length} VMs x ${mib(config.vms[0]!.workload.pageCount)} (${config.vms.map((v) => v.workload.kind).join(', ')}), ` +
        `host ${config.preset}: DRAM ${mib(config.dramPages)}, NVM ${mib(config.nvmPages)}; ` +
        `${o.duration} s simulated per policy (${config.policies.join(', ')}), seed ${config.seed}\n`,
    );
  }
  const started = process.hrtime.bigint();
  const progress = createRunProgress({ title: 'hmmv sim', quiet: o.quiet });
  const result = await runExperiment(config, makeWorkload, (policy, f) => progress.update(policy, config.policies.indexOf(policy) + 1, config.policies.length, f)).finally(() =>
    progress.stop(),
  );
  const wallSec = Number(process.hrtime.bigint() - started) / 1e9;
  const tableText = formatTable(result);
  const verdict = formatVerdict(result);
  const written = await writeOutputs(o.out, {
    'results.json': JSON.stringify(result, null, 2) + '\n',
    'chart.svg': chartOf(result.runs),
    'timeline.svg': timelineChart(result.runs),
    'table.txt': `${tableText}\n\n${verdict}\n`,
  });
  process.stdout.write(`${tableText}\n\n${verdict}\n`);
  process.stdout.write(`\nwrote ${written.join(', ')}\n`);
  if (!o.quiet) process.stderr.write(`[hmmv sim] done in ${wallSec.toFixed(1)} s of wall time\n`);
}

/** Slowdown per VM against all-DRAM, or ops/s when all-DRAM did not run. */
function chartOf(runs: ExperimentResult['runs']): string {
  const table = tableOfRuns('sim', runs);
  return runs.some((r) => r.policy === 'all-dram')
    ? slowdownBars(table, 'Slowdown vs all-DRAM per VM (lower is better)')
    : opsBars(table, 'Operations per second per VM');
}

export function registerSimCommands(program: Command): void {
  program
    .command('sim')
    .description('run VMs on a simulated DRAM+NVM host under all-DRAM, unmanaged and HMM-V, and compare them')
    .option('--vms <n>', 'number of VMs', positiveInt('--vms'), 4)
    .option('--vm-size <MiB>', 'guest RAM of each VM, MiB', positive('--vm-size'), 256)
    .option('--vcpus <n>', 'vCPUs per VM', positiveInt('--vcpus'), 2)
    .option('--workloads <list>', 'workload of each VM, comma-separated, cycled over the VMs (kinds below)', list, [...DEFAULT_WORKLOADS])
    .option('--trace <file>', 'replay a trace file in VM 0, 1, ... in the order given (repeatable; gzip allowed)', collect, [])
    .option('--param <target.name=value>', 'a workload parameter for a VM (vm1.x=...) or every VM of a kind (kv-zipf.x=...); repeatable; see `hmmv workloads`', collect, [])
    .option('--dram <MiB>', 'host DRAM, MiB (default: a quarter of the VMs total)', nonNegative('--dram'))
    .option('--nvm <MiB>', 'host NVM, MiB (default: four times the DRAM)', nonNegative('--nvm'))
    .option('--quota <MiB>', 'DRAM quota of each VM under hmmv, MiB (default: DRAM split equally)', nonNegative('--quota'))
    .addOption(new Option('--preset <name>', 'tier preset').choices(Object.keys(TIER_PRESETS)).default('optane'))
    .option('--duration <s>', 'simulated seconds per policy', positive('--duration'), 2)
    .option('--warmup <s>', 'simulated seconds the workloads run unmanaged before each run, backing pages at their first touch; 0 = the guest initializes its memory in address order first, as at boot and load (see docs/simulator.md)', nonNegative('--warmup'), 0)
    .option('--seed <n>', 'seed of the workloads', nonNegativeInt('--seed'), 1)
    .option('--policies <list>', `policies to run (known: ${POLICY_NAMES.join(', ')})`, list, ['all-dram', 'unmanaged', 'hmmv', 'hmmv-pool'])
    .option('--traffic-scale <n>', 'real accesses each simulated access stands for in the tiers load', positive('--traffic-scale'), 8)
    .option('--memory-limit <MiB>', 'largest memory one run may take; a larger run is refused before it starts (default: what the OS reports available)', positive('--memory-limit'))
    .option('--out <dir>', 'output folder for results.json, chart.svg, timeline.svg, table.txt', 'sim-results')
    .option('-q, --quiet', 'no progress on stderr', false)
    .addHelpText('after', `\nWorkloads:\n${describeWorkloadKinds()}\n\nTier presets:\n${Object.values(TIER_PRESETS).map((p) => `  ${p.name.padEnd(8)}${p.description}`).join('\n')}\n`)
    .action(async (options: SimCliOptions) => {
      try {
        await runSimCommand(options);
      } catch (err) {
        process.stderr.write(`hmmv sim: error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    });
}
