/**
 * The `linux` memory host: stock kernel interfaces applied to the QEMU
 * process's guest-RAM mappings, where the slow tier is a NUMA node.
 *
 * - accessed bits: DAMON vaddr region snapshots, turned into per-page evidence
 *   (see harvestAccessed below);
 * - dirty bits: soft-dirty (clear_refs "4" + pagemap bit 55);
 * - the PML-style dirty log is EMULATED: each drain is a full soft-dirty scan
 *   of guest RAM; there is no per-vCPU buffer, so bufferFullExits is always 0
 *   and the log only "overflows" when more pages were written than the log
 *   capacity (then the pages stay pending for testAndClearDirty);
 * - migration: move_pages(2). The kernel unmaps each page (migration entry),
 *   copies it and remaps it, so a write during the copy waits instead of
 *   being lost: recopies are always 0 and the pause is the copy itself.
 *
 * Dirty and accessed bits only feed temperature; data safety rests on the
 * kernel's migration alone.
 */
import type { Bitmap } from '../../util/bitmap.js';
import { bitmapForEach, createBitmap, popcount32 as popcount } from '../../util/bitmap.js';
import type { DirtyLogDrain, GuestRamRegion, MemoryHost, MigrationResult, TierUsage } from '../memory-host.js';
import { MigrationOutcome, Tier, TIER_NAMES } from '../memory-host.js';
import { DamonVaddrMonitor, type DamonAttrs, type DamonRegion } from './damon.js';
import type { RamMapping } from './maps.js';
import { movePagesRaw, statusReason, Errno } from './move-pages.js';
import { clearSoftDirty, PagemapReader, PM_HI_PRESENT, PM_HI_SOFT_DIRTY } from './pagemap.js';
import { missingSummary, probeHost, type ProbeReport } from './probe.js';
import { checkTierNodes, readTopology } from './topology.js';
import { readText } from './sysfs.js';

const PAGE = 4096;

export interface LinuxHostOptions {
  /** The QEMU process (or any process whose memory is managed). */
  readonly pid: number;
  /** Its guest-RAM mappings (see findGuestRam in maps.ts). */
  readonly ram: readonly RamMapping[];
  /** NUMA nodes of each tier, from the domain metadata. Pages go to the first node of a tier. */
  readonly dramNodes: readonly number[];
  readonly nvmNodes: readonly number[];
  readonly vcpuCount?: number;
  readonly damon?: Partial<DamonAttrs>;
  /** Entries one drainDirtyLog may return before it reports overflow (default: vcpuCount * 512 * 64). */
  readonly dirtyLogCapacity?: number;
  /** Pages per move_pages call that moves (default 64: bounds how long a page may be unmapped). */
  readonly migrateBatchPages?: number;
  /**
   * Start even though kernel.numa_balancing is on. Off by default: the
   * kernel's own NUMA balancing migrates pages too (back to the node of the
   * CPU that touches them) and undoes hmmv's placement.
   */
  readonly allowNumaBalancing?: boolean;
  /** Skip the capability probe (tests that already probed). */
  readonly probe?: ProbeReport;
}

export interface LinuxHostInfo {
  readonly accessTracker: 'damon-vaddr';
  readonly dirtyTracker: 'soft-dirty (PML-style log emulated by full scans)';
  readonly warnings: readonly string[];
  /** Bytes of guest RAM backed by transparent huge pages (AnonHugePages + ShmemPmdMapped + FilePmdMapped in smaps). */
  readonly thpBytes: number;
}

/** Opens the backend after checking the host can run it; the error names every missing interface. */
export async function openLinuxHost(options: LinuxHostOptions): Promise<LinuxMemoryHost> {
  const report = options.probe ?? probeHost();
  if (!report.canRun) throw new Error(`the linux host backend cannot run on this host: ${missingSummary(report)}`);
  if (options.ram.length === 0) throw new Error('linux host backend: no guest RAM mappings given');
  for (const r of options.ram) {
    if (r.start % BigInt(PAGE) !== 0n || r.lengthBytes % PAGE !== 0 || r.lengthBytes <= 0) {
      throw new Error(`guest RAM "${r.name}": start 0x${r.start.toString(16)} / length ${r.lengthBytes} not page aligned`);
    }
  }
  const warnings = checkTierNodes(readTopology(), options.dramNodes, options.nvmNodes);
  const balancing = readText('/proc/sys/kernel/numa_balancing');
  if (balancing !== undefined && balancing !== '0') {
    const why = `kernel.numa_balancing is ${balancing}: the kernel's own NUMA balancing moves pages back to the node of the CPU that touches them and undoes hmmv's placement`;
    if (!options.allowNumaBalancing) throw new Error(`${why}; turn it off (sysctl kernel.numa_balancing=0) or pass allowNumaBalancing`);
    warnings.push(why);
  }
  return new LinuxMemoryHost(options, warnings);
}

