/**
 * Linux NUMA balancing in memory-tiering mode (kernel.numa_balancing = 2, with
 * demotion enabled), and TPP, as the kernel runs them on the QEMU processes of
 * the VMs. The slow tier is a CPU-less NUMA node. Sources (Linux 6.x):
 *
 *  [SYSCTL] Documentation/admin-guide/sysctl/kernel.rst: numa_balancing = 2 is
 *           "NUMA_BALANCING_MEMORY_TIERING"; numa_balancing_promote_rate_limit_MBps
 *           default 65536; Documentation/scheduler/sched-debug.rst: scan_size_mb
 *           256, scan_period_min_ms 1000, scan_period_max_ms 60000; hot_threshold_ms 1000.
 *  [FAIR]   kernel/sched/fair.c: task_numa_work() marks PROT_NONE up to
 *           scan_size worth of 2 MiB ranges holding a present PTE (and skims at most
 *           8x that of address space); task_scan_min() makes one 256 MiB chunk take
 *           max(100 ms, scan_period_min / chunks-in-RSS), i.e. a full pass of the
 *           RSS per second, never faster than 2.5 GB/s (MAX_SCAN_WINDOW);
 *           should_numa_migrate_memory(): a slow-tier page is promoted if the top
 *           tier has plenty free (above high watermark + max(1 GiB, node/16)),
 *           else if its hint-fault latency (fault time - scan time) is under the
 *           hot threshold and the promotion rate limit is not exceeded;
 *           numa_promotion_adjust_threshold() moves the threshold by 1/8 of the
 *           default every scan_period_max toward the rate limit.
 *           In tiering-only mode task_numa_fault() returns early for slow-tier
 *           pages, so the scan period does not adapt (no locality statistics).
 *  [MM]     mm/change_protection (change_pte_range): in tiering-only mode top-tier
 *           pages are not marked; mm/migrate.c migrate_balanced_pgdat(): promotion
 *           needs free pages above the high watermark, else it fails and wakes
 *           kswapd, which (mm/vmscan.c pgdat_balanced) demotes cold LRU pages until
 *           free memory reaches the promo watermark (high + the watermark gap).
 *           Watermarks: mm/page_alloc.c, min_free_kbytes = sqrt(16 x lowmem KiB)
 *           clamped to [128 KiB, 256 MiB]; gap = max(min/4, managed x
 *           watermark_scale_factor (10) / 10000).
 *  [TPP]    H. Al Maruf et al., "TPP: Transparent Page Placement for CXL-Enabled
 *           Tiered-Memory", ASPLOS 2023: demotion decoupled from allocation
 *           (kswapd keeps a headroom of free top-tier memory, demote_scale_factor
 *           2%), and a slow-tier page is promoted only if it is on the active LRU,
 *           i.e. on its second hint fault (the first one activates it).
 *
 * The LRU that reclaim ages is modelled by a CLOCK over the top tier's pages
 * (second chance on the accessed bit), host-wide across VMs as one node's LRU is.
 */
import { Tier } from '../../host/memory-host.js';
import { createBitmap, type Bitmap } from '../../util/bitmap.js';
import {
  DEFAULT_COPY_BYTES_PER_SEC,
  SCAN_NS_PER_PAGE,
  SWITCH_NS_PER_PAGE,
  SWITCH_SHOOTDOWN_NS,
  TLB_FLUSH_NS_PER_VCPU,
} from '../machine/costs.js';
import type { Policy, PolicyContext, PolicyVm, PolicyVmReport, RunningPolicy } from '../machine/policy.js';
import { PAGE_SIZE_BYTES } from '../machine/sim-host.js';

const MS = 1e6;
const MiB = 1 << 20;

