/**
 * The memory host of one simulated VM on a shared simulated machine
 * (MemoryHost, plugin/host/memory-host.ts). It owns the VM's per-page state,
 * all in typed arrays:
 *   tier      Uint8 per page: 0 DRAM, 1 NVM, UNALLOCATED until first touch
 *   accessed  bitmap of EPT accessed bits (set by the guest, test-and-cleared)
 *   dirty     bitmap of EPT dirty bits; a 0 -> 1 transition logs the page to
 *             the writing vCPU's PML buffer (512 entries; full = VM exit, the
 *             buffer moves into a bounded host log; a full host log drops
 *             entries and sets the overflow flag)
 *   version   Int32 per page (wrapping): the content a migration copies. A
 *             guest write to a page being migrated bumps it, so a write
 *             during the copy is seen at the switch; with contentTracking
 *             every write bumps it, so tests can prove no write is lost (the
 *             runner's fast loop leaves pages not in flight alone: their
 *             version matters to no one and the random write costs a cache miss)
 *   inFlight  bitmap of pages being migrated
 *   onNvm     bitmap of the pages tier[] puts on NVM (kept with every write of
 *             tier[]): the runner's fast loop reads a page's tier from it, an
 *             8 KiB bitmap per 64 Ki pages that stays in the L1 cache where
 *             the 64 KiB tier[] missed it on every random access
 * (accessed, dirty, inFlight and onNvm are interleaved by word in one array, pageBits.)
 * The guest side (vm-runner.ts) reads and writes these arrays directly in its
 * hot loop and calls back here only on the slow paths (first touch, PML log).
 * Management work is charged as CPU time the VM loses (costs.ts).
 */
import {
  MigrationOutcome,
  Tier,
  TIER_NAMES,
  type DirtyLogDrain,
  type GuestRamRegion,
  type MigrationResult,
  type TierUsage,
} from '../../host/memory-host.js';
import { createBitmap, popcount32, type Bitmap } from '../../util/bitmap.js';
import type { Clock } from '../../util/clock.js';
import {
  DEFAULT_COPY_BYTES_PER_SEC,
  DEFAULT_MAX_RECOPIES,
  PML_BUFFER_ENTRIES,
  PML_FULL_EXIT_NS,
  PML_KICK_NS_PER_VCPU,
  SCAN_NS_PER_PAGE,
  SWITCH_NS_PER_PAGE,
  SWITCH_SHOOTDOWN_NS,
  TLB_FLUSH_NS_PER_VCPU,
} from './costs.js';
import type { TierLoad } from './tier-load.js';
import type { PolicyHost } from './policy.js';

export const PAGE_SIZE_BYTES = 4096;
/** tier[] value of a page the guest has not touched yet (no host memory behind it). */
export const UNALLOCATED = 2;

/**
 * An optional per-access hook a policy installs on a host (NUMA balancing's
 * hint faults, Memory Mode's DRAM cache). The runner's hot loop tests one field
 * for it, so an unhooked host pays nothing more.
 */
/** The bitmaps of SimHost.pageBits (planes): word w of plane c at (w << 2) | c. */
export const ON_NVM = 0;
export const DIRTY = 1;
export const ACCESSED = 2;
export const IN_FLIGHT = 3;
/** Where page `page`'s bit of bitmap `plane` lives in SimHost.pageBits (its bit: 1 << (page & 31)). */
export const pageBitsIndex = (page: number, plane: number): number => ((page >>> 5) << 2) | plane;

export interface AccessHook {
  /** Pages whose accesses go through `access`; null: every access does. */
  readonly watched: Bitmap | null;
  /**
   * One guest access to a watched page at VM time `nowNs`, to the lines its
   * descriptor names (workload.ts). Returns the tier whose latency the access
   * pays and whose counters it counts (a write-back-only access pays none).
   */
  access(page: number, lines: number, write: boolean, nowNs: number): number;
  /** Latency the last `access` adds on top of its tier's (e.g. Memory Mode's miss penalty), ns; 0 if none. */
  readonly extraLatencyNs?: number;
  /**
   * True if `access` puts the access's media traffic on the tiers itself
   * (Memory Mode's cache moves lines its own way); otherwise the runner
   * charges the returned tier as for an unhooked access.
   */
  readonly accountsTraffic?: boolean;
}

