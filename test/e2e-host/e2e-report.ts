/**
 * The emulated-Optane suite's boot options and its record: what the host
 * suite reads from the guest's results and writes to out/e2e-host.json
 * (page counts at the end of each run; the schema is in docs/emulated-optane.md).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoDir, type BootOptions, type GuestRun } from '../guest/testbed.js';

export const E2E_HOST_JSON = join(repoDir, 'out', 'e2e-host.json');

/**
 * The Optane host: node 0 = 1 GiB DRAM with both CPUs; a 512 MiB NVDIMM
 * onlined as system RAM (384 MiB in 128 MiB blocks, node 1) and a 256 MiB
 * NVDIMM left as /dev/dax1.0 for hmmv.ko (the kmod layer: the module built
 * for the test-bed kernel); libvirtd running.
 */
export function e2eHostBootOptions(timeoutMs: number): BootOptions {
  const verbose = process.env['HMMV_TESTBED_VERBOSE'] === '1';
  return {
    scenario: 'all',
    program: 'dist/test/e2e-host/in-host.js',
    timeoutMs,
    dramMiB: 1024,
    nvmMiB: 0,
    nvdimms: [
      { sizeMiB: 512, mode: 'system-ram' },
      { sizeMiB: 256, mode: 'devdax' },
    ],
    libvirtd: true,
    layers: ['kmod'],
    ...(verbose ? { onLine: (l: string) => !l.includes('TINY HB') && process.stderr.write(`      | ${l}\n`) } : {}),
  };
}

// Results are JSON from the guest: their shape is asserted where they are used.
export type Result = Record<string, any>;

export function resultOf(guest: GuestRun, check: string): Result {
  const error = guest.results.find((r) => r.check === 'error');
  const r = guest.results.find((x) => x.check === check);
  assert.ok(
    r,
    `the guest reported no "${check}"${error ? `; it failed: ${String(error['message'])}\n${String(error['stack'])}\n${JSON.stringify(error['diagnostics'], null, 1)?.slice(0, 6000)}` : ''}\nconsole tail:\n${guest.console.slice(-3000)}`,
  );
  return r as Result;
}

/** `suiteSeconds`: the suite's own wall time (test-bed build from the cache, boot, the in-guest program). */
export function writeE2eHostJson(guest: GuestRun, suiteSeconds: number): void {
  const get = (check: string): Result | undefined => guest.results.find((r) => r.check === check) as Result | undefined;
  const converged = get('converged');
  const baseline = get('baseline');
  const faults = (get('faults')?.['faults'] as Result[] | undefined) ?? [];
  const record = {
    generatedAt: new Date().toISOString(),
    host: {
      suiteSeconds,
      bootSeconds: guest.bootSeconds,
      /** Boots of the test bed whose kernel panicked before /init and were retried (test/guest/testbed.ts). */
      bootPanics: guest.bootPanics,
      hostReadySeconds: guest.setupSeconds,
      totalSeconds: guest.totalSeconds,
      inGuestSeconds: get('done')?.['seconds'],
      nvdimms: get('nvdimm-setup')?.['devices'],
      libvirtd: get('libvirtd-setup'),
      startupCosts: get('startup-costs'),
      memoryTiers: get('topology')?.['topology']?.memoryTiers,
      /** Seconds into the in-guest program at which each step reported. */
      steps: Object.fromEntries(guest.results.filter((r) => r['atSeconds'] !== undefined && r.check !== 'cpu').map((r) => [r.check, r['atSeconds']])),
      /** Per phase of the in-guest program: its seconds, the host's CPU seconds busy and idle, and CPU seconds per kind of process (test/e2e-host/cpu-usage.ts). */
      cpuByPhase: guest.results.filter((r) => r.check === 'cpu').at(-1)?.['phases'],
    },
    pool: converged?.['pool'],
    domains: (converged?.['domains'] as Result[] | undefined) ?? [],
    /** The hmmv.ko regions of the kmod domains at convergence (REGION_INFO). */
    kmodRegions: converged?.['regions'],
    baseline: baseline ? { policy: baseline['policy'], seconds: baseline['seconds'], limitSeconds: baseline['limitSeconds'], domains: baseline['domains'], vmstat: baseline['vmstat'] } : undefined,
    faults: faults.map((f) => ({ name: f['name'], passed: f['passed'] })),
    destroyHandover: ((f) => f && { domain: f['other'], quotaPagesBefore: f['otherQuotaBefore'], quotaPagesAfter: f['otherQuotaAfter'], maxPages: f['otherMaxPages'] })(faults.find((f) => f['name'] === 'virsh-destroy')),
    error: get('error')?.['message'],
  };
  mkdirSync(join(repoDir, 'out'), { recursive: true });
  writeFileSync(E2E_HOST_JSON, `${JSON.stringify(record, null, 2)}\n`);
}
