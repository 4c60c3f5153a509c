/**
 * `npm run bench`: the in-process benchmarks, written as JSON to stdout and
 * out/bench.json. Not a test: figures vary with the machine's load, so the
 * engine window and the simulator are measured beside the previous main in
 * the same run (two-builds.ts: both builds, alternating, medians and ratios
 * per case); the workload generators and pool policies are measured once, in
 * the current build. The benchmarks that need real QEMU or libvirtd run on
 * their own: `node dist/bench/qmp-roundtrip.js`, `node dist/bench/hook-latency.js`.
 *
 *   npm run bench -- [--base REV] [--runs N] [--no-compare]
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { benchPoolPolicies } from './pool-policies.js';
import { compareBuilds, currentBuild, prepareBaseline, resolveBaseRevision, runCase, type BenchCase, type Build, type CaseComparison } from './two-builds.js';
import { benchWorkloads } from './workloads.js';
import { machineHeader } from './machine.js';

const SIZES = [256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024];
const LARGEST = SIZES[SIZES.length - 1]!;

const ENGINE_METRICS = {
  msPerWindow: 'lower', msTrackerPerWindow: 'lower', msWindowPass: 'lower', msCollectPlan: 'lower',
  cpuMsPerWindow: 'lower', cpuMsTrackerPerWindow: 'lower', cpuMsWindowPass: 'lower', cpuMsCollectPlan: 'lower',
  bytesPerPage: 'lower',
} as const;

const CASES: BenchCase[] = [
  // The same driver in both builds (the workload and the clocks are this tree's; the engine is each build's).
  ...SIZES.map((pages) => ({ name: `engineWindow/${pages}`, module: 'bench/engine-window.js', exportName: 'benchEngineWindow', args: [pages], metrics: ENGINE_METRICS, sameDriver: true })),
  // The largest size again with a spread of access rates (pages leave the sieve round by round; engine-window.ts).
  { name: `engineWindowRates/${LARGEST}`, module: 'bench/engine-window.js', exportName: 'benchEngineWindow', args: [LARGEST, 12, 8, 'rates'], metrics: ENGINE_METRICS, sameDriver: true },
  // The largest size again with the static pattern laid out in 2 MiB extents, as a guest's memory is (engine-window.ts).
  { name: `engineWindowClustered/${LARGEST}`, module: 'bench/engine-window.js', exportName: 'benchEngineWindow', args: [LARGEST, 12, 8, 'clustered'], metrics: ENGINE_METRICS, sameDriver: true },
  // The same driver in both builds too (it finds either layout of plugin/sim/); both builds simulate the same number of accesses.
  { name: 'simulator', module: 'bench/sim-throughput.js', exportName: 'measureSimThroughput', args: [], metrics: { accessesPerSecond: 'higher', accessesPerCpuSecond: 'higher' }, sameDriver: true },
];

/** Issue 13's engine-cost targets, checked against the largest size's medians. */
const TARGETS = { engineWindowSpeedupAt16MiPages: 4, bytesPerPage: 3, simulatorSpeedup: 2 };

const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number >= 1');
  return n;
};

interface Options {
  base?: string;
  runs: number;
  compare: boolean;
}

