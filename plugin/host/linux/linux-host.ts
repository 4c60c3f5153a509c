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
 * - huge pages: guest RAM in 2 MiB pages is reported as 512-page units
 *   (PAGEMAP_SCAN, huge-pages.ts); a unit is moved by naming it once and is
 *   never split by hmmv.
 *
 * Dirty and accessed bits only feed temperature; data safety rests on the
 * kernel's migration alone. The pure parts live beside this file:
 * damon-evidence.ts, dirty-log.ts, migration-tally.ts, smaps.ts, huge-pages.ts.
 */
import type { Bitmap } from '../../util/bitmap.js';
import { createBitmap } from '../../util/bitmap.js';
import type { DirtyLogDrain, GuestRamRegion, MemoryHost, MigrationResult, TierUsage } from '../memory-host.js';
import { MigrationOutcome, Tier, TIER_NAMES } from '../memory-host.js';
import { DamonBusyError, DamonVaddrMonitor, regionBoundsFor, type DamonAttrs, type DamonRegion } from './damon.js';
import type { DamonRegistryOptions } from './damon-registry.js';
import { harvestAccessed, lastAccessFromRegions, type PagedRange } from './damon-evidence.js';
import { drainPending, takeScannedDirty } from './dirty-log.js';
import { PAGES_PER_HUGE_PAGE, PagemapScanUnsupported, scanHugeRanges, unitsFromHugeRanges } from './huge-pages.js';
import type { RamMapping } from './maps.js';
import { MigrationTally } from './migration-tally.js';
import { Errno, movePagesRaw } from './move-pages.js';
import { clearSoftDirty, PagemapReader, PM_HI_PRESENT, PM_HI_SOFT_DIRTY } from './pagemap.js';
import { missingSummary, probeHost, type ProbeReport } from './probe.js';
import { parseSmaps, thpBytesIn } from './smaps.js';
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
  /** Where this manager's kdamond claim is recorded and locked (default /run/hmmv/damon). */
  readonly damonRegistry?: DamonRegistryOptions;
  /** Entries one drainDirtyLog may return before it reports overflow (default: vcpuCount * 512 * 64). */
  readonly dirtyLogCapacity?: number;
  /** Pages per move_pages call that moves (default 64: bounds how long a page may be unmapped); a huge page is one call of its own. */
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
  /** Bytes of guest RAM backed by transparent huge pages (AnonHugePages + ShmemPmdMapped + FilePmdMapped in smaps), at open. */
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
  refuseGiantPages(options.pid, options.ram);
  const warnings = checkTierNodes(readTopology(), options.dramNodes, options.nvmNodes);
  const balancing = readText('/proc/sys/kernel/numa_balancing');
  if (balancing !== undefined && balancing !== '0') {
    const why = `kernel.numa_balancing is ${balancing}: the kernel's own NUMA balancing moves pages back to the node of the CPU that touches them and undoes hmmv's placement`;
    if (!options.allowNumaBalancing) throw new Error(`${why}; turn it off (sysctl kernel.numa_balancing=0) or pass allowNumaBalancing`);
    warnings.push(why);
  }
  const pages = options.ram.reduce((n, r) => n + r.lengthBytes / PAGE, 0);
  const damon = await DamonVaddrMonitor.start(options.pid, { ...regionBoundsFor(pages), ...options.damon }, options.damonRegistry);
  warnings.push(...damon.reclaimed.map((r) => `DAMON: ${r}`));
  try {
    return new LinuxMemoryHost(options, warnings, damon);
  } catch (err) {
    await damon.stop();
    throw err;
  }
}

/** Guest RAM on hugetlbfs pages larger than 2 MiB (1 GiB pages) cannot be planned in 512-page units: refuse, naming it. */
function refuseGiantPages(pid: number, ram: readonly RamMapping[]): void {
  const smaps = parseSmaps(readText(`/proc/${pid}/smaps`) ?? '');
  for (const r of ram) {
    const end = r.start + BigInt(r.lengthBytes);
    const giant = smaps.find((e) => e.start < end && e.end > r.start && (e.kb.get('KernelPageSize') ?? PAGE) > 2 << 20);
    if (giant) {
      throw new Error(`guest RAM "${r.name}" is on ${giant.kb.get('KernelPageSize')! >> 10} KiB hugetlbfs pages: the linux backend plans 4 KiB pages and 2 MiB units only (use 2 MiB huge pages or THP)`);
    }
  }
}

