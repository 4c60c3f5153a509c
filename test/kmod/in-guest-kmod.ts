/**
 * Runs INSIDE the test-bed guest (kmod + optane layers, one devdax NVDIMM not
 * onlined): loads hmmv.ko, runs the C checker against it (kmod-check.c),
 * loads it again for the TypeScript kmod backend's checks, and reads the
 * kernel log for oopses and warnings. Prints "HMMV-RESULT {json}" lines; the
 * mocha suite on the host (test/kmod/kmod-guest.test.ts) asserts on them.
 * Argument: "checks" (module + backend), "bench" (the kmod-vs-linux
 * benchmark only, bench/kmod-vs-linux.ts), or "all".
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { report } from './guest-report.js';
import { runBackendChecks } from './in-guest-backend.js';
import { runBenchmark } from './in-guest-bench.js';

/** Kernel log lines that mean the kernel is hurt (oops, BUG, WARN, lockups, memory corruption). */
const BAD_KERNEL_LINE =
  /\b(BUG|Oops|WARNING|general protection|Call Trace|kernel BUG|RIP:|soft lockup|hard LOCKUP|hung_task|blocked for more than|refcount_t|list_add corruption|list_del corruption|Bad page|page dumped because|UBSAN|KASAN|kfence)\b/;
/** Taint flags (Documentation/admin-guide/tainted-kernels.rst) the suite would have caused: B, D, W, L. */
const TAINT_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [5, 'B (bad page)'],
  [7, 'D (oops or BUG)'],
  [9, 'W (WARN)'],
  [14, 'L (soft lockup)'],
];

const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

export function insmod(): { ok: boolean; seconds: number; error?: string } {
  const t0 = uptime();
  const r = spawnSync('insmod', ['/lib/modules/hmmv/hmmv.ko'], { encoding: 'utf8' });
  return { ok: r.status === 0 && existsSync('/dev/hmmv/control'), seconds: uptime() - t0, ...(r.status === 0 ? {} : { error: r.stderr.trim() }) };
}

/** The devdax devices the NVDIMM set-up left (not onlined). */
export function daxDevices(): string[] {
  const dir = '/sys/bus/dax/devices';
  return existsSync(dir) ? readdirSync(dir).filter((d) => /^dax\d+\.\d+$/.test(d)).sort() : [];
}

function kernelLog(): string {
  return spawnSync('dmesg', [], { encoding: 'utf8' }).stdout;
}

/** Runs the C checker; its HMMV-RESULT lines go straight to the console. */
async function runChecker(dax: string): Promise<number> {
  const child = spawn('/bin/kmod-check', ['checks', dax], { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  report('kmod-checker-exit', { code, stderr: stderr.slice(-2000) });
  return code;
}

async function main(scenario: string): Promise<void> {
  report('kmod-started', { scenario, uptime: uptime() });
  const devices = daxDevices();
  const dax = devices[0];
  const load = insmod();
  const taint = readFileSync('/proc/sys/kernel/tainted', 'utf8').trim();
  const control = existsSync('/dev/hmmv/control') ? statSync('/dev/hmmv/control') : undefined;
  report('kmod-load', {
    ...load,
    daxDevices: devices,
    taint: Number(taint),
    controlMode: control ? (control.mode & 0o777).toString(8) : null,
    banner: kernelLog().split('\n').find((l) => l.includes('hmmv: ABI')) ?? null,
  });
  if (!load.ok || !dax) return;
  if (scenario !== 'bench') {
    await runChecker(dax);
    // The checker unloaded the module at its end; the backend gets it fresh.
    const again = insmod();
    report('kmod-reload', again);
    if (!again.ok) return;
    await runBackendChecks(dax);
  }
  if (scenario === 'bench' || scenario === 'all') await runBenchmark(dax);

  const log = kernelLog();
  const bad = log.split('\n').filter((l) => BAD_KERNEL_LINE.test(l));
  const tainted = Number(readFileSync('/proc/sys/kernel/tainted', 'utf8').trim());
  const badTaint = TAINT_FLAGS.filter(([bit]) => (tainted & (1 << bit)) !== 0).map(([, name]) => name);
  const hmmvLines = log.split('\n').filter((l) => l.includes('hmmv'));
  report('kmod-kernel-log', {
    ok: bad.length === 0 && badTaint.length === 0,
    bad: bad.slice(0, 20),
    tainted,
    badTaint,
    // The refusals the module logs, so a caller's mistake is named in dmesg too.
    refusals: hmmvLines.filter((l) => /speaks ABI|before HMMV_IOC_HELLO| is _IO[A-Z]* of \d+ bytes|no call/.test(l)).slice(0, 20),
    hmmvLines: hmmvLines.slice(-20),
  });
}

main(process.argv[2] ?? 'checks').then(
  () => process.exit(0),
  (err: unknown) => {
    report('kmod-crashed', { error: String((err as Error)?.stack ?? err) });
    process.exit(1);
  },
);
