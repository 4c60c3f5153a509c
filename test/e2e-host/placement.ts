/**
 * Where a nested guest's memory is, seen from outside hmmv: the QEMU
 * process's host addresses of guest-physical ranges (HMP gpa2hva through
 * libvirt's own monitor, `virsh qemu-monitor-command --hmp`) and the NUMA
 * node of each 4 KiB page there (move_pages(2) in query mode: no page moves).
 * Cost: one move_pages call per 4096 pages.
 */
import { readFileSync } from 'node:fs';
import { movePagesRaw } from '../../plugin/host/linux/move-pages.js';
import { parseGpa2hva } from '../../qmp/hmp-parsers.js';
import { run } from '../helpers/libvirt.js';

export const PAGE = 4096;

export interface PageCounts {
  /** Pages per NUMA node. */
  byNode: Record<number, number>;
  /** Pages not present (never touched) or otherwise without a node. */
  absent: number;
  total: number;
}

export function qemuPid(domain: string): number {
  const text = readFileSync(`/run/libvirt/qemu/${domain}.pid`, 'utf8').trim();
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`libvirt's pidfile for ${domain} holds '${text}'`);
  return pid;
}

/** The QEMU-process address of a guest-physical address, through libvirt's monitor. */
export async function gpaToHva(domain: string, gpa: number): Promise<bigint> {
  const r = await run('virsh', ['-c', 'qemu:///system', 'qemu-monitor-command', domain, '--hmp', `gpa2hva 0x${gpa.toString(16)}`], { timeoutMs: 30000 });
  if (r.code !== 0) throw new Error(`virsh qemu-monitor-command ${domain} gpa2hva: ${r.stderr.trim()}`);
  const where = parseGpa2hva(r.stdout);
  if (where.kind !== 'ram') throw new Error(`gpa 0x${gpa.toString(16)} of ${domain} is ${where.kind}`);
  return BigInt(where.hva);
}

/** Pages per node of `pages` pages from host address `start` in process `pid`; `nodes` gets each page's node (or -errno). */
export function countNodes(pid: number, start: bigint, pages: number, nodes?: Int32Array): PageCounts {
  const out: PageCounts = { byNode: {}, absent: 0, total: pages };
  const chunk = 4096;
  const addrs = new BigUint64Array(chunk);
  const status = new Int32Array(chunk);
  for (let first = 0; first < pages; first += chunk) {
    const n = Math.min(chunk, pages - first);
    for (let i = 0; i < n; i++) addrs[i] = start + BigInt((first + i) * PAGE);
    movePagesRaw(pid, addrs.subarray(0, n), null, status.subarray(0, n));
    for (let i = 0; i < n; i++) {
      const s = status[i]!;
      if (nodes) nodes[first + i] = s;
      if (s >= 0) out.byNode[s] = (out.byNode[s] ?? 0) + 1;
      else out.absent++;
    }
  }
  return out;
}

/** Moves `pages` pages from host address `start` of process `pid` to `node` (64 per call); returns how many are there after. */
export function movePagesTo(pid: number, start: bigint, pages: number, node: number): number {
  const chunk = 64;
  const addrs = new BigUint64Array(chunk);
  const nodes = new Int32Array(chunk).fill(node);
  const status = new Int32Array(chunk);
  let there = 0;
  for (let first = 0; first < pages; first += chunk) {
    const n = Math.min(chunk, pages - first);
    for (let i = 0; i < n; i++) addrs[i] = start + BigInt((first + i) * PAGE);
    movePagesRaw(pid, addrs.subarray(0, n), nodes.subarray(0, n), status.subarray(0, n));
  }
  const c = countNodes(pid, start, pages);
  there = c.byNode[node] ?? 0;
  return there;
}