export interface SimHostOptions {
  readonly name: string;
  readonly pageCount: number;
  readonly vcpuCount: number;
  /** Pages of DRAM this VM may take at first touch (then NVM); Infinity = as long as the host has DRAM. */
  readonly firstTouchDramPages: number;
  /** Entries the host-side dirty log holds between drains. */
  readonly hostLogEntries?: number;
  readonly copyBytesPerSec?: number;
  readonly maxRecopies?: number;
  /** Count every guest write in `version` (tests); default: only writes to pages being migrated. */
  readonly contentTracking?: boolean;
}

/** CPU time charged to the VM, by cause (ns). */
export interface SimHostCharges {
  scanNs: number;
  tlbFlushNs: number;
  /** Faults taken to track accesses (NUMA hint faults), charged by policies. */
  faultNs: number;
  pmlExitNs: number;
  pmlKickNs: number;
  switchNs: number;
}

/** What the host has done, for reports and tests. */
export interface SimHostCounters {
  pagesScanned: number;
  scanRounds: number;
  pmlBufferFullExits: number;
  pmlLogged: number;
  pmlDropped: number;
  migratedToDram: number;
  migratedToNvm: number;
  busy: number;
  failed: number;
  recopies: number;
  bytesCopied: number;
  maxPauseNs: number;
}

export class SimHost implements PolicyHost {
  readonly kind = 'sim';
  readonly pageSizeBytes = PAGE_SIZE_BYTES;
  readonly name: string;
  readonly pageCount: number;
  readonly vcpuCount: number;

  // --- per-page state, shared with the guest runner ---
  readonly tier: Uint8Array;
  readonly version: Int32Array;
  /**
   * The onNvm, dirty, accessed and inFlight bitmaps interleaved by word: word
   * w of bitmap `plane` (ON_NVM, DIRTY, ACCESSED, IN_FLIGHT) at (w << 2) |
   * plane (pageBitsIndex). A guest access reads three of them at the same
   * word: one cache line (four separate bitmaps were three L1 misses per
   * random access) and one array (V8 checks each array an access touches).
   */
  readonly pageBits: Uint32Array;
  /** Pages not touched yet (tier[] UNALLOCATED); 0 lets the fast loop skip tier[]. */
  untouchedPages: number;
  /** Pages whose inFlight bit is set; 0 lets the fast loop skip inFlight. */
  inFlightPages = 0;
  /** Pages of this VM per tier (DRAM, NVM). */
  readonly vmTierPages = new Float64Array(2);
  /** CPU time owed by the VM that its runner has not yet taken, ns. */
  pendingCpuNs = 0;
  /** Every guest write bumps `version` (not only writes to pages in flight). */
  readonly contentTracking: boolean;
  /** Set by a policy that must see accesses (AccessHook); undefined on the fast path. */
  accessHook: AccessHook | undefined = undefined;

  readonly charges: SimHostCharges = { scanNs: 0, tlbFlushNs: 0, faultNs: 0, pmlExitNs: 0, pmlKickNs: 0, switchNs: 0 };
  readonly counters: SimHostCounters = {
    pagesScanned: 0,
    scanRounds: 0,
    pmlBufferFullExits: 0,
    pmlLogged: 0,
    pmlDropped: 0,
    migratedToDram: 0,
    migratedToNvm: 0,
    busy: 0,
    failed: 0,
    recopies: 0,
    bytesCopied: 0,
    maxPauseNs: 0,
  };

  private readonly load: TierLoad;
  private readonly clock: Clock;
  private firstTouchDramLeft: number;
  private readonly copyBytesPerSec: number;
  private readonly maxRecopies: number;
  // PML: one 512-entry buffer per vCPU, drained into a bounded host log.
  private readonly pmlBuffers: Uint32Array;
  private readonly pmlFill: Int32Array;
  private readonly hostLog: Uint32Array;
  private hostLogCount = 0;
  private overflowed = false;
  private exitsSinceDrain = 0;
  private readonly drainSeen: Bitmap;
  private closed = false;

