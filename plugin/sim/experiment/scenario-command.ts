/**
 * `hmmv scenario <name>`: runs a named scenario (experiment/scenarios.ts) under
 * every policy and writes a report folder: results.json (every run and the
 * derived tables), SVG charts and summary.md. Saved runs are reused, so a
 * scenario can be resumed or extended with --policies.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createRunProgress } from '../../util/progress.js';
import { writeOutputs } from './output.js';
import { POLICY_NAMES } from '../policies/index.js';
import { scenario, SCENARIOS, type Scenario, type ScenarioOptions } from './scenarios.js';
import { coRunMarkdown, MODEL_NOTES, scenarioHeader, sweepMarkdown, trackingMarkdown } from '../report/markdown.js';
import { runScenario, type CaseRun } from './run-scenario.js';
import { coRunTable, sweepCurves, trackingTable } from '../report/summary.js';
import { slowdownBars, sweepChart } from '../report/svg.js';

interface ScenarioCliOptions {
  duration: number;
  warmup: number;
  vmSize?: number;
  vcpus?: number;
  seed: number;
  preset: string;
  trafficScale: number;
  memoryLimit?: number;
  workloads?: string[];
  fractions?: number[];
  policies?: string[];
  trace: string[];
  out?: string;
  fresh: boolean;
  quiet: boolean;
}

const number = (what: string, test: (n: number) => boolean) => (value: string): number => {
  const n = Number(value);
  if (!test(n)) throw new InvalidArgumentError(`${what}: bad value "${value}"`);
  return n;
};
const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
const fractionList = (value: string): number[] =>
  list(value).map((s) => {
    const f = Number(s.endsWith('%') ? Number(s.slice(0, -1)) / 100 : s);
    if (!(f > 0 && f <= 1)) throw new InvalidArgumentError(`--fractions: "${s}" is not in (0, 1] (or 1%..100%)`);
    return f;
  });

/** The report's files for a scenario's runs. */
export function renderReport(sc: Scenario, runs: readonly CaseRun[]): Record<string, string> {
  const files: Record<string, string> = {};
  const md: string[] = [`# hmmv report: ${sc.name}`, '', scenarioHeader(sc), ''];
  const derived: Record<string, unknown> = {};
  if (sc.name === 'four-vm') {
    const table = coRunTable(runs, 'co-run');
    const tracking = trackingTable(runs, 'co-run');
    derived['coRun'] = table;
    derived['tracking'] = tracking;
    files['slowdown-four-vm.svg'] = slowdownBars(table, 'Four co-running VMs: slowdown vs all-DRAM');
    md.push('## Four co-running VMs', '', '![slowdown per VM](slowdown-four-vm.svg)', '', coRunMarkdown(table), '');
    if (table.oracleAheadOfHmmvPct !== undefined) md.push(`The oracle runs ${table.oracleAheadOfHmmvPct.toFixed(1)}% faster than HMM-V (geometric mean over the VMs).`, '');
    md.push('## Tracking and migration cost', '', trackingMarkdown(tracking), '');
  } else {
    const curves = sweepCurves(runs);
    derived['sweep'] = curves;
    const title = sc.name === 'traces' ? 'Trace replay' : 'Slowdown vs DRAM fraction';
    md.push(`## ${title}`, '');
    for (const c of curves) {
      if (sc.name === 'dram-sweep') {
        files[`sweep-${c.group}.svg`] = sweepChart(c, `${c.group}: slowdown vs DRAM fraction`);
        md.push(`### ${c.group}`, '', `![${c.group}](sweep-${c.group}.svg)`, '');
      } else {
        md.push(`### ${c.group}`, '');
      }
      md.push(sweepMarkdown(c), '');
    }
    if (sc.name === 'traces') {
      for (const c of sc.cases) {
        const table = coRunTable(runs, c.id);
        files[`slowdown-${c.id}.svg`] = slowdownBars(table, `${c.group}: slowdown vs all-DRAM`);
        md.push(`![${c.group}](slowdown-${c.id}.svg)`, '', trackingMarkdown(trackingTable(runs, c.id)), '');
      }
    }
  }
  md.push(MODEL_NOTES, '');
  files['summary.md'] = md.join('\n');
  files['results.json'] = JSON.stringify({ scenario: { name: sc.name, description: sc.description, policies: sc.policies, cases: sc.cases }, derived, runs }, null, 1) + '\n';
  return files;
}

