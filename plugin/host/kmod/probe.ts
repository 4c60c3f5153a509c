/**
 * What `hmmv host check` says about hmmv.ko: loaded or not (and how to build
 * and load it with DKMS), its ABI and version, the regions and devdax ranges
 * it holds, and every devdax device on the host with whether the kmod backend
 * can use it: bound to device_dax or to no driver (free: the hook unbinds it
 * and the module claims it), claimed by hmmv.ko already, or onlined as system
 * RAM by kmem (not usable: its memory belongs to the kernel's allocator).
 * Reads sysfs and /proc/iomem; opens the control device only when it exists.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { ABI_VERSION, CONTROL_NODE } from './abi.js';
import { HOW_TO_LOAD, KmodControl, type SourceInfo } from './control.js';

export type DaxState = 'free' | 'hmmv' | 'system-ram' | 'other-driver';

export interface DaxDevice {
  name: string;
  path: string;
  sizeBytes: number;
  targetNode: number | null;
  driver: string | null;
  state: DaxState;
  detail: string;
}

export interface KmodProbe {
  loaded: boolean;
  ready: boolean;
  version: string | null;
  abiVersion: number | null;
  regions: number | null;
  sources: SourceInfo[];
  daxDevices: DaxDevice[];
  /** Why the backend cannot run, and the way out. */
  problem: string | null;
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** The devdax devices of this host (sysfs root injectable for tests). */
export function listDaxDevices(sys = '/sys', iomem = read('/proc/iomem') ?? ''): DaxDevice[] {
  const dir = `${sys}/bus/dax/devices`;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => /^dax\d+\.\d+$/.test(d))
    .sort()
    .map((name) => {
      const base = `${dir}/${name}`;
      let driver: string | null = null;
      try {
        driver = basename(readlinkSync(`${base}/driver`));
      } catch {
        driver = null;
      }
      const node = Number(read(`${base}/target_node`) ?? NaN);
      const claimed = iomem.includes(`hmmv:${name}`);
      let state: DaxState;
      let detail: string;
      if (claimed) [state, detail] = ['hmmv', 'claimed by hmmv.ko (in use by a region)'];
      else if (driver === 'kmem') [state, detail] = ['system-ram', 'onlined as system RAM (kmem): not usable by hmmv.ko; give the kmod backend another device, or use it with the linux backend (slow-tier numa-node)'];
      else if (driver === 'device_dax' || driver === null) [state, detail] = ['free', driver ? 'free (bound to device_dax: the hook unbinds it when a domain starts)' : 'free (no driver)'];
      else [state, detail] = ['other-driver', `bound to ${driver}`];
      return { name, path: `/dev/${name}`, sizeBytes: Number(read(`${base}/size`) ?? 0), targetNode: Number.isFinite(node) ? node : null, driver, state, detail };
    });
}

function dkmsHint(): string {
  const registered = existsSync('/var/lib/dkms/hmmv');
  return registered ? 'registered with DKMS but not loaded: modprobe hmmv (dkms status hmmv shows the kernels it is built for)' : HOW_TO_LOAD;
}

export function probeKmod(): KmodProbe {
  const daxDevices = listDaxDevices();
  const version = read('/sys/module/hmmv/version') ?? null;
  const base = { version, daxDevices, sources: [] as SourceInfo[] };
  if (!existsSync(CONTROL_NODE)) {
    return { ...base, loaded: false, ready: false, abiVersion: null, regions: null, problem: `hmmv.ko is not loaded (no ${CONTROL_NODE}): ${dkmsHint()}` };
  }
  let control: KmodControl | undefined;
  try {
    control = KmodControl.open();
    const { sources, regions } = control.sources();
    const usable = daxDevices.some((d) => d.state === 'free' || d.state === 'hmmv');
    return {
      ...base,
      sources,
      loaded: true,
      ready: true,
      abiVersion: control.hello.abiVersion,
      regions,
      problem: usable ? null : 'no devdax device free for hmmv.ko (a NUMA node can still serve as the slow tier: <hmmv:slow-tier numa-node="N"/>)',
    };
  } catch (err) {
    return { ...base, loaded: true, ready: false, abiVersion: null, regions: null, problem: (err as Error).message };
  } finally {
    control?.close();
  }
}

export function formatKmodProbe(p: KmodProbe): string {
  const lines = [`kmod backend (hmmv.ko, ABI ${ABI_VERSION})`];
  if (!p.loaded) lines.push(`  module          MISSING  ${p.problem}`);
  else if (p.abiVersion === null) lines.push(`  module          MISSING  loaded${p.version ? ` (version ${p.version})` : ''} but unusable: ${p.problem}`);
  else lines.push(`  module          present  loaded, version ${p.version ?? '?'}, ABI ${p.abiVersion}, ${p.regions} region(s)`);
  for (const s of p.sources) lines.push(`  source ${s.name.padEnd(8)} present  claimed at 0x${s.start.toString(16)}: ${s.freePages} of ${s.pages} pages free, ${s.regions} region(s)`);
  if (p.daxDevices.length === 0) lines.push('  devdax          missing  no devdax devices (ndctl create-namespace -m devdax makes one from PMem)');
  for (const d of p.daxDevices) {
    const size = `${Math.round(d.sizeBytes / 2 ** 20)} MiB${d.targetNode !== null ? `, node ${d.targetNode}` : ''}`;
    lines.push(`  ${d.path.padEnd(15)} ${(d.state === 'free' || d.state === 'hmmv' ? 'present' : 'missing').padEnd(8)} ${size}: ${d.detail}`);
  }
  lines.push(p.ready ? `ready: hmmv.ko ABI ${p.abiVersion}${p.problem ? ` (${p.problem})` : ''}` : `not ready: ${p.problem}`);
  return lines.join('\n');
}