  constructor(options: SimHostOptions, load: TierLoad, clock: Clock) {
    const { pageCount, vcpuCount } = options;
    if (!Number.isInteger(pageCount) || pageCount <= 0 || pageCount >= 2 ** 31) {
      throw new Error(`VM ${options.name}: page count must be a positive integer below 2^31, got ${pageCount}`);
    }
    if (!Number.isInteger(vcpuCount) || vcpuCount <= 0) {
      throw new Error(`VM ${options.name}: vCPU count must be a positive integer, got ${vcpuCount}`);
    }
    this.name = options.name;
    this.pageCount = pageCount;
    this.vcpuCount = vcpuCount;
    this.load = load;
    this.clock = clock;
    this.firstTouchDramLeft = options.firstTouchDramPages;
    this.contentTracking = options.contentTracking === true;
    this.copyBytesPerSec = options.copyBytesPerSec ?? DEFAULT_COPY_BYTES_PER_SEC;
    this.maxRecopies = options.maxRecopies ?? DEFAULT_MAX_RECOPIES;
    this.tier = new Uint8Array(pageCount).fill(UNALLOCATED);
    this.pageBits = new Uint32Array(4 * createBitmap(pageCount).length);
    this.untouchedPages = pageCount;
    this.drainSeen = createBitmap(pageCount);
    this.version = new Int32Array(pageCount);
    this.pmlBuffers = new Uint32Array(vcpuCount * PML_BUFFER_ENTRIES);
    this.pmlFill = new Int32Array(vcpuCount);
    const logEntries = options.hostLogEntries ?? vcpuCount * PML_BUFFER_ENTRIES * 64;
    if (!Number.isInteger(logEntries) || logEntries < 1) {
      throw new Error(`VM ${options.name}: host dirty-log size must be a positive integer, got ${logEntries}`);
    }
    this.hostLog = new Uint32Array(logEntries);
  }

  regions(): readonly GuestRamRegion[] {
    return [{ name: `${this.name}-ram`, firstPage: 0, pageCount: this.pageCount, guestPhysAddr: 0n }];
  }

  // ---------------------------------------------------------------- guest slow paths

  /** First touch of a page: back it with DRAM while this VM's allowance and the host last, else NVM. */
  allocateOnTouch(page: number): number {
    const t = this.firstTouchDramLeft > 0 && this.load.freePages(Tier.DRAM) > 0 ? Tier.DRAM : Tier.NVM;
    if (t === Tier.NVM && this.load.freePages(Tier.NVM) <= 0) {
      // Validation keeps every VM within DRAM + NVM, so this is a bug, not bad input.
      throw new Error(`VM ${this.name}: no DRAM or NVM left for page ${page}`);
    }
    if (t === Tier.DRAM) this.firstTouchDramLeft--;
    this.place(page, t);
    return t;
  }

  /** Forgets what was charged and counted so far (the end of a warm-up). */
  resetAccounting(): void {
    for (const k of Object.keys(this.charges) as (keyof SimHostCharges)[]) this.charges[k] = 0;
    for (const k of Object.keys(this.counters) as (keyof SimHostCounters)[]) this.counters[k] = 0;
    this.pendingCpuNs = 0;
  }

  /** A write set the page's dirty bit (0 -> 1): log it in the vCPU's PML buffer. */
  logWrite(page: number, vcpu: number): void {
    const fill = this.pmlFill[vcpu]!;
    this.pmlBuffers[vcpu * PML_BUFFER_ENTRIES + fill] = page;
    this.pmlFill[vcpu] = fill + 1;
    this.counters.pmlLogged++;
    if (fill + 1 === PML_BUFFER_ENTRIES) {
      // Buffer full: VM exit, the host moves the buffer into its log.
      this.flushPml(vcpu);
      this.counters.pmlBufferFullExits++;
      this.exitsSinceDrain++;
      this.charge('pmlExitNs', PML_FULL_EXIT_NS);
    }
  }

  /** Moves a vCPU's PML buffer into the host log; what does not fit is dropped and flagged. */
  private flushPml(vcpu: number): void {
    const entries = this.pmlFill[vcpu]!;
    const base = vcpu * PML_BUFFER_ENTRIES;
    const kept = Math.min(this.hostLog.length - this.hostLogCount, entries);
    this.hostLog.set(this.pmlBuffers.subarray(base, base + kept), this.hostLogCount);
    this.hostLogCount += kept;
    if (kept < entries) {
      this.overflowed = true;
      this.counters.pmlDropped += entries - kept;
    }
    this.pmlFill[vcpu] = 0;
  }

