/**
 * The hmmv.ko region of a libvirt domain: its name and device node. libvirt
 * domain names may hold characters a region name may not ([A-Za-z0-9_.+-],
 * under 64 bytes), so other characters become '_' and such a name (or a long
 * one) gets a short hash of the real name, keeping names unique.
 */
import { createHash } from 'node:crypto';
import { REGION_DIR, validRegionName } from './abi.js';

export function regionNameFor(domain: string): string {
  const plain = domain.replace(/[^A-Za-z0-9_.+-]/g, '_').replace(/^\./, '_');
  if (plain === domain && validRegionName(plain)) return plain;
  const hash = createHash('sha256').update(domain).digest('hex').slice(0, 8);
  return `${plain.slice(0, 50)}-${hash}`;
}

export function regionPathFor(domain: string): string {
  return `${REGION_DIR}${regionNameFor(domain)}`;
}

/** The memory-backend id the domain XML gives the region (plugin/libvirt/kmod-ram.ts). */
export const KMOD_RAM_ID = 'hmmv-ram';
