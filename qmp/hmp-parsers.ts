/**
 * Parsers for the HMP text hmmv reads through `human-monitor-command`:
 * `info ramblock`, `info mtree -f` and `info numa` (= `x-query-numa`).
 * Written against output captured from QEMU 7.2 (test/qmp/fixtures/), e.g.
 *
 *               Block Name    PSize              Offset               Used              Total
 *                    dram0    4 KiB  0x0000000000000000 0x0000000008000000 0x0000000008000000
 *
 *   FlatView #0
 *    AS "memory", root: system
 *    Root memory region: system
 *     0000000000100000-0000000007ffffff (prio 0, ram): dram0 @0000000000100000
 *
 * Lines end in "\r\n" (the monitor's output). Anything unexpected is an
 * HmpParseError naming the line, never a silent skip.
 */
import { HmpParseError } from './errors.js';

/**
 * One RAMBlock: `name` is QEMU's idstr, e.g. `dram0` or `0000:00:03.0:00.0/vmem0`;
 * '' for a block QEMU never registered, such as a memory backend the guest
 * does not map (libvirt's `pc.ram` when `-machine memory-backend=` names
 * another one, as for a domain whose RAM is on hmmv.ko).
 */
export interface RamBlockInfo {
  name: string;
  /** Host page size backing the block, bytes. */
  pageSize: number;
  /** Offset in QEMU's ram_addr_t space (not a guest-physical address). */
  offset: number;
  /** Bytes in use (the memory region size). */
  used: number;
  /** Bytes reserved (max length, for resizeable blocks). */
  total: number;
}

/** One rendered range of a FlatView. Addresses are bigint: some views span the full 64 bits. */
export interface FlatRange {
  start: bigint;
  /** Inclusive last address, as printed. */
  last: bigint;
  priority: number;
  /** `ram`, `rom`, `i/o`, `romd`, `ramd`, ... (with `nv-` prefix for non-volatile ranges). */
  kind: string;
  /** Name of the memory region that backs this range. */
  region: string;
  /** Offset of the range inside that memory region. */
  offsetInRegion: bigint;
}

export interface FlatView {
  index: number;
  /** Address spaces rendered by this view, e.g. `memory`, `cpu-memory-0`, `I/O`. */
  addressSpaces: { name: string; root: string }[];
  /** Root memory region, or null for `(none)`. */
  root: string | null;
  ranges: FlatRange[];
}

/** Guest-physical range backed by a RAM block (what the manager maps to host memory). */
export interface GuestRamRange {
  /** Guest-physical start address. */
  gpa: number;
  size: number;
  /** RAM block idstr, as in `info ramblock`. */
  block: string;
  /** Offset of this range inside the RAM block. */
  blockOffset: number;
  /** Range kind from the mtree (`ram`, `rom`, ...). */
  kind: string;
  /** Host virtual address of `gpa` in the QEMU process, when asked for (gpa2hva). */
  hva?: number;
}

export interface NumaNodeInfo {
  node: number;
  cpus: number[];
  /** Bytes (QEMU prints MB). */
  size: number;
  /** Hot-plugged bytes on this node (pc-dimm, virtio-mem). */
  plugged: number;
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  PiB: 2 ** 50,
  EiB: 2 ** 60,
};

function splitLines(text: string): string[] {
  return text.split(/\r?\n/);
}

function hexToSafeNumber(hex: string, what: string, lineNumber: number, line: string): number {
  const value = Number.parseInt(hex, 16);
  if (!Number.isSafeInteger(value)) {
    throw new HmpParseError(what, lineNumber, line, `value 0x${hex} does not fit a safe integer`);
  }
  return value;
}

// ---- info ramblock ---------------------------------------------------------

const RAMBLOCK_HEADER = /^\s*Block Name\s+PSize\s+Offset\s+Used\s+Total\s*$/;
const RAMBLOCK_ROW =
  /^\s*(?:(\S.*?)\s+)?(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|PiB|EiB)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s*$/;

export function parseInfoRamblock(text: string): RamBlockInfo[] {
  const what = 'info ramblock';
  const lines = splitLines(text);
  const blocks: RamBlockInfo[] = [];
  let sawHeader = false;
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === '') return;
    if (!sawHeader) {
      if (!RAMBLOCK_HEADER.test(line)) throw new HmpParseError(what, n, line, 'expected the header "Block Name PSize Offset Used Total"');
      sawHeader = true;
      return;
    }
    const m = RAMBLOCK_ROW.exec(line);
    if (!m) throw new HmpParseError(what, n, line, 'expected "<name> <page size> 0x<offset> 0x<used> 0x<total>"');
    const pageSize = Math.round(Number(m[2]) * SIZE_UNITS[m[3]!]!);
    blocks.push({
      name: m[1] ?? '',
      pageSize,
      offset: hexToSafeNumber(m[4]!, what, n, line),
      used: hexToSafeNumber(m[5]!, what, n, line),
      total: hexToSafeNumber(m[6]!, what, n, line),
    });
  });
  if (!sawHeader) throw new HmpParseError(what, 1, lines[0] ?? '', 'empty output (no header)');
  return blocks;
}