export class LinuxMemoryHost implements MemoryHost {
  readonly kind = 'linux';
  readonly pageSizeBytes = PAGE;
  readonly pageCount: number;
  readonly vcpuCount: number;
  readonly info: LinuxHostInfo;

  private readonly pid: number;
  private readonly ram: readonly RamMapping[];
  private readonly regionList: GuestRamRegion[];
  private readonly pagemap: PagemapReader;
  readonly damon: DamonVaddrMonitor;
  private readonly t0 = Date.now();
  /** Per page: ms since t0 when its accessed evidence was last cleared. */
  private readonly lastClearMs: Uint32Array;
  /** Per page scratch: ms since t0 the page was last seen accessed (0 = not in the snapshot). */
  private readonly lastAccessMs: Uint32Array;
  /** Soft-dirty bits harvested (and cleared in the kernel) but not yet handed out. */
  private readonly pendingDirty: Bitmap;
  /** Entries one drainDirtyLog may return before it reports overflow (tunable while running). */
  dirtyLogCapacity: number;
  private readonly batch: number;
  private readonly queryBatch = 4096;
  private readonly dramNodes: readonly number[];
  private readonly nvmNodes: readonly number[];
  private closed = false;
  /** The DAMON regions behind the last testAndClearAccessed (diagnostics). */
  lastSnapshot: readonly DamonRegion[] = [];
  /** When lastSnapshot was taken, ms since t0 (0 = never). */
  private lastSnapshotAt = 0;

  constructor(options: LinuxHostOptions, warnings: string[]) {
    this.pid = options.pid;
    this.ram = options.ram;
    this.vcpuCount = options.vcpuCount ?? 1;
    this.dramNodes = options.dramNodes;
    this.nvmNodes = options.nvmNodes;
    let first = 0;
    this.regionList = options.ram.map((r) => {
      const region = { name: r.name, firstPage: first, pageCount: r.lengthBytes / PAGE, hostVirtAddr: r.start };
      first += region.pageCount;
      return region;
    });
    this.pageCount = first;
    this.lastClearMs = new Uint32Array(first);
    this.lastAccessMs = new Uint32Array(first);
    this.pendingDirty = createBitmap(first);
    this.dirtyLogCapacity = options.dirtyLogCapacity ?? this.vcpuCount * 512 * 64;
    this.batch = options.migrateBatchPages ?? 64;
    this.pagemap = new PagemapReader(this.pid);
    // Start from a clean soft-dirty state: everything written before counts as dirty once.
    this.harvestSoftDirty();
    this.damon = DamonVaddrMonitor.start(this.pid, options.damon);
    this.info = {
      accessTracker: 'damon-vaddr',
      dirtyTracker: 'soft-dirty (PML-style log emulated by full scans)',
      warnings,
      thpBytes: this.thpBytes(),
    };
  }

  regions(): readonly GuestRamRegion[] {
    return this.regionList;
  }

  /** Address in the target process of page `i`. */
  pageAddress(i: number): bigint {
    for (const r of this.regionList) {
      if (i >= r.firstPage && i < r.firstPage + r.pageCount) return r.hostVirtAddr! + BigInt((i - r.firstPage) * PAGE);
    }
    throw new RangeError(`page ${i} is outside guest RAM (${this.pageCount} pages)`);
  }

  // ---- accessed bits (DAMON) ----

  /**
   * DAMON gives, per region, the accesses seen in the last aggregation
   * interval and the age (intervals the pattern held). A region with
   * nr_accesses > 0 was accessed at the snapshot; one with nr_accesses == 0
   * and age a was last accessed about (a + 1) aggregation intervals before it.
   * A page counts as accessed since its last clear when its region's last
   * access is later than that clear. Within one aggregation interval DAMON has
   * nothing new, so the last snapshot is reused (and, being older than the
   * clears made since, reports nothing twice).
   */
  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> {
    this.assertOpen();
    const aggrMs = this.damon.attrs.aggrUs / 1000;
    if (this.lastSnapshotAt === 0 || Date.now() - this.t0 - this.lastSnapshotAt >= aggrMs) {
      this.lastSnapshot = await this.damon.snapshot();
      this.lastSnapshotAt = Math.max(1, Date.now() - this.t0);
      this.assertOpen();
    }
    const regions = this.lastSnapshot;
    const at = this.lastSnapshotAt;
    const now = Date.now() - this.t0;
    this.lastAccessMs.fill(0);
    for (const g of this.regionList) {
      const gStart = g.hostVirtAddr!;
      const gEnd = gStart + BigInt(g.pageCount * PAGE);
      for (const d of regions) {
        if (d.end <= gStart || d.start >= gEnd) continue;
        const lo = Number(((d.start > gStart ? d.start : gStart) - gStart) / BigInt(PAGE));
        const hi = Number(((d.end < gEnd ? d.end : gEnd) - gStart + BigInt(PAGE - 1)) / BigInt(PAGE));
        const seen = d.nrAccesses > 0 ? at : Math.max(1, at - (d.age + 1) * aggrMs);
        this.lastAccessMs.fill(seen, g.firstPage + lo, g.firstPage + hi);
      }
    }
    let n = 0;
    bitmapForEach(scan, (i) => {
      if (i >= this.pageCount) return;
      n++;
      if (this.lastAccessMs[i]! > this.lastClearMs[i]!) accessed[i >>> 5]! |= 1 << (i & 31);
      this.lastClearMs[i] = now;
    });
    return n;
  }

