/**
 * NUMA topology from sysfs: which nodes have memory, how much is free, the
 * distance table, and the kernel's memory tiers (/sys/devices/virtual/memory_tiering,
 * Linux 6.1+). Which node is DRAM and which is the slow tier comes from the
 * domain's metadata; checkTierNodes() holds that claim against what the host has.
 */
import { hostFiles, parseNodeList, type KernelFiles } from './sysfs.js';

const NODE_DIR = '/sys/devices/system/node';
const TIER_DIR = '/sys/devices/virtual/memory_tiering';

export interface NumaNode {
  readonly id: number;
  readonly memTotalBytes: number;
  readonly memFreeBytes: number;
  /** distances[j] is the SLIT distance from this node to node j (index = node id). */
  readonly distances: readonly number[];
  readonly cpus: readonly number[];
}

export interface MemoryTier {
  /** e.g. "memory_tier4" (lower number = faster). */
  readonly name: string;
  readonly rank: number;
  readonly nodes: readonly number[];
}

export interface Topology {
  readonly nodes: readonly NumaNode[];
  /** Empty when the kernel has no memory-tiering sysfs. */
  readonly memoryTiers: readonly MemoryTier[];
  readonly memoryTieringPresent: boolean;
}

/** Parses "MemTotal:  123 kB" style lines of a node meminfo file into bytes. */
function meminfoBytes(text: string, key: string): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

export function readTopology(files: KernelFiles = hostFiles): Topology {
  const readText = (path: string) => files.readText(path);
  const listDir = (path: string) => files.listDir(path);
  const online = readText(`${NODE_DIR}/online`);
  const ids = online !== undefined ? parseNodeList(online) : [];
  const nodes: NumaNode[] = ids.map((id) => {
    const meminfo = readText(`${NODE_DIR}/node${id}/meminfo`) ?? '';
    const distances = (readText(`${NODE_DIR}/node${id}/distance`) ?? '').split(/\s+/).filter(Boolean).map(Number);
    return {
      id,
      memTotalBytes: meminfoBytes(meminfo, 'MemTotal'),
      memFreeBytes: meminfoBytes(meminfo, 'MemFree'),
      distances,
      cpus: parseNodeList(readText(`${NODE_DIR}/node${id}/cpulist`) ?? ''),
    };
  });
  const tierNames = listDir(TIER_DIR).filter((n) => /^memory_tier\d+$/.test(n));
  const memoryTiers = tierNames
    .map((name) => ({
      name,
      rank: Number(name.slice('memory_tier'.length)),
      nodes: parseNodeList(readText(`${TIER_DIR}/${name}/nodelist`) ?? ''),
    }))
    .sort((a, b) => a.rank - b.rank);
  return { nodes, memoryTiers, memoryTieringPresent: listDir(TIER_DIR).length > 0 };
}

/**
 * Checks the metadata's claim "these nodes are DRAM, these are the slow tier"
 * against the host. Throws when a node is missing, has no memory, or is named
 * in both tiers; returns warnings where the host's own view disagrees
 * (memory tiers or distances ranking a slow node above a DRAM node).
 */
export function checkTierNodes(topo: Topology, dramNodes: readonly number[], nvmNodes: readonly number[]): string[] {
  const byId = new Map(topo.nodes.map((n) => [n.id, n]));
  const have = topo.nodes.map((n) => `node${n.id}`).join(', ') || 'none';
  if (dramNodes.length === 0) throw new Error('no DRAM NUMA node given (metadata dram node list is empty)');
  if (nvmNodes.length === 0) throw new Error('no slow-tier NUMA node given (metadata nvm node list is empty)');
  for (const [role, list] of [['DRAM', dramNodes], ['slow-tier (nvm)', nvmNodes]] as const) {
    for (const id of list) {
      const node = byId.get(id);
      if (!node) throw new Error(`${role} NUMA node ${id} does not exist on this host (online nodes: ${have})`);
      if (node.memTotalBytes === 0) throw new Error(`${role} NUMA node ${id} has no memory on this host`);
    }
  }
  const both = dramNodes.filter((n) => nvmNodes.includes(n));
  if (both.length > 0) throw new Error(`NUMA node ${both.join(',')} is named both DRAM and slow tier`);

  const warnings: string[] = [];
  const tierOf = (id: number) => topo.memoryTiers.find((t) => t.nodes.includes(id))?.rank;
  for (const d of dramNodes) {
    for (const s of nvmNodes) {
      const td = tierOf(d);
      const ts = tierOf(s);
      if (td !== undefined && ts !== undefined) {
        if (ts < td) warnings.push(`kernel memory tiers rank slow-tier node ${s} (memory_tier${ts}) above DRAM node ${d} (memory_tier${td})`);
        else if (ts === td) warnings.push(`kernel puts DRAM node ${d} and slow-tier node ${s} in the same memory tier (memory_tier${td}); the metadata decides`);
      }
      const cpusOfD = byId.get(d)!.cpus;
      if (cpusOfD.length > 0) {
        const local = byId.get(d)!.distances[d];
        const remote = byId.get(d)!.distances[s];
        if (local !== undefined && remote !== undefined && remote < local) {
          warnings.push(`node distance from node ${d} to slow-tier node ${s} (${remote}) is below its local distance (${local})`);
        }
      }
    }
  }
  return warnings;
}