  private charge(kind: keyof SimHostCharges, ns: number): void {
    this.charges[kind] += ns;
    this.pendingCpuNs += ns;
  }

  /** CPU time a policy's own machinery takes from this VM (baselines that do not go through MemoryHost calls). */
  chargeCpu(kind: keyof SimHostCharges, ns: number): void {
    this.charge(kind, ns);
  }

  /** Counts pages a policy's own tracker scanned (for the tracking-cost table). */
  countScanned(pages: number): void {
    this.counters.pagesScanned += pages;
  }

  /**
   * Moves one page at once, for kernel paths that copy a page with the guest
   * stopped on it (NUMA balancing promotes in the faulting vCPU's context;
   * reclaim demotes an unmapped page) and for the oracle, whose moves are free.
   * The caller charges the time. Returns false (nothing changes) if the page is
   * untouched, being migrated, already there, or the target tier is full.
   */
  relocate(page: number, target: Tier, countTraffic = true): boolean {
    const source = this.tier[page]!;
    if (source === target || source > 1) return false;
    if ((this.pageBits[pageBitsIndex(page, IN_FLIGHT)]! & (1 << (page & 31))) !== 0) return false;
    if (this.load.freePages(target) <= 0) return false;
    this.load.usedPages[source]!--;
    this.load.usedPages[target]!++;
    this.vmTierPages[source]!--;
    this.vmTierPages[target]!++;
    this.setTier(page, target);
    if (countTraffic) {
      this.load.addCopyBytes(source, target, PAGE_SIZE_BYTES);
      this.counters.bytesCopied += PAGE_SIZE_BYTES;
      if (target === Tier.DRAM) this.counters.migratedToDram++;
      else this.counters.migratedToNvm++;
    }
    return true;
  }

  // ---------------------------------------------------------------- what policies see (PolicyHost)

  tierOf(page: number): number {
    return this.tier[page]!;
  }

  pagesOn(tier: Tier): number {
    return this.vmTierPages[tier]!;
  }

  isAccessed(page: number): boolean {
    return (this.pageBits[pageBitsIndex(page, ACCESSED)]! & (1 << (page & 31))) !== 0;
  }

  clearAccessed(page: number): void {
    this.pageBits[pageBitsIndex(page, ACCESSED)]! &= ~(1 << (page & 31));
  }

  setAccessHook(hook: AccessHook | undefined): void {
    this.accessHook = hook;
  }

  /** All management CPU time charged so far that counts as tracking (scans, flushes, PML). */
  trackingCpuNs(): number {
    const c = this.charges;
    return c.scanNs + c.tlbFlushNs + c.faultNs + c.pmlExitNs + c.pmlKickNs;
  }

  // ---------------------------------------------------------------- MemoryHost

  async readTierMap(out: Bitmap): Promise<void> {
    this.checkBitmap(out, 'tier map');
    out.fill(0);
    const tier = this.tier;
    for (let p = 0; p < this.pageCount; p++) {
      if (tier[p] !== Tier.DRAM) out[p >>> 5]! |= 1 << (p & 31);
    }
  }

  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> {
    return this.testAndClear(scan, accessed, ACCESSED, 'accessed');
  }

  async testAndClearDirty(scan: Bitmap, dirty: Bitmap): Promise<number> {
    // Clearing a dirty bit re-arms PML logging for that page.
    return this.testAndClear(scan, dirty, DIRTY, 'dirty');
  }