  // ---- dirty bits (soft-dirty) ----

  /** Reads soft-dirty bits of all guest RAM into pendingDirty, then clears them in the kernel. */
  private harvestSoftDirty(): void {
    const pending = this.pendingDirty;
    for (const g of this.regionList) {
      const base = g.firstPage;
      this.pagemap.scan(g.hostVirtAddr!, g.pageCount, PAGE, (i, hi) => {
        if ((hi & (PM_HI_PRESENT | PM_HI_SOFT_DIRTY)) === (PM_HI_PRESENT | PM_HI_SOFT_DIRTY)) {
          const p = base + i;
          pending[p >>> 5]! |= 1 << (p & 31);
        }
      });
    }
    // A write landing between the scan above and this clear is missed by this
    // round: dirty bits are temperature evidence, not data safety.
    clearSoftDirty(this.pid);
  }

  testAndClearDirty(scan: Bitmap, dirty: Bitmap): Promise<number> {
    this.assertOpen();
    this.harvestSoftDirty();
    const pending = this.pendingDirty;
    let n = 0;
    // pending has no bits past pageCount, so word operations need no per-page care.
    const words = Math.min(scan.length, pending.length);
    for (let w = 0; w < words; w++) {
      const s = scan[w]!;
      if (s === 0) continue;
      n += popcount(w === pending.length - 1 ? s & lastWordMask(this.pageCount) : s);
      dirty[w]! |= pending[w]! & s;
      pending[w]! &= ~s;
    }
    return Promise.resolve(n);
  }

  drainDirtyLog(): Promise<DirtyLogDrain> {
    this.assertOpen();
    this.harvestSoftDirty();
    const pending = this.pendingDirty;
    let count = 0;
    for (let w = 0; w < pending.length; w++) {
      const x = pending[w]!;
      if (x !== 0) count += popcount(x);
    }
    if (count > this.dirtyLogCapacity) {
      // Like a full PML buffer: the caller does a full dirty scan, which finds these pending bits.
      return Promise.resolve({ pages: new Uint32Array(0), count: 0, overflowed: true, bufferFullExits: 0 });
    }
    const pages = new Uint32Array(count);
    let k = 0;
    bitmapForEach(pending, (i) => {
      pages[k++] = i;
    });
    pending.fill(0);
    return Promise.resolve({ pages, count, overflowed: false, bufferFullExits: 0 });
  }

  // ---- tiers and migration (move_pages) ----

  /** Current node of each page in `pages` (negative errno where not present). */
  queryNodes(pages: Uint32Array): Int32Array {
    this.assertOpen();
    const status = new Int32Array(pages.length);
    for (let off = 0; off < pages.length; off += this.queryBatch) {
      const n = Math.min(this.queryBatch, pages.length - off);
      const addrs = new BigUint64Array(n);
      for (let k = 0; k < n; k++) addrs[k] = this.pageAddress(pages[off + k]!);
      const st = new Int32Array(n);
      movePagesRaw(this.pid, addrs, null, st);
      status.set(st, off);
    }
    return status;
  }

  private allPages(): Uint32Array {
    const all = new Uint32Array(this.pageCount);
    for (let i = 0; i < all.length; i++) all[i] = i;
    return all;
  }

  /** Not-present pages (never touched) count as DRAM: their bit stays clear. */
  readTierMap(out: Bitmap): Promise<void> {
    const nodes = this.queryNodes(this.allPages());
    out.fill(0);
    for (let i = 0; i < nodes.length; i++) if (this.nvmNodes.includes(nodes[i]!)) out[i >>> 5]! |= 1 << (i & 31);
    return Promise.resolve();
  }

