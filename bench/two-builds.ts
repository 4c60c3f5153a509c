/**
 * Two builds measured in one run: the previous main (a given commit, built
 * beside the working tree into a temporary directory) and the current tree.
 * Each benchmark case runs in a fresh Node.js process per build, the two
 * builds alternating (A B, then B A, ...) so that the machine's load, which
 * comes and goes on a shared machine, hits both; figures are medians over
 * the runs and ratios are taken between the medians (> 1: the current tree is
 * better). Any benchmark module that exports a function returning a JSON
 * object of numbers can be a case, in either build: the previous build needs
 * no command line of its own (bench/run-export.ts calls the export).
 *
 *   const base = await prepareBaseline(await resolveBaseRevision({}));
 *   const table = await compareBuilds([base, currentBuild()], [{ name, module: 'bench/x.js', exportName: 'benchX', args: [], metrics: { opsPerSec: 'higher' } }], 5);
 *
 * The base revision: `--base REV` (bench/run.ts), else HMMV_BENCH_BASE, else
 * the merge-base of HEAD with origin/main (or main). Builds are cached per
 * commit in the temporary directory (a commit's tree never changes).
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One build of the project: a directory holding its compiled `dist/`. */
export interface Build {
  readonly label: string;
  readonly root: string;
  readonly commit: string;
  readonly subject: string;
  /** The working tree had changes not committed (current build only). */
  readonly uncommitted?: boolean;
}

/** Whether a lower or a higher figure is better. */
export type Better = 'lower' | 'higher';

export interface BenchCase {
  readonly name: string;
  /** Module path relative to a build's `dist/`, e.g. `bench/engine-window.js`. */
  readonly module: string;
  readonly exportName: string;
  readonly args: readonly unknown[];
  /** The figures to take ratios of. Every numeric field of the result gets a median. */
  readonly metrics: Readonly<Record<string, Better>>;
  /**
   * Run the current build's module in the base build too: it is copied into
   * the base's dist/ beside the base's own (so its relative imports load the
   * base's code), and both builds run the same driver. Only for a driver that
   * calls nothing the base lacks.
   */
  readonly sameDriver?: boolean;
}

export interface CaseComparison {
  readonly name: string;
  readonly runs: number;
  /** Median of every numeric field, per build label. */
  readonly medians: Record<string, Record<string, number>>;
  /** Each metric's value in every run, per build label (to see the noise). */
  readonly samples: Record<string, Record<string, number[]>>;
  /** Per metric: base / current for lower-is-better, current / base for higher-is-better (> 1: current better). */
  readonly ratios: Record<string, number>;
  /** A build that failed this case (e.g. the base has no such benchmark): its error. */
  readonly errors?: Record<string, string>;
}

/** The project's root (the directory holding dist/), from this compiled file's place (dist/bench/). */
export const projectRoot = (): string => path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

function tryGit(cwd: string, ...args: string[]): string | undefined {
  try {
    return git(cwd, ...args);
  } catch {
    return undefined;
  }
}

/** The commit to compare against: the flag, else HMMV_BENCH_BASE, else the merge-base with origin/main (or main). */
export function resolveBaseRevision(opts: { base?: string; root?: string }): string {
  const root = opts.root ?? projectRoot();
  const wanted = opts.base ?? process.env['HMMV_BENCH_BASE'];
  if (wanted) {
    const sha = tryGit(root, 'rev-parse', '--verify', '--quiet', `${wanted}^{commit}`);
    if (!sha) throw new Error(`bench base "${wanted}" is not a commit in ${root} (give a commit, tag or branch via --base or HMMV_BENCH_BASE)`);
    return sha;
  }
  for (const ref of ['origin/main', 'main']) {
    if (!tryGit(root, 'rev-parse', '--verify', '--quiet', ref)) continue;
    const sha = tryGit(root, 'merge-base', 'HEAD', ref);
    if (sha) return sha;
  }
  throw new Error(`no base to compare with: ${root} has neither origin/main nor main (give one via --base or HMMV_BENCH_BASE)`);
}

/** The working tree as a build (it must have been built: `npm run build`). */
export function currentBuild(root = projectRoot()): Build {
  const commit = tryGit(root, 'rev-parse', 'HEAD') ?? 'unknown';
  const status = tryGit(root, 'status', '--porcelain', '--untracked-files=no') ?? '';
  return { label: 'current', root, commit, subject: tryGit(root, 'log', '-1', '--format=%s') ?? '', uncommitted: status !== '' };
}

/**
 * Builds `commit` into `<tmpdir>/hmmv-bench-<sha>` unless already built there:
 * its tree from `git archive`, the current tree's node_modules (linked when
 * the lockfiles match, else `npm ci` there), then its own tsc build.
 */