  /** Test-and-clear of the scanned pages' bits of one bitmap of pageBits (`plane`). */
  private testAndClear(scan: Bitmap, out: Bitmap, plane: number, what: string): number {
    this.checkBitmap(scan, `${what} scan set`);
    this.checkBitmap(out, `${what} result`);
    const bits = this.pageBits;
    const words = bits.length >>> 2;
    let scanned = 0;
    for (let w = 0; w < words; w++) {
      const s = scan[w]!;
      if (s === 0) continue;
      const i = (w << 2) | plane;
      out[w]! |= bits[i]! & s;
      bits[i]! &= ~s;
      scanned += popcount32(s);
    }
    this.counters.pagesScanned += scanned;
    this.counters.scanRounds++;
    this.charge('scanNs', scanned * SCAN_NS_PER_PAGE);
    this.charge('tlbFlushNs', this.vcpuCount * TLB_FLUSH_NS_PER_VCPU);
    return scanned;
  }

  async drainDirtyLog(): Promise<DirtyLogDrain> {
    let kicked = 0;
    for (let v = 0; v < this.vcpuCount; v++) {
      if (this.pmlFill[v]! > 0) {
        this.flushPml(v);
        kicked++;
      }
    }
    this.charge('pmlKickNs', kicked * PML_KICK_NS_PER_VCPU);
    const pages = new Uint32Array(this.hostLogCount);
    let count = 0;
    const seen = this.drainSeen;
    for (let i = 0; i < this.hostLogCount; i++) {
      const p = this.hostLog[i]!;
      const w = p >>> 5;
      const bit = 1 << (p & 31);
      if ((seen[w]! & bit) !== 0) continue;
      seen[w]! |= bit;
      pages[count++] = p;
      this.pageBits[(w << 2) | DIRTY]! &= ~bit; // re-arm logging for the drained page
    }
    for (let i = 0; i < count; i++) {
      const p = pages[i]!;
      seen[p >>> 5]! &= ~(1 << (p & 31));
    }
    const result: DirtyLogDrain = {
      pages: pages.subarray(0, count),
      count,
      overflowed: this.overflowed,
      bufferFullExits: this.exitsSinceDrain,
    };
    this.hostLogCount = 0;
    this.overflowed = false;
    this.exitsSinceDrain = 0;
    return result;
  }

