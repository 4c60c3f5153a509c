/**
 * What the manager learns about a running guest over its QMP socket: memory
 * backends, RAM blocks, vCPU threads, the QEMU process (the thread group of the
 * vCPU threads) and the mappings in it that hold guest RAM.
 */
import { readFileSync } from 'node:fs';
import { formatVersion, type QmpCommands, type RamBlockInfo } from '../../qmp/index.js';

export interface GuestMapping {
  start: bigint;
  end: bigint;
  /** The RAM blocks whose size this mapping matches (several when blocks have equal sizes). */
  blocks: string[];
  pathname: string;
}

export interface GuestInfo {
  qemuPid?: number;
  qemuVersion: string;
  runState: string;
  memdevs: { id: string; size: number; hostNodes: number[]; policy: string }[];
  ramBlocks: RamBlockInfo[];
  vcpus: { index: number; threadId: number }[];
  /** Guest RAM: the memory backends' total, or the main RAM block's size without backends. */
  ramBytes: number;
  mappings: GuestMapping[];
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

/** Mappings of `pid` whose length equals a guest RAM block's (how QEMU maps guest RAM: one mmap per block). */
function guestMappings(pid: number, blocks: readonly RamBlockInfo[]): GuestMapping[] {
  let maps: string;
  try {
    maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return [];
  }
  const bySize = new Map<bigint, string[]>();
  for (const b of blocks) {
    if (b.total < 1 << 20) continue; // ROMs and tables are not guest RAM worth tiering
    const list = bySize.get(BigInt(b.total)) ?? [];
    list.push(b.name);
    bySize.set(BigInt(b.total), list);
  }
  const out: GuestMapping[] = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    const end = BigInt(`0x${m[2]}`);
    const candidates = bySize.get(end - start);
    if (candidates) out.push({ start, end, blocks: candidates, pathname: m[3] ?? '' });
  }
  return out;
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
  const memdevBytes = memdevs.reduce((sum, m) => sum + m.size, 0);
  const mainBlock = ramBlocks.find((b) => b.name === 'pc.ram' || b.name.endsWith('.ram')) ?? ramBlocks[0];
  const info: GuestInfo = {
    qemuVersion: formatVersion(version),
    runState: status.status,
    memdevs: memdevs.map((m, i) => ({ id: m.id ?? `memdev${i}`, size: m.size, hostNodes: m['host-nodes'], policy: m.policy })),
    ramBlocks,
    vcpus,
    ramBytes: memdevBytes > 0 ? memdevBytes : mainBlock?.used ?? 0,
    mappings: qemuPid === undefined ? [] : guestMappings(qemuPid, ramBlocks),
  };
  if (qemuPid !== undefined) info.qemuPid = qemuPid;
  return info;
}