// ---- info mtree -f ---------------------------------------------------------

const FLATVIEW_HEADER = /^FlatView #(\d+)\s*$/;
const AS_LINE = /^ AS "(.*)", root: (.*?)\s*$/;
const ROOT_LINE = /^ Root memory region: (.*?)\s*$/;
const NO_RENDER = /^\s+No rendered FlatView\s*$/;
const RANGE_LINE = /^\s+([0-9a-fA-F]+)-([0-9a-fA-F]+) \(prio (-?\d+), ([^)]+)\): (\S+)(?: @([0-9a-fA-F]+))?(.*)$/;

export function parseInfoMtreeFlat(text: string): FlatView[] {
  const what = 'info mtree -f';
  const views: FlatView[] = [];
  let view: FlatView | undefined;
  splitLines(text).forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === '') return;
    const header = FLATVIEW_HEADER.exec(line);
    if (header) {
      view = { index: Number(header[1]), addressSpaces: [], root: null, ranges: [] };
      views.push(view);
      return;
    }
    if (!view) throw new HmpParseError(what, n, line, 'expected "FlatView #<n>" first (was -f given?)');
    const as = AS_LINE.exec(line);
    if (as) {
      view.addressSpaces.push({ name: as[1]!, root: as[2]! });
      return;
    }
    const root = ROOT_LINE.exec(line);
    if (root) {
      view.root = root[1] === '(none)' ? null : root[1]!;
      return;
    }
    if (NO_RENDER.test(line)) return;
    const r = RANGE_LINE.exec(line);
    if (!r) throw new HmpParseError(what, n, line, 'expected "<start>-<last> (prio <p>, <kind>): <region> [@<offset>]"');
    const start = BigInt(`0x${r[1]}`);
    const last = BigInt(`0x${r[2]}`);
    if (last < start) throw new HmpParseError(what, n, line, 'range ends before it starts');
    view.ranges.push({
      start,
      last,
      priority: Number(r[3]),
      kind: r[4]!.trim(),
      region: r[5]!,
      offsetInRegion: r[6] === undefined ? 0n : BigInt(`0x${r[6]}`),
    });
  });
  if (views.length === 0) throw new HmpParseError(what, 1, text.split(/\r?\n/)[0] ?? '', 'no FlatView in the output');
  return views;
}

/** The view that renders the named address space (default `memory`, the guest-physical space). */
export function findFlatView(views: FlatView[], addressSpace = 'memory'): FlatView {
  const view = views.find((v) => v.addressSpaces.some((a) => a.name === addressSpace));
  if (!view) {
    const known = views.flatMap((v) => v.addressSpaces.map((a) => a.name));
    throw new Error(`no FlatView renders address space '${addressSpace}' (have: ${known.join(', ')})`);
  }
  return view;
}

const RAM_BACKED_KINDS = new Set(['ram', 'rom', 'romd', 'ramd', 'nv-ram', 'nv-rom', 'nv-romd', 'nv-ramd']);

/**
 * Resolve a memory region name to its RAM block. A block's idstr is the
 * region name, prefixed with the owning device's path when the region has a
 * qdev owner (e.g. region `vmem0` → block `0000:00:03.0:00.0/vmem0`).
 */
export function ramBlockForRegion(blocks: readonly RamBlockInfo[], region: string): RamBlockInfo | undefined {
  const exact = blocks.find((b) => b.name === region);
  if (exact) return exact;
  const suffixed = blocks.filter((b) => b.name.endsWith(`/${region}`));
  return suffixed.length === 1 ? suffixed[0] : undefined;
}

/**
 * Guest-physical address → RAM block map: every RAM-backed range of the
 * `memory` address space, with the block and the offset inside it, sorted by
 * address. Ranges whose region has no RAM block (MMIO) are left out; a
 * RAM-kind range whose block cannot be found is an error (the two outputs
 * would disagree).
 */
export function buildGuestRamMap(views: FlatView[], blocks: readonly RamBlockInfo[], addressSpace = 'memory'): GuestRamRange[] {
  const view = findFlatView(views, addressSpace);
  const map: GuestRamRange[] = [];
  for (const range of view.ranges) {
    if (!RAM_BACKED_KINDS.has(range.kind)) continue;
    const block = ramBlockForRegion(blocks, range.region);
    if (!block) {
      throw new Error(
        `RAM range ${range.start.toString(16)}-${range.last.toString(16)} of region '${range.region}' matches no RAM block, or several ` +
          `(blocks: ${blocks.map((b) => b.name).join(', ')})`,
      );
    }
    const size = range.last - range.start + 1n;
    const gpa = Number(range.start);
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(Number(size))) {
      throw new Error(`RAM range at 0x${range.start.toString(16)} does not fit a safe integer`);
    }
    const blockOffset = Number(range.offsetInRegion);
    if (blockOffset + Number(size) > block.total) {
      throw new Error(`RAM range of '${range.region}' at offset ${blockOffset} (+${size}) runs past its block '${block.name}' (${block.total} bytes)`);
    }
    map.push({ gpa, size: Number(size), block: block.name, blockOffset, kind: range.kind });
  }
  map.sort((a, b) => a.gpa - b.gpa);
  return map;
}

