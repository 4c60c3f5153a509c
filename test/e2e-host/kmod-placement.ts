/**
 * Where a nested guest's memory is when its RAM is an hmmv.ko region, seen
 * from outside its manager. move_pages(2) cannot see that RAM (a VM_PFNMAP
 * mapping has no normal pages), so a control file of the test's own attaches
 * to the region and asks the module: READ_TIERS gives one bit per page in
 * NVM (the devdax tier) and, with TIERS_PRESENT, one per present page;
 * REGION_INFO the totals. The file is opened and closed per reading: an open
 * control file holds the region, and `virsh destroy` must be able to free it.
 * Also the module's view of its devdax sources, for the release check.
 * Cost: 5 ioctls and O(pages / 32) words per reading.
 */
import { existsSync, readdirSync } from 'node:fs';
import { IOC, TIERS_PRESENT } from '../../plugin/host/kmod/abi.js';
import { KmodControl, NativeBuffer, type RegionInfo, type SourceInfo } from '../../plugin/host/kmod/control.js';

/** A page's tier as the module reports it. */
export const PageTier = { Absent: -1, Dram: 0, Nvm: 1 } as const;

export interface RegionTiers {
  /** PageTier per page. */
  tiers: Int8Array;
  info: RegionInfo;
  /** REGION_INFO read again after READ_TIERS: the same DRAM and NVM counts = nothing moved meanwhile. */
  infoAfter: RegionInfo;
}

/** Reads every page's tier of region `name`; pages = the region's size in pages (a multiple of 64). */
export async function readRegionTiers(name: string): Promise<RegionTiers> {
  const control = KmodControl.open();
  try {
    control.attach(name);
    const info = control.info();
    const present = new NativeBuffer(info.pages / 8);
    const nvm = new NativeBuffer(info.pages / 8);
    try {
      await control.pageBits(IOC.READ_TIERS, 0, info.pages, null, present, 0, TIERS_PRESENT);
      await control.pageBits(IOC.READ_TIERS, 0, info.pages, null, nvm, 0);
      const p = present.u32();
      const n = nvm.u32();
      const tiers = new Int8Array(info.pages);
      for (let i = 0; i < info.pages; i++) {
        const bit = 1 << (i & 31);
        const w = i >>> 5;
        tiers[i] = (p[w]! & bit) === 0 ? PageTier.Absent : (n[w]! & bit) !== 0 ? PageTier.Nvm : PageTier.Dram;
      }
      return { tiers, info, infoAfter: control.info() };
    } finally {
      present.free();
      nvm.free();
    }
  } finally {
    control.close();
  }
}

/** Pages per tier of a reading. */
export function countTiers(tiers: Int8Array): { dram: number; nvm: number; absent: number } {
  const out = { dram: 0, nvm: 0, absent: 0 };
  for (const t of tiers) {
    if (t === PageTier.Dram) out.dram++;
    else if (t === PageTier.Nvm) out.nvm++;
    else out.absent++;
  }
  return out;
}

/**
 * A reading during which nothing moved (REGION_INFO's counts the same before
 * and after READ_TIERS), so the two views of the module can be compared;
 * the manager may be migrating: up to `tries` readings.
 */
export async function readRegionTiersSteady(name: string, tries = 10): Promise<RegionTiers & { tries: number }> {
  for (let i = 1; ; i++) {
    const r = await readRegionTiers(name);
    const steady = r.info.dramPages === r.infoAfter.dramPages && r.info.nvmPages === r.infoAfter.nvmPages;
    if (steady || i >= tries) return { ...r, tries: i };
  }
}

/** The module's devdax sources and its region count (SOURCES). */
export function kmodSources(): { sources: SourceInfo[]; regions: number } {
  const control = KmodControl.open();
  try {
    return control.sources();
  } finally {
    control.close();
  }
}

/** What /dev/hmmv/ holds besides the control device. */
export function regionNodes(): string[] {
  return existsSync('/dev/hmmv') ? readdirSync('/dev/hmmv').filter((f) => f !== 'control') : [];
}
