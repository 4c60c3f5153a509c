/**
 * The memory-host interface: everything the engine may ask of the machine that
 * holds a VM's memory. HMM-V reaches these through a helper kernel module; hmmv
 * reaches them through one of the backends in plugin/host/ (sim, linux, later a
 * PML kernel module). The engine uses nothing else, so one engine drives all.
 *
 * Pages are numbered 0 .. pageCount-1 across all guest-RAM regions of one VM
 * ("page index"), in units of `pageSizeBytes` (4096 on every backend so far).
 * Sets of pages travel as bitmaps (plugin/util/bitmap.ts) or Uint32Array lists.
 *
 * Huge pages: a host whose guest RAM is partly backed by 2 MiB pages reports
 * them as units of UNIT_PAGES consecutive page indices (hugePageUnits). A unit
 * moves only whole: in migrate(), an entry naming a unit's first page stands
 * for the whole unit. The engine then plans units whole (plugin/engine/huge-units.ts).
 */
import type { Bitmap } from '../util/bitmap.js';

/** Memory tiers, as stored in per-page arrays: 0 is the fast tier. */
export const Tier = { DRAM: 0, NVM: 1 } as const;
export type Tier = (typeof Tier)[keyof typeof Tier];
export const TIER_NAMES: Readonly<Record<Tier, string>> = { 0: 'dram', 1: 'nvm' };

/** One block of guest RAM (a QEMU memory backend, or a simulated VM's memory). */
export interface GuestRamRegion {
  /** e.g. the QEMU memdev id ("ram-node0") or RAM block name. */
  readonly name: string;
  /** Page index of the region's first page. */
  readonly firstPage: number;
  readonly pageCount: number;
  /** Guest-physical address of the region's first byte, where known. */
  readonly guestPhysAddr?: bigint;
  /** Address of the region's first byte in the QEMU process, where known. */
  readonly hostVirtAddr?: bigint;
}

/** Capacity and use of one tier, as seen by this VM's host. */
export interface TierUsage {
  readonly tier: Tier;
  readonly name: string;
  /** Pages of this tier the host has (all VMs), and how many are in use (all VMs). */
  readonly capacityPages: number;
  readonly usedPages: number;
  /** Pages of this VM that live in this tier. */
  readonly vmPages: number;
}

/** What a drain of the PML-style dirty log returns. */
export interface DirtyLogDrain {
  /** Pages written since the previous drain, in log order; each at most once per drain. */
  readonly pages: Uint32Array;
  /** Number of valid entries in `pages`. */
  readonly count: number;
  /** Writes were lost from the log (a per-vCPU log filled up): the caller must do a full dirty scan. */
  readonly overflowed: boolean;
  /** VM exits caused by full per-vCPU PML buffers since the previous drain. */
  readonly bufferFullExits: number;
}

/**
 * Per-page outcome of a migration request. Absent: no memory stands behind
 * the page (never touched by the guest, as the guest-invisible VGA window of a
 * PC's low RAM, or swapped out): there is nothing to move and nothing is
 * wrong; it takes memory where the guest's next touch puts it.
 */
export const MigrationOutcome = { Moved: 0, AlreadyThere: 1, Busy: 2, Failed: 3, Absent: 4 } as const;
export type MigrationOutcome = (typeof MigrationOutcome)[keyof typeof MigrationOutcome];

/** Pages in one huge-page unit: a 2 MiB page of 4 KiB pages. */
export const UNIT_PAGES = 512;

export interface MigrationResult {
  /** outcome[i] is the MigrationOutcome of request page i. */
  readonly outcome: Uint8Array;
  /** Why request pages failed (sparse: index into the request). */
  readonly failures: ReadonlyArray<{ readonly index: number; readonly reason: string }>;
  /** Pages moved, busy, failed: an entry naming a huge-page unit counts its UNIT_PAGES pages. */
  readonly moved: number;
  readonly busy: number;
  readonly failed: number;
  /** Pages found absent (MigrationOutcome.Absent; not failures). Omitted: none. */
  readonly absent?: number;
  readonly bytesCopied: number;
  /** Copies repeated because the guest wrote the page while it was being copied. */
  readonly recopies: number;
  /** Total and worst time a page was inaccessible to the guest during its final switch. */
  readonly pauseNs: number;
  readonly maxPauseNs: number;
}

export interface MemoryHost {
  /** Backend name for logs and `hmmv status` ("sim", "linux"). */
  readonly kind: string;
  readonly pageSizeBytes: number;
  readonly pageCount: number;
  readonly vcpuCount: number;
  /**
   * Optional: the shortest time between two accessed harvests that can show
   * new evidence (DAMON answers once per aggregation interval). The engine
   * spaces no round closer than this; a harvest sooner would see nothing and
   * make every page look cold. Left out: bits are fresh at any interval.
   */
  readonly accessedIntervalNs?: number;

  regions(): readonly GuestRamRegion[];

  /** Sets bit i of `out` where page i is in the slow tier (NVM), clears it where in DRAM. */
  readTierMap(out: Bitmap): Promise<void>;

  /**
   * Test-and-clear of accessed bits: for every page set in `scan`, sets its bit
   * in `accessed` if the guest touched it since its bit was last cleared, and
   * clears the page's accessed bit. Pages not in `scan` are left alone (their
   * bits keep accumulating). Resolves to the number of pages scanned.
   */
  testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number>;

  /** The same for dirty bits: the full dirty scan used when the dirty log overflowed. */
  testAndClearDirty(scan: Bitmap, dirty: Bitmap): Promise<number>;

  /** Drains the dirty log since the previous drain and re-arms logging for the drained pages. */
  drainDirtyLog(): Promise<DirtyLogDrain>;

  /**
   * Moves `pages` to `target` while the guest runs: copy, recopy what the guest
   * wrote meanwhile, pause only for the final switch. A page whose last write
   * could be lost is reported Busy and stays where it was; so is every page
   * not yet switched when `signal` aborts (asked again later, nothing wrong
   * with it). An entry equal to
   * the first page of a unit of the last hugePageUnits() answer moves that
   * whole unit (never split); its outcome holds for all the unit's pages.
   */
  migrate(pages: Uint32Array, target: Tier, signal?: AbortSignal): Promise<MigrationResult>;

  /**
   * Optional: guest RAM backed by 2 MiB pages now, as the first page index of
   * each unit (ascending; a unit is UNIT_PAGES consecutive pages inside one
   * region). The engine asks at start and whenever it re-reads the tier map.
   * A host without huge pages leaves it out (the simulator does) or answers
   * an empty list; then every page is its own unit.
   */
  hugePageUnits?(): Promise<Uint32Array>;

  tierUsage(): Promise<readonly TierUsage[]>;

  /**
   * Optional: the backend's own counters for the manager's status file (e.g.
   * the linux host's DAMON snapshots and where their time went). Read each
   * time the manager writes its status file (a window at most once a second,
   * and on every quota change), so it must be cheap; never needed by the engine.
   */
  diagnostics?(): Record<string, number>;

  close(): Promise<void>;
}
