/**
 * Runs a scenario: every case under every policy, one machine at a time, the
 * same VMs and seeds for every policy. Each run is saved as it finishes
 * (runs/<case>--<policy>.json in the report folder) and reused by a later
 * invocation with the same configuration, so a long sweep can be resumed or
 * extended by a policy without running the rest again.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareExperiment } from './experiment.js';
import type { MachineResult } from '../machine/machine.js';
import { writeOutputs } from './output.js';
import type { Scenario, ScenarioCase } from './scenarios.js';
import { makeWorkload } from '../workloads/index.js';

export interface CaseRun {
  readonly caseId: string;
  readonly group: string;
  readonly dramFraction: number;
  readonly policy: string;
  readonly result: MachineResult;
}

interface SavedRun {
  readonly key: string;
  readonly run: CaseRun;
}

export interface RunScenarioOptions {
  /** Run again even if a saved run matches. */
  readonly fresh?: boolean;
  /** Largest memory one run may take (experiment.ts); not part of a run's identity. */
  readonly memoryLimitBytes?: number;
  /** Progress: what runs, and how far (0..1). */
  readonly onProgress?: (label: string, index: number, total: number, fraction: number) => void;
}

/** all-DRAM does not depend on the host's DRAM size: one run per group serves every fraction. */
function runFile(c: ScenarioCase, policy: string): { file: string; key: string } {
  if (policy === 'all-dram') {
    return { file: `${c.group}--all-dram.json`, key: JSON.stringify({ ...c.config, dramPages: 'any', policy }) };
  }
  return { file: `${c.id}--${policy}.json`, key: JSON.stringify({ ...c.config, policy }) };
}

export async function runScenario(sc: Scenario, outDir: string, options: RunScenarioOptions = {}): Promise<CaseRun[]> {
  const runsDir = join(outDir, 'runs');
  await mkdir(runsDir, { recursive: true });
  // Build every machine first: bad input (unknown policy or workload, impossible sizes) fails before anything runs.
  const limit = options.memoryLimitBytes !== undefined ? { memoryLimitBytes: options.memoryLimitBytes } : {};
  for (const c of sc.cases) prepareExperiment({ ...c.config, policies: sc.policies, ...limit }, makeWorkload);
  const jobs = sc.cases.flatMap((c) => sc.policies.map((policy) => ({ c, policy, ...runFile(c, policy) })));
  const unique = jobs.filter((j, i) => jobs.findIndex((k) => k.file === j.file) === i);
  const done = new Map<string, CaseRun>();
  let index = 0;
  for (const job of unique) {
    index++;
    const path = join(runsDir, job.file);
    if (!options.fresh) {
      const saved = await readFile(path, 'utf8').then((t) => JSON.parse(t) as SavedRun, () => undefined);
      if (saved && saved.key === job.key) {
        done.set(job.file, saved.run);
        options.onProgress?.(`${job.c.id} ${job.policy} (saved)`, index, unique.length, 1);
        continue;
      }
    }
    const [prepared] = prepareExperiment({ ...job.c.config, policies: [job.policy], ...limit }, makeWorkload);
    const label = `${job.c.id} ${job.policy}`;
    const result = await prepared!.build().run(
      job.c.config.durationNs,
      (f) => options.onProgress?.(label, index, unique.length, f),
      job.c.config.warmupNs,
    );
    const run: CaseRun = { caseId: job.c.id, group: job.c.group, dramFraction: job.c.dramFraction, policy: job.policy, result };
    await writeOutputs(runsDir, { [job.file]: JSON.stringify({ key: job.key, run } satisfies SavedRun) + '\n' });
    done.set(job.file, run);
  }
  // Every (case, policy), the all-DRAM reference repeated for each case of its group.
  return jobs.map((j) => {
    const run = done.get(j.file)!;
    return { ...run, caseId: j.c.id, dramFraction: j.c.dramFraction };
  });
}
