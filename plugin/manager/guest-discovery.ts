/**
 * What the manager learns about a running guest over its QMP socket: memory
 * backends, RAM blocks, vCPU threads, the QEMU process (the thread group of the
 * vCPU threads) and the guest-physical RAM ranges with their addresses in it.
 */
import { readFileSync } from 'node:fs';
import { formatVersion, type QmpCommands, type RamBlockInfo } from '../../qmp/index.js';

/** One guest-physical RAM range and where it lives in the QEMU process. */
export interface GuestRamMapping {
  block: string;
  gpa: number;
  size: number;
  /** Host virtual address in the QEMU process (from gpa2hva). */
  hva?: number;
  /** The file behind that address in /proc/PID/maps ('' for anonymous memory). */
  pathname?: string;
}

export interface GuestInfo {
  qemuPid?: number;
  qemuVersion: string;
  runState: string;
  memdevs: { id: string; size: number; hostNodes: number[]; policy: string }[];
  ramBlocks: RamBlockInfo[];
  vcpus: { index: number; threadId: number }[];
  /** Guest RAM: the mapped memory backends' total, or the main RAM block's size without backends (guestRamBytes). */
  ramBytes: number;
  /** Guest RAM ranges with their host addresses; empty (and `layoutError` set) when QEMU would not say. */
  ranges: GuestRamMapping[];
  layoutError?: string;
}

/** The process a thread belongs to (Tgid in /proc/TID/status). */
function threadGroupOf(tid: number): number | undefined {
  try {
    const m = /^Tgid:\s+(\d+)$/m.exec(readFileSync(`/proc/${tid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The pathname of the mapping holding `hva` in /proc/PID/maps. */
function mappingPath(maps: string, hva: number): string | undefined {
  const addr = BigInt(hva);
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    if (m && BigInt(`0x${m[1]}`) <= addr && addr < BigInt(`0x${m[2]}`)) return m[3] ?? '';
  }
  return undefined;
}

async function ramRanges(qmp: QmpCommands, qemuPid: number | undefined): Promise<GuestRamMapping[]> {
  const layout = await qmp.guestRamLayout({ hostAddresses: true });
  let maps = '';
  try {
    if (qemuPid !== undefined) maps = readFileSync(`/proc/${qemuPid}/maps`, 'utf8');
  } catch {
    // the process is gone or not ours to read: addresses only
  }
  return layout.ranges
    .filter((r) => r.kind === 'ram')
    .map((r) => {
      const out: GuestRamMapping = { block: r.block, gpa: r.gpa, size: r.size };
      if (r.hva !== undefined) {
        out.hva = r.hva;
        const p = maps ? mappingPath(maps, r.hva) : undefined;
        if (p !== undefined) out.pathname = p;
      }
      return out;
    });
}

/**
 * The guest's RAM in bytes: the memory backends that are mapped into guest
 * physical memory (a backend's RAM block is named by its id), else every
 * backend, else the main RAM block. A backend can exist unmapped: with
 * `-machine memory-backend=hmmv-ram` (a kmod domain) libvirt's own `pc.ram`
 * backend is still created but never mapped, and counting it doubles the size.
 */
export function guestRamBytes(
  memdevs: readonly { id?: string; size: number }[],
  ramBlocks: readonly RamBlockInfo[],
  ranges: readonly { block: string }[],
): number {
  const mappedBlocks = new Set(ranges.map((r) => r.block));
  const mapped = memdevs.filter((m) => m.id !== undefined && mappedBlocks.has(m.id));
  const counted = mapped.length > 0 ? mapped : memdevs;
  const memdevBytes = counted.reduce((sum, m) => sum + m.size, 0);
  if (memdevBytes > 0) return memdevBytes;
  const mainBlock = ramBlocks.find((b) => b.name === 'pc.ram' || b.name.endsWith('.ram')) ?? ramBlocks[0];
  return mainBlock?.used ?? 0;
}

export async function discoverGuest(qmp: QmpCommands): Promise<GuestInfo> {
  const [version, status, memdevs, cpus, ramBlocks] = await Promise.all([
    qmp.queryVersion(),
    qmp.queryStatus(),
    qmp.queryMemdev(),
    qmp.queryCpusFast(),
    qmp.infoRamblock(),
  ]);
  const vcpus = cpus.map((c) => ({ index: c['cpu-index'], threadId: c['thread-id'] }));
  const qemuPid = vcpus.map((v) => threadGroupOf(v.threadId)).find((p) => p !== undefined);
  const info: GuestInfo = {
    qemuVersion: formatVersion(version),
    runState: status.status,
    memdevs: memdevs.map((m, i) => ({ id: m.id ?? `memdev${i}`, size: m.size, hostNodes: m['host-nodes'], policy: m.policy })),
    ramBlocks,
    vcpus,
    ramBytes: 0,
    ranges: [],
  };
  try {
    info.ranges = await ramRanges(qmp, qemuPid);
  } catch (error) {
    info.layoutError = (error as Error).message;
  }
  info.ramBytes = guestRamBytes(memdevs, ramBlocks, info.ranges);
  if (qemuPid !== undefined) info.qemuPid = qemuPid;
  return info;
}
