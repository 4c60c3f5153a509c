/**
 * The hmmv.ko region around QEMU's life, for the libvirt hook: `prepare`
 * creates the domain's region (and makes its devdax device the module's:
 * unbinding it from device_dax), `release` removes it. QEMU maps the region
 * at start and unmaps it when it exits, which frees every page (DRAM and
 * NVM); removing the region then drops its device node and, with the last
 * region on it, the module's claim on the devdax range. Each step is a few
 * ioctls and sysfs writes: milliseconds.
 */
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { KmodControl, KmodError, type RegionSpec } from './control.js';
import { regionNameFor, regionPathFor } from './region-name.js';

export interface RegionRequest {
  domain: string;
  ramBytes: number;
  /** First touch fills DRAM up to the quota, then the slow tier. */
  dramQuotaBytes: number;
  slowTier: { devdax: string } | { numaNode: number };
  /** For tests: another sysfs root. */
  sysfs?: string;
}

export interface PreparedRegion {
  name: string;
  path: string;
  nvm: string;
  notes: string[];
}

const readTrim = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** The devdax device as a source for the module, unbinding it from device_dax if needed. */
export function claimableDax(path: string, notes: string[], sysfs = '/sys'): { name: string; start: bigint; sizeBytes: number } {
  const name = basename(path);
  const where = `<hmmv:slow-tier> attribute devdax: ${path}`;
  const dir = `${sysfs}/bus/dax/devices/${name}`;
  if (!/^dax\d+\.\d+$/.test(name) || !existsSync(dir)) throw new Error(`${where} is not a devdax device on this host (no ${dir}; ndctl create-namespace -m devdax makes one)`);
  let driver: string | undefined;
  try {
    driver = basename(readlinkSync(`${dir}/driver`));
  } catch {
    driver = undefined;
  }
  if (driver === 'kmem') throw new Error(`${where} is onlined as system RAM (kmem): hmmv.ko needs it offline and unbound (daxctl reconfigure-device --mode=devdax ${name}, then daxctl disable-device ${name}), or use backend='linux' with its NUMA node`);
  if (driver === 'device_dax') {
    writeFileSync(`${sysfs}/bus/dax/drivers/device_dax/unbind`, name);
    notes.push(`unbound ${name} from device_dax: ${path} is hmmv.ko's now`);
  } else if (driver !== undefined) {
    throw new Error(`${where} is bound to driver ${driver}; unbind it first`);
  }
  const start = readTrim(`${dir}/resource`);
  const size = Number(readTrim(`${dir}/size`) ?? NaN);
  if (!start || !Number.isFinite(size) || size <= 0) throw new Error(`${where}: cannot read its range from ${dir}/resource and size (root only)`);
  return { name, start: BigInt(start), sizeBytes: size };
}

export function prepareRegion(req: RegionRequest): PreparedRegion {
  const notes: string[] = [];
  const name = regionNameFor(req.domain);
  let nvm: RegionSpec['nvm'];
  let nvmText: string;
  if ('devdax' in req.slowTier) {
    const dax = claimableDax(req.slowTier.devdax, notes, req.sysfs);
    nvm = { kind: 'dax', ...dax };
    nvmText = `devdax ${dax.name} (${Math.round(dax.sizeBytes / 2 ** 20)} MiB)`;
  } else {
    nvm = { kind: 'node', node: req.slowTier.numaNode };
    nvmText = `NUMA node ${req.slowTier.numaNode}`;
  }
  const control = KmodControl.open();
  try {
    const spec: RegionSpec = { name, sizeBytes: req.ramBytes, dramLimitPages: Math.floor(req.dramQuotaBytes / 4096), nvm };
    try {
      control.createRegion(spec);
    } catch (err) {
      if (!(err instanceof KmodError) || err.errno !== 17) throw err;
      // Left from an earlier run whose release never came (libvirtd died): reuse the name if nobody maps it.
      control.attach(name);
      const info = control.info();
      if (info.mapped) throw new Error(`hmmv.ko region '${name}' is still mapped by process ${info.mapperPid}: another QEMU of domain '${req.domain}' runs`);
      control.destroy(name);
      control.createRegion(spec);
      notes.push(`replaced a stale region '${name}'`);
    }
  } finally {
    control.close();
  }
  return { name, path: regionPathFor(req.domain), nvm: nvmText, notes };
}

/** Removes the domain's region; 'absent' when there is none (or no module). */
export function releaseRegion(domain: string): 'removed' | 'absent' {
  let control: KmodControl;
  try {
    control = KmodControl.open();
  } catch {
    return 'absent';
  }
  try {
    return control.destroy(regionNameFor(domain)) ? 'removed' : 'absent';
  } finally {
    control.close();
  }
}