async function main(opts: Options) {
  const loadAverageAtStart = os.loadavg();
  const current = currentBuild();
  let base: Build | undefined;
  if (opts.compare) {
    const sha = resolveBaseRevision({ base: opts.base });
    if (sha === current.commit) {
      process.stderr.write(`bench: the base is HEAD itself (${sha.slice(0, 12)})${current.uncommitted ? ', the current tree differs only by uncommitted changes' : ''}; give --base REV to compare with an older main\n`);
    }
    base = prepareBaseline(sha);
  }
  const builds: Build[] = base ? [base, current] : [current];
  let comparison: CaseComparison[];
  if (base) {
    comparison = await compareBuilds([base, current], CASES, opts.runs);
  } else {
    comparison = [];
    for (const c of CASES) {
      process.stderr.write(`bench: ${c.name}\n`);
      const medians = { current: (await runCase(current, c)) as Record<string, number> };
      comparison.push({ name: c.name, runs: 1, medians, samples: {}, ratios: {} });
    }
  }
  process.stderr.write('bench: workload generators, pool policies...\n');
  const workloads = benchWorkloads();
  const pool = benchPoolPolicies();

  const largest = comparison.find((c) => c.name === `engineWindow/${LARGEST}`);
  const largestRates = comparison.find((c) => c.name === `engineWindowRates/${LARGEST}`);
  const largestClustered = comparison.find((c) => c.name === `engineWindowClustered/${LARGEST}`);
  const sim = comparison.find((c) => c.name === 'simulator');
  const result = {
    ...machineHeader(),
    loadAverageAtStart,
    loadAverage: os.loadavg(),
    builds: builds.map((b) => ({ label: b.label, commit: b.commit, subject: b.subject, ...(b.uncommitted ? { uncommitted: true } : {}) })),
    runsPerBuild: base ? opts.runs : 1,
    /** The current build's engine window per size (medians over the runs). */
    engineWindow: comparison.filter((c) => c.name.startsWith('engineWindow/')).map((c) => c.medians['current']),
    engineWindowRates: comparison.filter((c) => c.name.startsWith('engineWindowRates/')).map((c) => c.medians['current']),
    engineWindowClustered: comparison.filter((c) => c.name.startsWith('engineWindowClustered/')).map((c) => c.medians['current']),
    simulator: sim?.medians['current'],
    /** Both builds' medians, every run's figures and the ratios (> 1: current better), per case. */
    comparison,
    workloads,
    pool,
    targets: {
      ...TARGETS,
      measured: {
        engineWindowSpeedupAt16MiPages: largest?.ratios['msPerWindow'],
        engineWindowCpuSpeedupAt16MiPages: largest?.ratios['cpuMsPerWindow'],
        /** The same with the spread of access rates (not the target; shown so the static pattern is not the only figure). */
        engineWindowRatesSpeedupAt16MiPages: largestRates?.ratios['msPerWindow'],
        engineWindowRatesCpuSpeedupAt16MiPages: largestRates?.ratios['cpuMsPerWindow'],
        /** The static pattern in 2 MiB extents (a guest's layout; not the target either). */
        engineWindowClusteredSpeedupAt16MiPages: largestClustered?.ratios['msPerWindow'],
        engineWindowClusteredCpuSpeedupAt16MiPages: largestClustered?.ratios['cpuMsPerWindow'],
        bytesPerPage: largest?.medians['current']?.['bytesPerPage'],
        simulatorSpeedup: sim?.ratios['accessesPerSecond'],
      },
    },
  };
  const json = JSON.stringify(result, null, 2);
  await mkdir('out', { recursive: true });
  await writeFile('out/bench.json.tmp', json + '\n');
  await rename('out/bench.json.tmp', 'out/bench.json');
  process.stdout.write(json + '\n');
  if (base) process.stderr.write(summaryTable(comparison));
}

/** A short table for the terminal: each case's headline metric in both builds and the ratio. */
function summaryTable(rows: CaseComparison[]): string {
  const lines = ['', 'case                     metric               base        current     ratio'];
  for (const r of rows) {
    for (const [metric, ratio] of Object.entries(r.ratios)) {
      const b = r.medians['base']?.[metric];
      const c = r.medians['current']?.[metric];
      lines.push(`${r.name.padEnd(24)} ${metric.padEnd(20)} ${fmt(b).padStart(10)}  ${fmt(c).padStart(10)}  ${ratio.toFixed(2).padStart(7)}x`);
    }
    for (const [label, err] of Object.entries(r.errors ?? {})) lines.push(`${r.name.padEnd(24)} ${label} build failed: ${err}`);
  }
  return lines.join('\n') + '\n';
}

const fmt = (x: number | undefined): string => (x === undefined ? '-' : x >= 1e5 ? x.toExponential(3) : x.toFixed(3));

const program = new Command('npm run bench --')
  .description('Benchmarks as JSON (out/bench.json): the engine window and the simulator beside a previous build, alternating, with ratios')
  .option('--base <rev>', 'commit to compare with (default: HMMV_BENCH_BASE, else the merge-base of HEAD with origin/main or main)')
  .option('--runs <n>', 'runs per build of each compared case (medians are reported)', positive, process.env['HMMV_BENCH_RUNS'] ? positive(process.env['HMMV_BENCH_RUNS']) : 5)
  .option('--no-compare', 'measure the current tree only (one run per case)')
  .action(async (opts: Options) => main(opts));

await program.parseAsync(process.argv);
