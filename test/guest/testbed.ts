/**
 * Host side of the test bed: builds (cached) the kernel and the initramfs
 * layers with build.sh, boots the guest under QEMU/TCG, and collects the lines
 * the guest prints on the serial console:
 *   HMMV-RESULT {"check": ..., ...}   one per measured fact (set-up steps too)
 * The guest: node 0 = RAM with both CPUs; optionally node 1 = a
 * memory-backend-file (the first test bed's stand-in for NVM); optionally
 * emulated NVDIMMs (ACPI NFIT) on the next node, set up in the guest as an
 * Optane host does (the optane layer), and libvirtd running (the libvirt
 * layer). The ACPI HMAT makes every node but 0 slow, so the guest kernel puts
 * them in a lower memory tier. The QEMU process is killed by pid when the
 * guest is done, on timeout, or on error.
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
  /** Seconds from QEMU's start to /init running, and to the layers' set-up steps done. */
  readonly bootSeconds: number;
  readonly setupSeconds: number;
  readonly totalSeconds: number;
  readonly exitCode: number | undefined;
  /** Boots that panicked before /init and were retried (bootGuest), with the panic's first line each. */
  readonly bootPanics: readonly string[];
}

/** A boot whose kernel panicked before /init ran: nothing of ours had run yet. */
class PanicBeforeInit extends Error {
  constructor(message: string, readonly line: string) {
    super(message);
  }
}

/** Initramfs layers on top of the base one (test/guest/layers/NAME.sh), in the order they are stacked. */
export const LAYERS = ['optane', 'libvirt', 'kmod'] as const;
export type Layer = (typeof LAYERS)[number];

/**
 * An emulated NVDIMM (QEMU nvdimm device, ACPI NFIT), set up in the guest by
 * the optane layer: 'system-ram' as an Optane host onlines it (devdax, then
 * daxctl --mode=system-ram: a memory-only NUMA node), 'devdax' left as
 * /dev/daxN.0, not onlined (memory reserved for VMs, as hmmv.ko wants it).
 */
export interface NvdimmSpec {
  sizeMiB: number;
  mode: 'system-ram' | 'devdax';
}

/** Builds the test bed with these layers; the error says what to install when a tool is missing. */
export async function buildTestbed(layers: readonly Layer[] = []): Promise<string> {
  try {
    const { stdout } = await run('bash', [join(repoDir, 'test/guest/build.sh'), repoDir, cacheDir, ...layers], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n').pop()!;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`building the test bed failed: ${e.stderr?.trim() || e.message}`);
  }
}

export interface BootOptions {
  /** Passed to the in-guest program as its argument (hmmv.scenario=). */
  scenario: string;
  /** The in-guest program, relative to the app folder (default dist/test/guest/in-guest.js). */
  program?: string;
  /** Bounded wait for a hung guest. */
  timeoutMs: number;
  /** Node 0: RAM with the CPUs. */
  dramMiB?: number;
  /** Node 1: a memory-backend-file without CPUs (the first test bed's slow node); 0 for none. */
  nvmMiB?: number;
  /** Emulated NVDIMMs, all on the next node id (memory-only, slow per the HMAT). */
  nvdimms?: readonly NvdimmSpec[];
  /** Start virtlogd and libvirtd in the guest (the libvirt layer). */
  libvirtd?: boolean;
  /** More layers than the options above imply. */
  layers?: readonly Layer[];
  /** Extra kernel command-line words. */
  append?: readonly string[];
  /** Every console line, as it arrives (progress, debugging). */
  onLine?: (line: string) => void;
}

/** The NUMA node the NVDIMMs' memory joins in the guest. */
export const nvdimmNode = (opts: Pick<BootOptions, 'nvmMiB'>): number => ((opts.nvmMiB ?? 256) > 0 ? 2 : 1);

/** QEMU's arguments for these options (guest memory under `work`). */
export function qemuArgs(opts: BootOptions, initrd: string, work: string): string[] {
  const dram = opts.dramMiB ?? 512;
  const nvm = opts.nvmMiB ?? 256;
  const nvdimms = opts.nvdimms ?? [];
  const nvdimmMiB = nvdimms.reduce((s, d) => s + d.sizeMiB, 0);
  const slowNodes = [...(nvm > 0 ? [1] : []), ...(nvdimms.length > 0 ? [nvdimmNode(opts)] : [])];
  const mem = nvdimms.length > 0 ? `${dram + nvm}M,slots=${nvdimms.length},maxmem=${dram + nvm + nvdimmMiB}M` : `${dram + nvm}M`;
  const args = [
    '-machine', `pc,accel=tcg,hmat=on${nvdimms.length > 0 ? ',nvdimm=on' : ''}`, '-cpu', 'max', '-smp', '2', '-m', mem,
    '-object', `memory-backend-ram,id=dram,size=${dram}M`,
    '-numa', 'node,nodeid=0,memdev=dram,cpus=0-1,initiator=0',
  ];
  if (nvm > 0) {
    args.push('-object', `memory-backend-file,id=nvm,size=${nvm}M,mem-path=${join(work, 'nvm.img')},share=on`);
    args.push('-numa', 'node,nodeid=1,memdev=nvm,initiator=0');
  }
  if (nvdimms.length > 0) args.push('-numa', `node,nodeid=${nvdimmNode(opts)},initiator=0`);
  // QEMU wants a distance for every pair of nodes.
  const nodes = [0, ...slowNodes];
  for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) args.push('-numa', `dist,src=${nodes[i]},dst=${nodes[j]},val=${i === 0 ? 30 : 20}`);
  // ACPI HMAT: the slow nodes have Optane-like latency and bandwidth, so the
  // guest kernel places them in a lower memory tier.
  args.push(
    '-numa', 'hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=80',
    '-numa', 'hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=20G',
  );
  for (const n of slowNodes) {
    args.push(
      '-numa', `hmat-lb,initiator=0,target=${n},hierarchy=memory,data-type=access-latency,latency=300`,
      '-numa', `hmat-lb,initiator=0,target=${n},hierarchy=memory,data-type=access-bandwidth,bandwidth=4G`,
    );
  }
  nvdimms.forEach((d, i) => {
    args.push('-object', `memory-backend-file,id=nvdimm${i},share=on,mem-path=${join(work, `nvdimm${i}.img`)},size=${d.sizeMiB}M`);
    args.push('-device', `nvdimm,memdev=nvdimm${i},id=nvdimm${i},node=${nvdimmNode(opts)}`);
  });
  const append = ['console=ttyS0', 'loglevel=4', 'panic=-1', `hmmv.scenario=${opts.scenario}`];
  if (opts.program) append.push(`hmmv.program=${opts.program}`);
  if (nvdimms.length > 0) append.push(`hmmv.nvdimm=${nvdimms.map((d) => d.mode).join(',')}`);
  if (opts.libvirtd) append.push('hmmv.libvirtd=1');
  append.push(...(opts.append ?? []));
  args.push(
    '-kernel', join(cacheDir, 'vmlinuz'), '-initrd', initrd,
    '-append', append.join(' '),
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-nodefaults', '-no-reboot',
  );
  return args;
}