  migrate(pages: Uint32Array, target: Tier, signal?: AbortSignal): Promise<MigrationResult> {
    this.assertOpen();
    const targetNodes = target === Tier.NVM ? this.nvmNodes : this.dramNodes;
    const node = targetNodes[0]!;
    const outcome = new Uint8Array(pages.length);
    const failures: { index: number; reason: string }[] = [];
    let moved = 0;
    let busy = 0;
    let failed = 0;
    let pauseNs = 0;
    let maxPauseNs = 0;
    for (let off = 0; off < pages.length; off += this.batch) {
      const n = Math.min(this.batch, pages.length - off);
      if (signal?.aborted) {
        for (let k = off; k < pages.length; k++) outcome[k] = MigrationOutcome.Busy;
        busy += pages.length - off;
        break;
      }
      for (let k = 0; k < n; k++) {
        if (pages[off + k]! >= this.pageCount) throw new RangeError(`migrate: page ${pages[off + k]} is outside guest RAM (${this.pageCount} pages)`);
      }
      const cur = this.queryNodes(pages.subarray(off, off + n));
      const idx: number[] = [];
      for (let k = 0; k < n; k++) {
        const s = cur[k]!;
        if (s >= 0 && targetNodes.includes(s)) outcome[off + k] = MigrationOutcome.AlreadyThere;
        else if (s === -Errno.EBUSY) {
          outcome[off + k] = MigrationOutcome.Busy;
          busy++;
        } else if (s < 0) {
          outcome[off + k] = MigrationOutcome.Failed;
          failed++;
          failures.push({ index: off + k, reason: statusReason(s) });
        } else idx.push(k);
      }
      if (idx.length === 0) continue;
      const addrs = new BigUint64Array(idx.length);
      const nodes = new Int32Array(idx.length).fill(node);
      const status = new Int32Array(idx.length);
      for (let j = 0; j < idx.length; j++) addrs[j] = this.pageAddress(pages[off + idx[j]!]!);
      const t = process.hrtime.bigint();
      movePagesRaw(this.pid, addrs, nodes, status);
      const dt = Number(process.hrtime.bigint() - t);
      // Upper bound per page: the kernel unmaps a page for part of this call only
      // (migration entry during its copy); we cannot see finer than the call.
      let movedHere = 0;
      for (let j = 0; j < idx.length; j++) {
        const k = off + idx[j]!;
        const s = status[j]!;
        if (s === node) {
          outcome[k] = MigrationOutcome.Moved;
          movedHere++;
        } else if (s === -Errno.EBUSY || s === -Errno.EAGAIN) {
          outcome[k] = MigrationOutcome.Busy;
          busy++;
        } else {
          outcome[k] = MigrationOutcome.Failed;
          failed++;
          failures.push({ index: k, reason: s >= 0 ? `stayed on node ${s}` : statusReason(s) });
        }
      }
      moved += movedHere;
      pauseNs += dt * movedHere;
      if (movedHere > 0) maxPauseNs = Math.max(maxPauseNs, dt);
    }
    return Promise.resolve({ outcome, failures, moved, busy, failed, bytesCopied: moved * PAGE, recopies: 0, pauseNs, maxPauseNs });
  }

  async tierUsage(): Promise<readonly TierUsage[]> {
    const topo = readTopology();
    const nodes = this.queryNodes(this.allPages());
    const usage = (tier: Tier, list: readonly number[]): TierUsage => {
      let cap = 0;
      let free = 0;
      for (const id of list) {
        const n = topo.nodes.find((x) => x.id === id);
        if (n) {
          cap += n.memTotalBytes;
          free += n.memFreeBytes;
        }
      }
      let vm = 0;
      for (let i = 0; i < nodes.length; i++) if (list.includes(nodes[i]!)) vm++;
      return { tier, name: TIER_NAMES[tier], capacityPages: Math.floor(cap / PAGE), usedPages: Math.floor((cap - free) / PAGE), vmPages: vm };
    };
    return [usage(Tier.DRAM, this.dramNodes), usage(Tier.NVM, this.nvmNodes)];
  }

  /** THP-backed bytes within the guest-RAM mappings, from /proc/PID/smaps. */
  thpBytes(): number {
    const text = readText(`/proc/${this.pid}/smaps`) ?? '';
    let total = 0;
    let inRam = false;
    for (const line of text.split('\n')) {
      const head = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
      if (head) {
        const s = BigInt('0x' + head[1]);
        const e = BigInt('0x' + head[2]);
        inRam = this.ram.some((r) => s < r.start + BigInt(r.lengthBytes) && e > r.start);
        continue;
      }
      const m = /^(AnonHugePages|ShmemPmdMapped|FilePmdMapped):\s+(\d+) kB/.exec(line);
      if (m && inRam) total += Number(m[2]) * 1024;
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.damon.stop();
    } finally {
      this.pagemap.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('linux memory host is closed');
  }
}

/** Bits of the last bitmap word that are real pages. */
function lastWordMask(pageCount: number): number {
  const rest = pageCount & 31;
  return rest === 0 ? 0xffffffff : (1 << rest) - 1;
}
