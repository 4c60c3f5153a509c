/**
 * The simulator's throughput in several builds, measured in one run:
 *
 *   npm run build && node dist/bench/sim-compare.js [--base REV]... [--runs N] [--out FILE]
 *
 * Default bases: ab31cbd (main before the fidelity work of 639546c, the
 * figure issue 13's "2x today's accesses per second" refers to) and the
 * merge-base with main. Every build runs the same driver
 * (sim-throughput.ts, copied into the older builds, which finds their
 * modules) in a fresh process per measurement; each round runs the builds in
 * a rotated order so the machine's load hits all of them; figures are
 * medians over the rounds and ratios are current / base of the medians
 * (> 1: the current tree is faster). JSON on stdout and in --out (default
 * out/sim-compare.json); a table on stderr.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { currentBuild, median, prepareBaseline, resolveBaseRevision, runCase, type BenchCase, type Build } from './two-builds.js';
import { machineHeader } from './machine.js';

/** main just before 639546c (the simulator fidelity work). */
export const PRE_FIDELITY_BASE = 'ab31cbd';

const METRICS = { accessesPerSecond: 'higher', accessesPerCpuSecond: 'higher' } as const;

const CASES: BenchCase[] = [
  { name: 'simulator', module: 'bench/sim-throughput.js', exportName: 'measureSimThroughput', args: [], metrics: METRICS, sameDriver: true },
  { name: 'simulator/memory-mode', module: 'bench/sim-throughput.js', exportName: 'measureSimThroughput', args: [1 << 16, 20e6, 'memory-mode'], metrics: METRICS, sameDriver: true },
];

interface Options {
  base: string[];
  runs: number;
  out: string;
}

const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number >= 1');
  return n;
};

async function main(opts: Options): Promise<void> {
  const current = currentBuild();
  const wanted = opts.base.length > 0 ? opts.base : [PRE_FIDELITY_BASE, resolveBaseRevision({})];
  const shas = [...new Set(wanted.map((rev) => resolveBaseRevision({ base: rev })))];
  const bases = shas.map((sha, i) => ({ ...prepareBaseline(sha), label: `base${i + 1}` }));
  if (shas.includes(current.commit)) process.stderr.write(`sim-compare: a base is HEAD itself (${current.commit.slice(0, 12)})\n`);
  const builds: Build[] = [...bases, current];
  const results = CASES.map(() => builds.map(() => [] as Record<string, number>[]));
  for (let round = 0; round < opts.runs; round++) {
    const order = builds.map((_, i) => (i + round) % builds.length);
    for (let ci = 0; ci < CASES.length; ci++) {
      for (const bi of order) {
        process.stderr.write(`sim-compare: ${CASES[ci]!.name}, ${builds[bi]!.label} (${builds[bi]!.commit.slice(0, 12)}), round ${round + 1}/${opts.runs}\n`);
        results[ci]![bi]!.push((await runCase(builds[bi]!, CASES[ci]!)) as Record<string, number>);
      }
    }
  }
  const comparison = CASES.map((c, ci) => {
    const medians: Record<string, Record<string, number>> = {};
    const samples: Record<string, Record<string, number[]>> = {};
    builds.forEach((b, bi) => {
      const runs = results[ci]![bi]!;
      medians[b.label] = {};
      samples[b.label] = {};
      for (const key of Object.keys(runs[0]!)) {
        const values = runs.map((r) => r[key]).filter((v): v is number => typeof v === 'number');
        if (values.length !== runs.length) continue;
        medians[b.label]![key] = median(values);
        if (key in c.metrics) samples[b.label]![key] = values;
      }
    });
    const ratios: Record<string, Record<string, number>> = {};
    for (const b of bases) {
      ratios[`current/${b.label}`] = Object.fromEntries(Object.keys(c.metrics).map((k) => [k, medians['current']![k]! / medians[b.label]![k]!]));
    }
    return { name: c.name, runs: opts.runs, medians, samples, ratios };
  });
  const result = {
    ...machineHeader(),
    loadAverage: os.loadavg(),
    builds: builds.map((b) => ({ label: b.label, commit: b.commit, subject: b.subject, ...(b.uncommitted ? { uncommitted: true } : {}) })),
    comparison,
  };
  const json = JSON.stringify(result, null, 2);
  await mkdir(path.dirname(opts.out), { recursive: true });
  await writeFile(opts.out + '.tmp', json + '\n');
  await rename(opts.out + '.tmp', opts.out);
  process.stdout.write(json + '\n');
  const lines = ['', `case                     metric                ${builds.map((b) => b.label.padStart(12)).join(' ')}   ratios`];
  for (const c of comparison) {
    for (const metric of Object.keys(METRICS)) {
      const figures = builds.map((b) => (c.medians[b.label]![metric]! / 1e6).toFixed(2).padStart(11) + 'M').join(' ');
      const ratios = Object.entries(c.ratios).map(([k, r]) => `${k} ${r[metric]!.toFixed(2)}x`).join(', ');
      lines.push(`${c.name.padEnd(24)} ${metric.padEnd(21)} ${figures}   ${ratios}`);
    }
  }
  process.stderr.write(lines.join('\n') + '\n' + builds.map((b) => `${b.label}: ${b.commit.slice(0, 12)} ${b.subject.slice(0, 70)}`).join('\n') + '\n');
}

const program = new Command('sim-compare')
  .description("The simulator's accesses per second in the current tree and older builds, measured in one run (JSON)")
  .option('--base <rev>', `a build to compare with, repeatable (default: ${PRE_FIDELITY_BASE} and the merge-base with main)`, (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--runs <n>', 'rounds (each build once per round; medians are reported)', positive, 5)
  .option('--out <file>', 'where to write the JSON', 'out/sim-compare.json')
  .action(async (opts: Options) => main(opts));

await program.parseAsync(process.argv);