/** The layers these options need. */
export function layersFor(opts: BootOptions): Layer[] {
  const layers = new Set<Layer>(opts.layers ?? []);
  if ((opts.nvdimms ?? []).length > 0) layers.add('optane');
  if (opts.libvirtd) layers.add('libvirt');
  return LAYERS.filter((l) => layers.has(l));
}

/**
 * Boots the test bed and runs its program. A kernel that panics before /init
 * (seen once in CI: an int3 oops at 4 s, in sched_clock_cpu under an IPI,
 * with no module loaded and nothing of hmmv's run; read as TCG, not
 * investigated further) is booted again, once, and the run says so
 * in `bootPanics`. A panic after /init fails the run as any error does.
 */
export async function bootGuest(opts: BootOptions): Promise<GuestRun> {
  const initrd = await buildTestbed(layersFor(opts));
  try {
    return await bootOnce(opts, initrd, []);
  } catch (error) {
    if (!(error instanceof PanicBeforeInit)) throw error;
    process.stderr.write(`      test bed: the guest kernel panicked before /init (${error.line}); booting it again, once\n`);
    return bootOnce(opts, initrd, [error.line]);
  }
}

/** One boot; `bootPanics`: the earlier boots' panics, carried into the result. */
async function bootOnce(opts: BootOptions, initrd: string, bootPanics: string[]): Promise<GuestRun> {
  const work = mkdtempSync(join(tmpdir(), 'hmmv-testbed-'));
  const args = qemuArgs(opts, initrd, work);
  const started = Date.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let bootSeconds = NaN;
  let setupSeconds = NaN;
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
      opts.onLine?.(line);
      const at = line.indexOf('HMMV-');
      if (at < 0) continue;
      const tagged = line.slice(at);
      if (tagged.startsWith('HMMV-BOOTED')) bootSeconds = (Date.now() - started) / 1000;
      else if (tagged.startsWith('HMMV-SETUP-DONE')) setupSeconds = (Date.now() - started) / 1000;
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
        const message = `qemu exited (${code ?? signal}) before the guest program finished: ${err}\nconsole tail:\n${out.slice(-3000)}`;
        const panic = /(Oops|Kernel panic)[^\n]*/.exec(out)?.[0];
        if (exitCode === undefined && Number.isNaN(bootSeconds) && panic) reject(new PanicBeforeInit(message, panic.trim()));
        else if (exitCode === undefined) reject(new Error(message));
        else resolve();
      });
    });
  } finally {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
  return { results, console: out, bootSeconds, setupSeconds, totalSeconds: (Date.now() - started) / 1000, exitCode, bootPanics };
}
