/**
 * Host side of the test bed: builds (cached) the kernel and initramfs with
 * build.sh, boots a two-NUMA-node guest under QEMU/TCG with node 1 on a
 * memory-backend-file (the stand-in for NVM), and collects the lines the
 * in-guest program prints on the serial console:
 *   HMMV-RESULT {"check": ..., ...}   one per measured fact
 * The QEMU process is killed by pid when the guest is done, on timeout, or on error.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoDir = fileURLToPath(new URL('../../..', import.meta.url));
export const cacheDir = process.env.HMMV_TESTBED_CACHE ?? join(repoDir, '.cache', 'testbed');

export interface GuestResult {
  readonly check: string;
  readonly [key: string]: unknown;
}

export interface GuestRun {
  readonly results: GuestResult[];
  /** Everything the guest printed (kernel log included), for failure messages. */
  readonly console: string;
  readonly bootSeconds: number;
  readonly totalSeconds: number;
  readonly exitCode: number | undefined;
}

/** Builds the test bed; the error says what to install when a tool is missing. */
export async function buildTestbed(): Promise<string> {
  try {
    const { stdout } = await run('bash', [join(repoDir, 'test/guest/build.sh'), repoDir, cacheDir], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n').pop()!;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`building the test bed failed: ${e.stderr?.trim() || e.message}`);
  }
}

export interface BootOptions {
  scenario: string;
  /** Bounded wait for a hung guest. */
  timeoutMs: number;
  dramMiB?: number;
  nvmMiB?: number;
}

export async function bootGuest(opts: BootOptions): Promise<GuestRun> {
  const initrd = await buildTestbed();
  const work = mkdtempSync(join(tmpdir(), 'hmmv-testbed-'));
  const dram = opts.dramMiB ?? 512;
  const nvm = opts.nvmMiB ?? 256;
  const args = [
    '-machine', 'pc,accel=tcg,hmat=on', '-cpu', 'max', '-smp', '2', '-m', `${dram + nvm}M`,
    '-object', `memory-backend-ram,id=dram,size=${dram}M`,
    '-object', `memory-backend-file,id=nvm,size=${nvm}M,mem-path=${join(work, 'nvm.img')},share=on`,
    '-numa', 'node,nodeid=0,memdev=dram,cpus=0-1,initiator=0',
    '-numa', 'node,nodeid=1,memdev=nvm,initiator=0',
    '-numa', 'dist,src=0,dst=1,val=30',
    // ACPI HMAT: node 1 is slower (Optane-like latency and bandwidth), so the
    // guest kernel can place it in a lower memory tier.
    '-numa', 'hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=80',
    '-numa', 'hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=20G',
    '-numa', 'hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=300',
    '-numa', 'hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=4G',
    '-kernel', join(cacheDir, 'vmlinuz'), '-initrd', initrd,
    '-append', `console=ttyS0 loglevel=4 panic=-1 hmmv.scenario=${opts.scenario}`,
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-nodefaults', '-no-reboot',
  ];
  const started = Date.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let bootSeconds = NaN;
  const results: GuestResult[] = [];
  let exitCode: number | undefined;
  let buffered = '';
  qemu.stdout.on('data', (d: Buffer) => {
    const s = d.toString('utf8');
    out += s;
    buffered += s;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).replace(/\r$/, '');
      buffered = buffered.slice(nl + 1);
      const at = line.indexOf('HMMV-');
      if (at < 0) continue;
      const tagged = line.slice(at);
      if (tagged.startsWith('HMMV-BOOTED')) bootSeconds = (Date.now() - started) / 1000;
      else if (tagged.startsWith('HMMV-RESULT ')) {
        try {
          results.push(JSON.parse(tagged.slice('HMMV-RESULT '.length)) as GuestResult);
        } catch {
          results.push({ check: 'unparsable', line: tagged });
        }
      } else if (tagged.startsWith('HMMV-EXIT ')) exitCode = Number(tagged.slice('HMMV-EXIT '.length));
    }
  });
  qemu.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`guest did not finish within ${opts.timeoutMs} ms; console tail:\n${out.slice(-3000)}`)), opts.timeoutMs);
      qemu.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start qemu-system-x86_64 (apt-get install qemu-system-x86): ${e.message}`));
      });
      qemu.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (exitCode === undefined) reject(new Error(`qemu exited (${code ?? signal}) before the guest program finished: ${err}\nconsole tail:\n${out.slice(-3000)}`));
        else resolve();
      });
    });
  } finally {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
  return { results, console: out, bootSeconds, totalSeconds: (Date.now() - started) / 1000, exitCode };
}