/** Binary search: the range holding `gpa`, or undefined for a hole / MMIO. */
export function lookupGuestRam(map: readonly GuestRamRange[], gpa: number): GuestRamRange | undefined {
  let lo = 0;
  let hi = map.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = map[mid]!;
    if (gpa < r.gpa) hi = mid - 1;
    else if (gpa >= r.gpa + r.size) lo = mid + 1;
    else return r;
  }
  return undefined;
}

// ---- gpa2hva ------------------------------------------------------------------

/** Answer of HMP `gpa2hva <addr>`: where a guest-physical address lives in the QEMU process. */
export type Gpa2HvaResult =
  | { kind: 'ram'; gpa: number; region: string; hva: number }
  | { kind: 'not-ram'; gpa: number }
  | { kind: 'unmapped'; gpa: number };

const GPA2HVA_RAM = /^Host virtual address for 0x([0-9a-fA-F]+) \((.*)\) is 0x([0-9a-fA-F]+)$/;
const GPA2HVA_NOT_RAM = /^Memory at address 0x([0-9a-fA-F]+) is not RAM$/;
const GPA2HVA_UNMAPPED = /^No memory is mapped at address 0x([0-9a-fA-F]+)$/;

export function parseGpa2hva(text: string): Gpa2HvaResult {
  const what = 'gpa2hva';
  const line = text.trim();
  let m: RegExpExecArray | null;
  if ((m = GPA2HVA_RAM.exec(line))) {
    return { kind: 'ram', gpa: hexToSafeNumber(m[1]!, what, 1, line), region: m[2]!, hva: hexToSafeNumber(m[3]!, what, 1, line) };
  }
  if ((m = GPA2HVA_NOT_RAM.exec(line))) return { kind: 'not-ram', gpa: hexToSafeNumber(m[1]!, what, 1, line) };
  if ((m = GPA2HVA_UNMAPPED.exec(line))) return { kind: 'unmapped', gpa: hexToSafeNumber(m[1]!, what, 1, line) };
  throw new HmpParseError(what, 1, line, 'expected "Host virtual address for 0x<gpa> (<region>) is 0x<hva>" or a not-RAM/unmapped notice');
}

// ---- info numa / x-query-numa ----------------------------------------------

const NUMA_COUNT = /^(\d+) nodes?$/;
const NUMA_CPUS = /^node (\d+) cpus:(.*)$/;
const NUMA_SIZE = /^node (\d+) size: (\d+) MB$/;
const NUMA_PLUGGED = /^node (\d+) plugged: (\d+) MB$/;

export function parseInfoNuma(text: string): NumaNodeInfo[] {
  const what = 'info numa';
  const nodes = new Map<number, NumaNodeInfo>();
  let expected: number | undefined;
  const node = (id: number): NumaNodeInfo => {
    let n = nodes.get(id);
    if (!n) {
      n = { node: id, cpus: [], size: 0, plugged: 0 };
      nodes.set(id, n);
    }
    return n;
  };
  splitLines(text).forEach((raw, i) => {
    const line = raw.trim();
    const n = i + 1;
    if (line === '') return;
    let m: RegExpExecArray | null;
    if ((m = NUMA_COUNT.exec(line))) expected = Number(m[1]);
    else if ((m = NUMA_CPUS.exec(line))) {
      const list = m[2]!.trim();
      node(Number(m[1])).cpus = list === '' ? [] : list.split(/\s+/).map(Number);
    } else if ((m = NUMA_SIZE.exec(line))) node(Number(m[1])).size = Number(m[2]) * 2 ** 20;
    else if ((m = NUMA_PLUGGED.exec(line))) node(Number(m[1])).plugged = Number(m[2]) * 2 ** 20;
    else throw new HmpParseError(what, n, raw, 'unexpected line');
  });
  if (expected === undefined) throw new HmpParseError(what, 1, text.split(/\r?\n/)[0] ?? '', 'missing "<n> nodes" line');
  if (nodes.size !== expected) {
    throw new HmpParseError(what, 1, text.split(/\r?\n/)[0] ?? '', `announced ${expected} nodes but described ${nodes.size}`);
  }
  return [...nodes.values()].sort((a, b) => a.node - b.node);
}