export class LinuxMemoryHost implements MemoryHost {
  readonly kind = 'linux';
  readonly pageSizeBytes = PAGE;
  readonly pageCount: number;
  readonly vcpuCount: number;
  readonly info: LinuxHostInfo;
  /** DAMON's aggregation interval: its snapshot changes no more often. */
  readonly accessedIntervalNs: number;

  private readonly pid: number;
  private readonly ram: readonly RamMapping[];
  private readonly regionList: (GuestRamRegion & PagedRange)[];
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
  /** First page of every 2 MiB unit, as the last hugePageUnits() reported (ascending). */
  private units: Uint32Array = new Uint32Array(0);
  /** Units named to move_pages so far (one address each), and units in the last report (diagnostics). */
  unitMoves = 0;
  get lastUnitCount(): number {
    return this.units.length;
  }
  private readonly warnings: string[];
  private closed = false;
  /** The DAMON regions behind the last testAndClearAccessed (diagnostics). */
  lastSnapshot: readonly DamonRegion[] = [];
  /** Rounds whose DAMON snapshot request found sysfs busy through every retry (they reused the last snapshot). */
  busySnapshots = 0;
  /** When lastSnapshot was taken, ms since t0 (0 = never). */
  private lastSnapshotAt = 0;

  constructor(options: LinuxHostOptions, warnings: string[], damon: DamonVaddrMonitor) {
    this.pid = options.pid;
    this.ram = options.ram;
    this.vcpuCount = options.vcpuCount ?? 1;
    this.dramNodes = options.dramNodes;
    this.nvmNodes = options.nvmNodes;
    this.warnings = warnings;
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
    // Start from a clean soft-dirty state. Writes before the open are not
    // evidence for the first window: every page the guest wrote since QEMU
    // started would look written once, and the first window would rank all
    // of guest RAM alike (and could demote hot pages with the cold).
    clearSoftDirty(this.pid);
    this.damon = damon;
    this.accessedIntervalNs = damon.attrs.aggrUs * 1000;
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
      if (i >= r.firstPage && i < r.firstPage + r.pageCount) return r.hostVirtAddr + BigInt((i - r.firstPage) * PAGE);
    }
    throw new RangeError(`page ${i} is outside guest RAM (${this.pageCount} pages)`);
  }

  // ---- accessed bits (DAMON; evidence rules in damon-evidence.ts) ----

  /**
   * Within one aggregation interval DAMON has nothing new, so the last
   * snapshot is reused (and, being older than the clears made since, reports
   * nothing twice).
   */
  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> {
    this.assertOpen();
    const aggrMs = this.damon.attrs.aggrUs / 1000;
    const askedAt = Math.max(1, Date.now() - this.t0);
    if (this.lastSnapshotAt === 0 || askedAt - this.lastSnapshotAt >= aggrMs) {
      // Stamped when asked, not when answered (the answer waits for kdamond's
      // next aggregation): a round one interval after the last asks again.
      try {
        this.lastSnapshot = await this.damon.snapshot();
        this.lastSnapshotAt = askedAt;
      } catch (err) {
        // DAMON's sysfs busy through every retry (a loaded host, several
        // kdamonds): this round has no new evidence, the next one asks again.
        // The manager must not stop over it.
        if (!(err instanceof DamonBusyError)) throw err;
        this.busySnapshots++;
      }
      this.assertOpen();
    }
    lastAccessFromRegions(this.lastSnapshot, this.regionList, aggrMs, this.lastSnapshotAt, this.damon.startedAt - this.t0, this.lastAccessMs);
    return harvestAccessed(scan, this.lastAccessMs, this.lastClearMs, Date.now() - this.t0, this.pageCount, accessed);
  }

  // ---- dirty bits (soft-dirty; the log emulation in dirty-log.ts) ----

  /** Reads soft-dirty bits of all guest RAM into pendingDirty, then clears them in the kernel. */
  private harvestSoftDirty(): void {
    const pending = this.pendingDirty;
    for (const g of this.regionList) {
      const base = g.firstPage;
      this.pagemap.scan(g.hostVirtAddr, g.pageCount, PAGE, (i, hi) => {
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
    return Promise.resolve(takeScannedDirty(this.pendingDirty, scan, dirty, this.pageCount));
  }

  drainDirtyLog(): Promise<DirtyLogDrain> {
    this.assertOpen();
    this.harvestSoftDirty();
    return Promise.resolve(drainPending(this.pendingDirty, this.dirtyLogCapacity));
  }

  // ---- huge pages ----

  /**
   * The 2 MiB units of guest RAM now (first page of each, ascending). A unit
   * named in migrate() moves whole. A kernel without PAGEMAP_SCAN reports
   * none (with a warning): then move_pages still moves each huge page whole
   * when one of its pages is named.
   */
  hugePageUnits(): Promise<Uint32Array> {
    this.assertOpen();
    const huge = [];
    try {
      for (const g of this.regionList) huge.push(...scanHugeRanges(this.pagemap.fd, g.hostVirtAddr, g.hostVirtAddr + BigInt(g.pageCount * PAGE)));
    } catch (err) {
      if (!(err instanceof PagemapScanUnsupported)) throw err;
      const why = `${err.message}: huge pages in guest RAM are not planned as units`;
      if (!this.warnings.includes(why)) this.warnings.push(why);
      this.units = new Uint32Array(0);
      return Promise.resolve(this.units.slice());
    }
    this.units = unitsFromHugeRanges(huge, this.regionList);
    return Promise.resolve(this.units.slice());
  }

  /** Whether `page` is the first page of a unit of the last report (binary search). */
  private isUnitHead(page: number): boolean {
    const u = this.units;
    let lo = 0;
    let hi = u.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u[mid]! < page) lo = mid + 1;
      else hi = mid;
    }
    return lo < u.length && u[lo] === page;
  }

  // ---- tiers and migration (move_pages; outcomes in migration-tally.ts) ----

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

  /**
   * Moves `pages` to `target`, `migrateBatchPages` pages per call (a unit is
   * a call of its own). An entry naming the first page of a unit (as last
   * reported by hugePageUnits) moves the unit: one address, 512 pages.
   */
  migrate(pages: Uint32Array, target: Tier, signal?: AbortSignal): Promise<MigrationResult> {
    this.assertOpen();
    for (let k = 0; k < pages.length; k++) {
      if (pages[k]! >= this.pageCount) throw new RangeError(`migrate: page ${pages[k]} is outside guest RAM (${this.pageCount} pages)`);
    }
    const targetNodes = target === Tier.NVM ? this.nvmNodes : this.dramNodes;
    const node = targetNodes[0]!;
    const unit = new Uint8Array(pages.length);
    for (let k = 0; k < pages.length; k++) unit[k] = this.units.length > 0 && this.isUnitHead(pages[k]!) ? 1 : 0;
    const tally = new MigrationTally(pages.length, (e) => (unit[e] ? PAGES_PER_HUGE_PAGE : 1));
    for (let off = 0; off < pages.length; ) {
      // One call's entries: up to `batch` pages, a unit alone.
      let end = off + 1;
      if (!unit[off]) while (end < pages.length && end - off < this.batch && !unit[end]) end++;
      if (signal?.aborted) {
        tally.abort(off, pages.length - off);
        break;
      }
      const entries = range(off, end);
      const toMove = tally.fromQuery(entries, this.queryNodes(pages.subarray(off, end)), targetNodes);
      off = end;
      if (toMove.length === 0) continue;
      if (unit[toMove[0]!]) {
        this.moveUnit(tally, toMove[0]!, pages[toMove[0]!]!, node, targetNodes);
        continue;
      }
      const addrs = BigUint64Array.from(toMove, (e) => this.pageAddress(pages[e]!));
      const status = new Int32Array(toMove.length);
      const t = process.hrtime.bigint();
      movePagesRaw(this.pid, addrs, new Int32Array(toMove.length).fill(node), status);
      const callNs = Number(process.hrtime.bigint() - t);
      const busy = tally.fromMove(toMove, status, node, callNs);
      if (busy.length > 0) tally.fromRequery(busy, this.queryNodes(Uint32Array.from(busy, (e) => pages[e]!)), targetNodes, callNs);
    }
    return Promise.resolve(tally.result());
  }

  /**
   * One unit: move_pages naming its first page moves the whole huge page. The
   * kernel may answer -EBUSY although it moved (re-query), and it splits a
   * huge page it cannot move whole (no free 2 MiB on the target): then only
   * part moved, and the rest is moved by 4 KiB pages (the kernel has split it
   * already) so the unit ends whole on the target or is reported failed.
   */
  private moveUnit(tally: MigrationTally, entry: number, head: number, node: number, targetNodes: readonly number[]): void {
    const status = new Int32Array(1);
    const t = process.hrtime.bigint();
    this.unitMoves++;
    movePagesRaw(this.pid, BigUint64Array.of(this.pageAddress(head)), Int32Array.of(node), status);
    const callNs = Number(process.hrtime.bigint() - t);
    const on = (s: number) => s >= 0 && targetNodes.includes(s);
    const headStatus = status[0] === node ? node : this.queryNodes(Uint32Array.of(head))[0]!;
    if (!on(headStatus)) {
      tally.fromMove([entry], Int32Array.of(status[0] === -Errno.EBUSY || status[0] === -Errno.EAGAIN ? status[0] : headStatus), node, callNs);
      return;
    }
    const rest = Uint32Array.from({ length: PAGES_PER_HUGE_PAGE - 1 }, (_, k) => head + 1 + k);
    if (on(this.queryNodes(rest.subarray(rest.length - 1))[0]!) && on(this.queryNodes(rest.subarray(0, 1))[0]!)) {
      tally.fromMove([entry], Int32Array.of(node), node, callNs);
      return;
    }
    movePagesRaw(this.pid, BigUint64Array.from(rest, (p) => this.pageAddress(p)), new Int32Array(rest.length).fill(node), new Int32Array(rest.length));
    const callsNs = Number(process.hrtime.bigint() - t);
    const left = this.queryNodes(rest).reduce((n, s) => n + (on(s) ? 0 : 1), 0);
    if (left === 0) tally.fromMove([entry], Int32Array.of(node), node, callsNs);
    else tally.set(entry, MigrationOutcome.Failed, `huge page split by the kernel while moving; ${left} of its ${PAGES_PER_HUGE_PAGE} pages stayed behind`);
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

  /** DAMON's snapshots so far (count, regions per snapshot, ms per snapshot in each part), busy rounds and units moved. */
  diagnostics(): Record<string, number> {
    const t = this.damon.snapshotTotals;
    const per = (x: number) => (t.snapshots === 0 ? 0 : Math.round(x / t.snapshots));
    return {
      damonSnapshots: t.snapshots,
      damonRegionsPerSnapshot: per(t.regions),
      damonLockMsPerSnapshot: per(t.lockMs),
      damonRequestMsPerSnapshot: per(t.requestMs),
      damonReadMsPerSnapshot: per(t.readMs),
      damonMaxRegions: this.damon.attrs.maxRegions,
      busySnapshots: this.busySnapshots,
      unitMoves: this.unitMoves,
    };
  }

  /** THP-backed bytes within the guest-RAM mappings, from /proc/PID/smaps. */
  thpBytes(): number {
    return thpBytesIn(parseSmaps(readText(`/proc/${this.pid}/smaps`) ?? ''), this.ram);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.damon.stop();
    } finally {
      this.pagemap.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('linux memory host is closed');
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
