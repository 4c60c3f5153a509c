/**
 * Finds a VM's guest RAM among the mappings of its QEMU process
 * (/proc/PID/maps). libvirt backs each guest NUMA cell with a file under
 * /var/lib/libvirt/qemu/ram/... (memory-backend-file) — matched by path; memfd
 * and anonymous backends have no useful name, so they are matched by size.
 */
import { readFileSync } from 'node:fs';

export interface Mapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly perms: string;
  readonly offset: bigint;
  readonly path: string;
}

/** One guest-RAM block as the linux backend uses it: a name and a range of the target's address space. */
export interface RamMapping {
  readonly name: string;
  readonly start: bigint;
  readonly lengthBytes: number;
}

export function readMaps(pid: number): Mapping[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch (err) {
    throw new Error(`cannot read /proc/${pid}/maps: ${(err as Error).message}`);
  }
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({ start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), perms: m[3]!, offset: BigInt('0x' + m[4]), path: m[5] ?? '' });
  }
  return out;
}

export type RamMatch =
  /** A memory-backend-file: the mapping of this file (or the files under this folder when it ends in "/"). */
  | { readonly name: string; readonly path: string }
  /** A memfd or anonymous backend of exactly this size (the n-th such mapping, 0-based, when several have it). */
  | { readonly name: string; readonly sizeBytes: number; readonly nth?: number };

/**
 * Resolves each match to one writable mapping. Throws naming the match that
 * found nothing (or more than one file mapping), and lists what there is.
 */
export function findGuestRam(pid: number, matches: readonly RamMatch[]): RamMapping[] {
  const maps = readMaps(pid).filter((m) => m.perms.startsWith('rw'));
  const used = new Set<Mapping>();
  return matches.map((match) => {
    let found: Mapping[];
    if ('path' in match) {
      const dir = match.path.endsWith('/');
      found = maps.filter((m) => (dir ? m.path.startsWith(match.path) : m.path === match.path || m.path === `${match.path} (deleted)`));
      if (found.length > 1) throw new Error(`guest RAM "${match.name}": ${found.length} mappings match path ${match.path}; name one file`);
    } else {
      const size = BigInt(match.sizeBytes);
      found = maps.filter((m) => !used.has(m) && m.end - m.start === size && (m.path === '' || m.path.startsWith('/memfd:')));
      found = found.slice(match.nth ?? 0, (match.nth ?? 0) + 1);
    }
    const hit = found[0];
    if (!hit) {
      const sizes = maps.filter((m) => m.end - m.start >= 1n << 20n).map((m) => `${(m.end - m.start) >> 20n} MiB ${m.path || '[anon]'}`);
      const want = 'path' in match ? `path ${match.path}` : `size ${match.sizeBytes} bytes`;
      throw new Error(`guest RAM "${match.name}": no writable mapping with ${want} in process ${pid} (mappings of 1 MiB or more: ${sizes.join('; ') || 'none'})`);
    }
    used.add(hit);
    return { name: match.name, start: hit.start, lengthBytes: Number(hit.end - hit.start) };
  });
}