/** [SYSCTL] defaults. */
export const NUMA_SCAN_SIZE_MB = 256;
export const NUMA_SCAN_PERIOD_MIN_MS = 1000;
export const NUMA_SCAN_PERIOD_MAX_MS = 60000;
export const NUMA_HOT_THRESHOLD_MS = 1000;
export const NUMA_PROMOTE_RATE_LIMIT_MBPS = 65536;
/** [FAIR] MAX_SCAN_WINDOW (MB/s): the fastest a task is scanned. */
export const NUMA_MAX_SCAN_WINDOW_MB = 2560;
/** [FAIR] task_numa_work skims at most this many times scan_size of address space. */
export const NUMA_VIRTPAGES_FACTOR = 8;
/** [FAIR] PTEs are counted in 2 MiB ranges (HPAGE_SIZE). */
export const NUMA_SCAN_RANGE_PAGES = 512;
/** [FAIR] NUMA_MIGRATION_ADJUST_STEPS. */
export const NUMA_MIGRATION_ADJUST_STEPS = 16;
/** [MM] watermark_scale_factor default (per 10000 of the node). */
export const WATERMARK_SCALE_FACTOR = 10;
/** [MM] pgdat_free_space_enough(): max(1 GiB, node / 16) above the high watermark. */
export const FREE_ENOUGH_BYTES = 1 << 30;
/** [TPP] free headroom kswapd keeps in the top tier (demote_scale_factor). */
export const TPP_DEMOTE_SCALE_FACTOR = 0.02;

/**
 * A hint fault of a guest access: the host PTE is PROT_NONE, so KVM's EPT entry
 * was zapped; the access exits (EPT violation, ~1.5 us round trip as for a PML
 * exit in costs.ts), the host takes the fault in do_numa_page() and KVM maps the
 * page again (~1 us). Assumption in the spirit of costs.ts.
 */
export const NUMA_HINT_FAULT_NS = 2_500;
/** Pages kswapd looks at, at most, per page it may demote in one wake-up (reclaim priority 12 -> 0 scans 1/4096 .. all of the LRU; we bound it). */
export const KSWAPD_SCAN_PER_DEMOTE = 16;
/** kswapd wakes at least this often to check the watermarks (it is event driven; 1 ms bounds the lag). */
export const KSWAPD_POLL_NS = 1 * MS;

export interface Watermarks {
  readonly min: number;
  readonly low: number;
  readonly high: number;
  readonly promo: number;
}

/** [MM] The top tier's watermarks in pages, for a host with `dramPages` + `nvmPages`. */
export function watermarks(dramPages: number, nvmPages: number): Watermarks {
  const pageKiB = PAGE_SIZE_BYTES / 1024;
  const lowmemKiB = (dramPages + nvmPages) * pageKiB;
  const minFreeKiB = Math.min(262144, Math.max(128, Math.floor(Math.sqrt(lowmemKiB * 16))));
  const min = Math.floor(((minFreeKiB / pageKiB) * dramPages) / Math.max(1, dramPages + nvmPages));
  const gap = Math.max(Math.floor(min / 4), Math.floor((dramPages * WATERMARK_SCALE_FACTOR) / 10000));
  return { min, low: min + gap, high: min + 2 * gap, promo: min + 3 * gap };
}

export interface NumaBalancingOptions {
  /** TPP instead of upstream NUMA balancing. */
  readonly tpp?: boolean;
  readonly scanSizeMb?: number;
  readonly hotThresholdMs?: number;
  readonly promoteRateLimitMBps?: number;
  readonly hintFaultNs?: number;
}

interface VmState {
  readonly vm: PolicyVm;
  readonly trapped: Bitmap;
  /** Time each page was last marked PROT_NONE, ns. */
  readonly scanTime: Float64Array;
  /** TPP: pages on the active LRU. */
  readonly active: Bitmap | undefined;
  scanOffset: number;
  readonly periodNs: number;
  hintFaults: number;
  promoted: number;
  promoteFailed: number;
  demoted: number;
  pagesMarked: number;
  scans: number;
}