export async function runScenarioCommand(name: string, o: ScenarioCliOptions): Promise<string[]> {
  for (const p of o.policies ?? []) {
    if (!POLICY_NAMES.includes(p)) throw new Error(`unknown policy "${p}" (known: ${POLICY_NAMES.join(', ')})`);
  }
  const options: ScenarioOptions = {
    durationSec: o.duration,
    warmupSec: o.warmup,
    seed: o.seed,
    preset: o.preset,
    trafficScale: o.trafficScale,
    traces: o.trace,
    ...(o.vmSize !== undefined ? { vmSizeMiB: o.vmSize } : {}),
    ...(o.vcpus !== undefined ? { vcpus: o.vcpus } : {}),
    ...(o.workloads ? { workloads: o.workloads } : {}),
    ...(o.fractions ? { fractions: o.fractions } : {}),
    ...(o.policies ? { policies: o.policies.includes('all-dram') ? o.policies : ['all-dram', ...o.policies] } : {}),
  };
  const sc = scenario(name, options);
  const out = o.out ?? `report-${name}`;
  const progress = createRunProgress({ title: `hmmv scenario ${name}`, quiet: o.quiet });
  const runs = await runScenario(sc, out, { fresh: o.fresh, ...(o.memoryLimit !== undefined ? { memoryLimitBytes: o.memoryLimit * 2 ** 20 } : {}), onProgress: (label, index, total, f) => progress.update(label, index, total, f) }).finally(() => progress.stop());
  return writeOutputs(out, renderReport(sc, runs));
}

export function registerScenarioCommands(program: Command): void {
  program
    .command('scenario')
    .description(`run a named experiment under every policy and write a report folder (scenarios: ${Object.keys(SCENARIOS).join(', ')})`)
    .argument('<name>', `scenario: ${Object.keys(SCENARIOS).join(', ')}`)
    .option('--duration <s>', 'simulated seconds per run', number('--duration', (n) => n > 0), 10)
    .option('--warmup <s>', 'simulated seconds the workloads run before each run, backing pages at first touch; 0 = the guest initializes its memory in address order (as hmmv sim)', number('--warmup', (n) => n >= 0), 0)
    .option('--vm-size <MiB>', 'guest RAM per VM, MiB (default 128)', number('--vm-size', (n) => n > 0))
    .option('--vcpus <n>', 'vCPUs per VM (default 2; traces 1)', number('--vcpus', (n) => Number.isInteger(n) && n > 0))
    .option('--seed <n>', 'seed of the workloads', number('--seed', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff), 1)
    .option('--preset <name>', 'tier preset (optane, cxl)', 'optane')
    .option('--traffic-scale <n>', 'real accesses each simulated access stands for in the tiers load', number('--traffic-scale', (n) => n > 0), 8)
    .option('--memory-limit <MiB>', 'largest memory one run may take; a larger run is refused before anything runs (default: what the OS reports available)', number('--memory-limit', (n) => n > 0))
    .option('--workloads <list>', 'workloads (four-vm: one per VM; dram-sweep: one sweep each)', list)
    .option('--fractions <list>', 'DRAM fractions of the footprint, e.g. 0.1,0.25,50% (dram-sweep: several; four-vm and traces: one, default 25%)', fractionList)
    .option('--policies <list>', `policies (all-dram is always added as the reference; known: ${POLICY_NAMES.join(', ')})`, list)
    .option('--trace <file>', 'trace file for the traces scenario (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--out <dir>', 'report folder (default report-<name>)')
    .option('--fresh', 'run everything again instead of reusing saved runs', false)
    .option('-q, --quiet', 'no progress on stderr', false)
    .action(async (name: string, options: ScenarioCliOptions) => {
      try {
        const written = await runScenarioCommand(name, options);
        process.stdout.write(`wrote ${written.join(', ')}\n`);
      } catch (err) {
        process.stderr.write(`hmmv scenario: error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    });
}