  async migrate(pages: Uint32Array, target: Tier, signal?: AbortSignal): Promise<MigrationResult> {
    if (target !== Tier.DRAM && target !== Tier.NVM) throw new Error(`migrate: unknown target tier ${String(target)}`);
    const source = 1 - target;
    const n = pages.length;
    const outcome = new Uint8Array(n);
    const failures: { index: number; reason: string }[] = [];
    const copiedVersion = new Int32Array(n);
    let pending: number[] = [];
    let moved = 0;
    const fail = (i: number, reason: string): void => {
      outcome[i] = MigrationOutcome.Failed;
      failures.push({ index: i, reason });
    };

    for (let i = 0; i < n; i++) {
      const p = pages[i]!;
      if (p >= this.pageCount) {
        fail(i, `page ${p} is out of range (VM ${this.name} has ${this.pageCount} pages)`);
      } else if ((this.pageBits[pageBitsIndex(p, IN_FLIGHT)]! & (1 << (p & 31))) !== 0) {
        fail(i, `page ${p} is already being migrated (listed twice, or another migration holds it)`);
      } else if (this.tier[p] === target) {
        outcome[i] = MigrationOutcome.AlreadyThere;
      } else if (this.load.freePages(target) <= 0) {
        fail(i, `no free ${TIER_NAMES[target]} page on the host`);
      } else if (this.tier[p] === UNALLOCATED) {
        // Never touched: nothing to copy, back it with the target tier directly.
        this.place(p, target);
        outcome[i] = MigrationOutcome.Moved;
        moved++;
      } else {
        this.load.usedPages[target]!++; // reserve the destination page
        this.pageBits[pageBitsIndex(p, IN_FLIGHT)]! |= 1 << (p & 31);
        this.inFlightPages++;
        copiedVersion[i] = this.version[p]!;
        pending.push(i);
      }
    }

    let bytesCopied = 0;
    let recopies = 0;
    let pauseNs = 0;
    let maxPauseNs = 0;
    let busy = 0;
    for (let round = 0; pending.length > 0; round++) {
      const bytes = pending.length * PAGE_SIZE_BYTES;
      const rate = this.load.copyBytesPerSec(source, target, this.copyBytesPerSec);
      const copyNs = (bytes / rate) * 1e9;
      this.load.startCopy(source, target, rate);
      let aborted = false;
      try {
        await this.clock.sleep(copyNs, signal);
      } catch {
        aborted = true;
      }
      this.load.endCopy(source, target, rate, bytes);
      bytesCopied += bytes;
      if (round > 0) recopies += pending.length;
      if (aborted || this.closed) {
        // Not switched: the page stays where it is. A host closed under the
        // copy is an error; an abort (the policy stopping) is not.
        for (const i of pending) {
          this.release(pages[i]!, target);
          if (this.closed) fail(i, 'host closed during the copy');
          else outcome[i] = MigrationOutcome.Busy;
        }
        if (!this.closed) busy += pending.length;
        break;
      }
      // Switch the pages whose copy is current; the rest were written during the copy.
      const clean: number[] = [];
      const written: number[] = [];
      for (const i of pending) (this.version[pages[i]!] === copiedVersion[i] ? clean : written).push(i);
      if (clean.length > 0) {
        const pause = SWITCH_SHOOTDOWN_NS + clean.length * SWITCH_NS_PER_PAGE;
        this.charge('switchNs', pause + (this.vcpuCount - 1) * SWITCH_SHOOTDOWN_NS);
        for (const i of clean) {
          const p = pages[i]!;
          this.version[p] = copiedVersion[i]!; // the guest now sees the copy
          this.pageBits[pageBitsIndex(p, IN_FLIGHT)]! &= ~(1 << (p & 31));
          this.inFlightPages--;
          this.load.usedPages[source]!--;
          this.vmTierPages[source]!--;
          this.vmTierPages[target]!++;
          this.setTier(p, target);
          outcome[i] = MigrationOutcome.Moved;
        }
        moved += clean.length;
        pauseNs += pause * clean.length;
        if (pause > maxPauseNs) maxPauseNs = pause;
      }
      if (written.length > 0 && round >= this.maxRecopies) {
        // Still being written: switching now would lose the write; leave it where it is.
        for (const i of written) {
          this.release(pages[i]!, target);
          outcome[i] = MigrationOutcome.Busy;
        }
        busy += written.length;
        break;
      }
      for (const i of written) copiedVersion[i] = this.version[pages[i]!]!;
      pending = written;
    }

    const c = this.counters;
    if (target === Tier.DRAM) c.migratedToDram += moved;
    else c.migratedToNvm += moved;
    c.busy += busy;
    c.failed += failures.length;
    c.recopies += recopies;
    c.bytesCopied += bytesCopied;
    if (maxPauseNs > c.maxPauseNs) c.maxPauseNs = maxPauseNs;
    return { outcome, failures, moved, busy, failed: failures.length, bytesCopied, recopies, pauseNs, maxPauseNs };
  }

  /** Undoes the reservation of a page that is not switched. */
  private release(page: number, target: number): void {
    this.load.usedPages[target]!--;
    this.pageBits[pageBitsIndex(page, IN_FLIGHT)]! &= ~(1 << (page & 31));
    this.inFlightPages--;
  }

  private place(page: number, t: number): void {
    this.setTier(page, t);
    this.untouchedPages--;
    this.load.usedPages[t]!++;
    this.vmTierPages[t]!++;
  }

  /** The one writer of tier[] for a touched page: keeps onNvm the same. */
  private setTier(page: number, t: number): void {
    this.tier[page] = t;
    const bit = 1 << (page & 31);
    if (t === Tier.NVM) this.pageBits[pageBitsIndex(page, ON_NVM)]! |= bit;
    else this.pageBits[pageBitsIndex(page, ON_NVM)]! &= ~bit;
  }

  async tierUsage(): Promise<readonly TierUsage[]> {
    return [Tier.DRAM, Tier.NVM].map((t) => ({
      tier: t,
      name: TIER_NAMES[t],
      capacityPages: this.load.capacityPages(t),
      usedPages: this.load.usedPages[t]!,
      vmPages: this.vmTierPages[t]!,
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkBitmap(map: Bitmap, what: string): void {
    if (!(map instanceof Uint32Array) || map.length < (this.pageCount + 31) >>> 5) {
      throw new Error(`${what}: expected a bitmap of at least ${this.pageCount} bits (Uint32Array of ${(this.pageCount + 31) >>> 5} words)`);
    }
  }
}