export function prepareBaseline(commit: string, opts: { root?: string; cacheDir?: string; log?: (line: string) => void } = {}): Build {
  const root = opts.root ?? projectRoot();
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const given = commit;
  commit = tryGit(root, 'rev-parse', '--verify', '--quiet', `${given}^{commit}`) ?? '';
  if (!commit) throw new Error(`bench base "${given}" is not a commit in ${root}`);
  const dir = path.join(opts.cacheDir ?? os.tmpdir(), `hmmv-bench-${commit.slice(0, 12)}`);
  const subject = git(root, 'log', '-1', '--format=%s', commit);
  const marker = path.join(dir, '.hmmv-bench-built');
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === commit) return { label: 'base', root: dir, commit, subject };

  log(`bench: building base ${commit.slice(0, 12)} (${subject}) in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', 'git archive --format=tar "$1" | tar -x -C "$2"', 'sh', commit, dir], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const lock = (d: string) => (existsSync(path.join(d, 'package-lock.json')) ? readFileSync(path.join(d, 'package-lock.json'), 'utf8') : '');
  if (lock(dir) === lock(root) && existsSync(path.join(root, 'node_modules'))) {
    symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  } else {
    log('bench: the base has other dependencies: npm ci there');
    execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  execFileSync(process.execPath, [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  writeFileSync(marker, commit + '\n');
  return { label: 'base', root: dir, commit, subject };
}

/** Runs one case in a fresh process of `build`; resolves to its JSON result. */
export function runCase(build: Build, c: BenchCase, runner = path.join(projectRoot(), 'dist', 'bench', 'run-export.js')): Promise<Record<string, unknown>> {
  let modulePath = path.join(build.root, 'dist', c.module);
  const ownModule = path.join(projectRoot(), 'dist', c.module);
  if (c.sameDriver && modulePath !== ownModule) {
    modulePath = modulePath.replace(/\.js$/, '.current-driver.js');
    copyFileSync(ownModule, modulePath);
  }
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [runner, modulePath, c.exportName, JSON.stringify(c.args)], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const why = stderr.trim().split('\n').filter((l) => /Error|error/.test(l))[0] ?? err.message;
        reject(new Error(`${c.name} in the ${build.label} build (${build.commit.slice(0, 12)}): ${why}`));
        return;
      }
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`${c.name} in the ${build.label} build printed no JSON result: ${last.slice(0, 200)}`));
      }
    });
  });
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >>> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Runs every case `runs` times in each of the two builds, alternating which
 * build goes first, and returns medians, samples and ratios per case.
 * builds[0] is the base, builds[1] the current tree.
 */
export async function compareBuilds(builds: readonly [Build, Build], cases: readonly BenchCase[], runs: number, log = (line: string) => process.stderr.write(line + '\n')): Promise<CaseComparison[]> {
  const results = cases.map(() => builds.map(() => [] as Record<string, unknown>[]));
  const errors = cases.map(() => ({}) as Record<string, string>);
  for (let run = 0; run < runs; run++) {
    for (let ci = 0; ci < cases.length; ci++) {
      const c = cases[ci]!;
      const order = run % 2 === 0 ? [0, 1] : [1, 0];
      for (const bi of order) {
        const b = builds[bi]!;
        if (errors[ci]![b.label]) continue;
        log(`bench: ${c.name}, ${b.label} build, run ${run + 1}/${runs}`);
        try {
          results[ci]![bi]!.push(await runCase(b, c));
        } catch (err) {
          errors[ci]![b.label] = (err as Error).message;
          log(`bench: ${(err as Error).message}`);
        }
      }
    }
  }
  return cases.map((c, ci) => summarize(c, builds, results[ci]!, errors[ci]!));
}

function summarize(c: BenchCase, builds: readonly [Build, Build], results: Record<string, unknown>[][], errors: Record<string, string>): CaseComparison {
  const medians: Record<string, Record<string, number>> = {};
  const samples: Record<string, Record<string, number[]>> = {};
  builds.forEach((b, bi) => {
    const runs = results[bi]!;
    if (runs.length === 0) return;
    medians[b.label] = {};
    samples[b.label] = {};
    for (const key of Object.keys(runs[0]!)) {
      const values = runs.map((r) => r[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (values.length !== runs.length) continue;
      medians[b.label]![key] = median(values);
      if (key in c.metrics) samples[b.label]![key] = values;
    }
  });
  const ratios: Record<string, number> = {};
  const [base, current] = [medians[builds[0].label], medians[builds[1].label]];
  if (base && current) {
    for (const [key, better] of Object.entries(c.metrics)) {
      const b = base[key], cur = current[key];
      if (b === undefined || cur === undefined || b === 0 || cur === 0) continue;
      ratios[key] = better === 'lower' ? b / cur : cur / b;
    }
  }
  const out: CaseComparison = { name: c.name, runs: Math.max(...results.map((r) => r.length)), medians, samples, ratios };
  return Object.keys(errors).length > 0 ? { ...out, errors } : out;
}