export function numaBalancingPolicy(options: NumaBalancingOptions = {}): Policy {
  const tpp = options.tpp === true;
  return {
    name: tpp ? 'tpp' : 'numa-balancing',
    description: tpp
      ? 'TPP: NUMA hint faults promote active-LRU pages; kswapd keeps 2% of DRAM free by demoting'
      : 'Linux NUMA balancing, tiering mode: hint faults promote pages faulted within 1 s of their scan; kswapd demotes',
    hostDramPages: (configured) => configured,
    // One host-wide node: first touch takes DRAM while there is any.
    firstTouchDramPages: () => Infinity,
    // Per page: the scan time (Float64) and the PROT_NONE bitmap, TPP's active bitmap.
    memoryBytes: (shape) => (8 + (tpp ? 0.25 : 0.125)) * shape.vms.reduce((s, vm) => s + vm.pageCount, 0),
    start: (context) => startNumaBalancing(context, options),
  };
}

function startNumaBalancing(context: PolicyContext, options: NumaBalancingOptions): RunningPolicy {
  const { clock, load, signal } = context;
  const tpp = options.tpp === true;
  const scanPages = Math.floor(((options.scanSizeMb ?? NUMA_SCAN_SIZE_MB) * MiB) / PAGE_SIZE_BYTES);
  const defaultThresholdNs = (options.hotThresholdMs ?? NUMA_HOT_THRESHOLD_MS) * MS;
  const rateLimitPages = ((options.promoteRateLimitMBps ?? NUMA_PROMOTE_RATE_LIMIT_MBPS) * MiB) / PAGE_SIZE_BYTES;
  const hintFaultNs = options.hintFaultNs ?? NUMA_HINT_FAULT_NS;
  const dramPages = load.capacityPages(Tier.DRAM);
  const wm = watermarks(dramPages, load.capacityPages(Tier.NVM));
  const freeEnough = wm.high + Math.max(FREE_ENOUGH_BYTES / PAGE_SIZE_BYTES, dramPages / 16);
  const tppHeadroom = wm.high + Math.ceil(TPP_DEMOTE_SCALE_FACTOR * dramPages);
  const copyNsPerPage = (PAGE_SIZE_BYTES / DEFAULT_COPY_BYTES_PER_SEC) * 1e9;

  // Host-wide (one top-tier node) promotion state.
  let thresholdNs = 0; // 0: use the default
  let thStart = clock.now();
  let thCandidatesAtStart = 0;
  let rlStart = clock.now();
  let rlCandidatesAtStart = 0;
  let candidates = 0;
  let kswapdWoken = false;
  let failure: Error | undefined;

  const states: VmState[] = context.vms.map((vm) => {
    const chunks = Math.max(1, Math.ceil(vm.pageCount / scanPages));
    const floorMs = (1000 * (options.scanSizeMb ?? NUMA_SCAN_SIZE_MB)) / NUMA_MAX_SCAN_WINDOW_MB;
    return {
      vm,
      trapped: createBitmap(vm.pageCount),
      scanTime: new Float64Array(vm.pageCount),
      active: tpp ? createBitmap(vm.pageCount) : undefined,
      scanOffset: 0,
      periodNs: Math.max(floorMs, NUMA_SCAN_PERIOD_MIN_MS / chunks) * MS,
      hintFaults: 0,
      promoted: 0,
      promoteFailed: 0,
      demoted: 0,
      pagesMarked: 0,
      scans: 0,
    };
  });

  const freeDram = (): number => load.freePages(Tier.DRAM);

  /** [FAIR] numa_promotion_adjust_threshold + the latency test + numa_promotion_rate_limit. */
  const upstreamWantsPromotion = (s: VmState, page: number, nowNs: number): boolean => {
    if (freeDram() > freeEnough) {
      thresholdNs = 0;
      return true;
    }
    const now = clock.now();
    if (now - thStart > NUMA_SCAN_PERIOD_MAX_MS * MS) {
      const ref = (rateLimitPages * NUMA_SCAN_PERIOD_MAX_MS) / 1000;
      const diff = candidates - thCandidatesAtStart;
      const unit = (defaultThresholdNs * 2) / NUMA_MIGRATION_ADJUST_STEPS;
      let th = thresholdNs || defaultThresholdNs;
      if (diff > (ref * 11) / 10) th = Math.max(th - unit, unit);
      else if (diff < (ref * 9) / 10) th = Math.min(th + unit, defaultThresholdNs * 2);
      thresholdNs = th;
      thStart = now;
      thCandidatesAtStart = candidates;
    }
    const latency = nowNs - s.scanTime[page]!;
    if (latency >= (thresholdNs || defaultThresholdNs)) return false;
    candidates++;
    if (now - rlStart > 1000 * MS) {
      rlStart = now;
      rlCandidatesAtStart = candidates;
    }
    return candidates - rlCandidatesAtStart < rateLimitPages;
  };

  /** [TPP] Promote only an active page; the first fault activates it. */
  const tppWantsPromotion = (s: VmState, page: number): boolean => {
    const active = s.active!;
    const w = page >>> 5;
    const bit = 1 << (page & 31);
    if ((active[w]! & bit) === 0) {
      active[w]! |= bit;
      return false;
    }
    return true;
  };

  states.forEach((s) => {
    const host = s.vm.host;
    host.setAccessHook({
      watched: s.trapped,
      access(page, _lines, _write, nowNs) {
        s.trapped[page >>> 5]! &= ~(1 << (page & 31)); // the fault restores the mapping
        s.hintFaults++;
        host.chargeCpu('faultNs', hintFaultNs);
        let t = host.tierOf(page);
        if (t === Tier.NVM && (tpp ? tppWantsPromotion(s, page) : upstreamWantsPromotion(s, page, nowNs))) {
          // migrate_balanced_pgdat(): the top tier must stay above its high watermark.
          if (freeDram() > wm.high + 1 && host.relocate(page, Tier.DRAM)) {
            // Copied in the faulting vCPU's context, then one shootdown of the old mapping.
            host.chargeCpu('switchNs', copyNsPerPage + SWITCH_NS_PER_PAGE + host.vcpuCount * SWITCH_SHOOTDOWN_NS);
            s.promoted++;
            if (s.active) s.active[page >>> 5]! &= ~(1 << (page & 31));
            t = Tier.DRAM;
          } else {
            s.promoteFailed++;
            kswapdWoken = true;
          }
        }
        return t; // the runner charges the access's traffic to this tier
      },
    });
  });

  /** task_numa_work() on one VM: marks the next chunk of slow-tier pages PROT_NONE. */
  const scanChunk = (s: VmState): void => {
    const host = s.vm.host;
    const n = s.vm.pageCount;
    const now = clock.now();
    let ranges = Math.ceil(scanPages / NUMA_SCAN_RANGE_PAGES);
    let virt = NUMA_VIRTPAGES_FACTOR * scanPages;
    let examined = 0;
    let marked = 0;
    while (ranges > 0 && virt > 0) {
      const start = s.scanOffset;
      const end = Math.min(n, start + NUMA_SCAN_RANGE_PAGES);
      let updated = 0;
      for (let p = start; p < end; p++) {
        if (host.tierOf(p) !== Tier.NVM) continue; // top-tier pages are not marked in tiering mode
        const w = p >>> 5;
        const bit = 1 << (p & 31);
        if ((s.trapped[w]! & bit) !== 0) continue; // already PROT_NONE
        s.trapped[w]! |= bit;
        s.scanTime[p] = now;
        updated++;
      }
      examined += end - start;
      marked += updated;
      if (updated > 0) ranges--;
      virt -= end - start;
      if (end >= n) {
        // The end of the address space ends this invocation; the next one starts over (reset_ptenuma_scan).
        s.scanOffset = 0;
        break;
      }
      s.scanOffset = end;
    }
    s.pagesMarked += marked;
    s.scans++;
    host.countScanned(examined);
    host.chargeCpu('scanNs', examined * SCAN_NS_PER_PAGE);
    // change_prot_numa flushes the TLB; KVM's MMU notifier zaps the EPT range and flushes every vCPU.
    host.chargeCpu('tlbFlushNs', host.vcpuCount * TLB_FLUSH_NS_PER_VCPU);
  };

  // kswapd's CLOCK hand over the top tier: VM index and page.
  let handVm = 0;
  let handPage = 0;
  const demotePages = (want: number, budget: number): void => {
    const perVm = new Float64Array(states.length);
    let demoted = 0;
    let examined = 0;
    // kswapd's scanning per wake-up is bounded like its copying (it scans ~16 pages per page it frees at worst).
    const limit = Math.min(2 * states.reduce((sum, s) => sum + s.vm.pageCount, 0), KSWAPD_SCAN_PER_DEMOTE * budget);
    while (demoted < want && demoted < budget && examined < limit) {
      const s = states[handVm]!;
      const host = s.vm.host;
      if (handPage >= s.vm.pageCount) {
        handPage = 0;
        handVm = (handVm + 1) % states.length;
        continue;
      }
      const p = handPage++;
      examined++;
      if (host.tierOf(p) !== Tier.DRAM) continue;
      const w = p >>> 5;
      const bit = 1 << (p & 31);
      if (host.isAccessed(p)) {
        host.clearAccessed(p); // referenced: second chance
        continue;
      }
      if (host.relocate(p, Tier.NVM)) {
        demoted++;
        perVm[handVm]!++;
        s.demoted++;
        if (s.active) s.active[w]! &= ~bit;
      }
    }
    states.forEach((s, i) => {
      const n = perVm[i]!;
      // The VM loses the unmap of each demoted page and one shootdown per batch.
      if (n > 0) s.vm.host.chargeCpu('switchNs', n * SWITCH_NS_PER_PAGE + s.vm.host.vcpuCount * SWITCH_SHOOTDOWN_NS);
    });
  };

  const kswapd = async (): Promise<void> => {
    const budgetPerPoll = Math.max(1, Math.floor((DEFAULT_COPY_BYTES_PER_SEC * KSWAPD_POLL_NS) / 1e9 / PAGE_SIZE_BYTES));
    let reclaiming = false;
    for (;;) {
      await clock.sleep(KSWAPD_POLL_NS, signal);
      const free = freeDram();
      const target = tpp ? tppHeadroom : wm.promo;
      if (!reclaiming && (kswapdWoken || free < (tpp ? tppHeadroom : wm.low))) reclaiming = true;
      kswapdWoken = false;
      if (!reclaiming) continue;
      if (free >= target) {
        reclaiming = false;
        continue;
      }
      demotePages(target - free, budgetPerPoll);
    }
  };

  const scanner = async (s: VmState, index: number): Promise<void> => {
    // Long-running VMs: the scanners are at arbitrary phases; spread them over one period.
    await clock.sleep((s.periodNs * index) / states.length, signal);
    for (;;) {
      scanChunk(s);
      await clock.sleep(s.periodNs, signal);
    }
  };

  const onError = (err: unknown): void => {
    if (!signal.aborted) failure ??= err instanceof Error ? err : new Error(String(err));
  };
  const loops = [kswapd().catch(onError), ...states.map((s, i) => scanner(s, i).catch(onError))];

  return {
    failure: () => failure,
    async stop(): Promise<readonly PolicyVmReport[]> {
      await Promise.all(loops);
      if (failure) throw failure;
      return states.map((s) => {
        s.vm.host.setAccessHook(undefined);
        return {
          scanPeriodMs: s.periodNs / MS,
          scans: s.scans,
          pagesMarked: s.pagesMarked,
          hintFaults: s.hintFaults,
          promoted: s.promoted,
          promoteFailed: s.promoteFailed,
          demoted: s.demoted,
          hotThresholdMs: (thresholdNs || defaultThresholdNs) / MS,
        };
      });
    },
  };
}
