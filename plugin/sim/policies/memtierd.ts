/**
 * memtierd's heat policy (github.com/intel/memtierd) managing each VM's QEMU
 * process, with its idle-page tracker and its mover:
 *
 *  tracker (pkg/memtier/tracker_idlepage.go): the process's memory is cut into
 *    regions of PagesInRegion pages; every ScanIntervalMs it counts the pages of
 *    each region that are not idle (at most MaxCountPerRegion; 0 = all), then
 *    marks them idle again (/sys/kernel/mm/page_idle/bitmap).
 *  heat (pkg/memtier/counters_heatmap.go): every IntervalMs the policy reads and
 *    resets the counters; a region's heat = min(HeatMax, accesses/pages +
 *    old heat x HeatRetention^seconds); class = floor(HeatClasses x heat / HeatMax).
 *  moves (pkg/memtier/policy_heat.go, mover.go): if the mover is idle, every
 *    region whose class maps to NUMA nodes (HeatNumas) and is elsewhere gets a
 *    move task; the mover moves at most Bandwidth MB/s, in steps every
 *    IntervalMs. With NumaSize set (startMovesFillFastFree) it walks each
 *    process's ranges hottest first and skips a range that does not fit in the
 *    node's size by its own accounting; without it (startMovesNoLimits) it walks
 *    ranges in address order, moves only ranges whose heat is at least 20 s old
 *    and updated within 10 s, and does not know how much DRAM there is (a move
 *    into a full node fails page by page, move_pages ENOMEM).
 *
 * Configuration: the repository's end-to-end test for moving pages with the
 * heat policy and the idle-page tracker
 * (test/e2e/memtierd.test-suite/policy-heat/n4c16/test02-move-idlepage):
 * interval 4000 ms, heatmax 0.01, retention 0, 2 classes (0 -> slow node,
 * 1 -> fast node), tracker 512 pages per region, no count limit, scan every
 * 500 ms, mover every 20 ms at 100 MB/s, plus NumaSize of the DRAM node set to
 * the host's DRAM (capacity-aware path). MEMTIERD_SAMPLE_CONFIG is the heat
 * policy of sample-configs/memtierd-heat-damon.yaml (interval 10 s, heatmax
 * 0.001, retention 0.99, 4 classes, 0 -> slow, 3 -> fast, mover 200 MB/s) with
 * the idle-page tracker's own defaults (512 pages, count limit 1, scan 5 s),
 * no NumaSize.
 */
import { Tier } from '../../host/memory-host.js';
import { createBitmap, bitmapFill } from '../../util/bitmap.js';
import type { Policy, PolicyContext, PolicyVm, PolicyVmReport, RunningPolicy } from '../machine/policy.js';
import { PAGE_SIZE_BYTES } from '../machine/sim-host.js';

export interface MemtierdConfig {
  readonly intervalMs: number;
  readonly heatMax: number;
  readonly heatRetention: number;
  readonly heatClasses: number;
  /** Heat class -> tier its pages belong in (classes not listed: don't care). */
  readonly heatTiers: Readonly<Record<number, Tier>>;
  readonly pagesInRegion: number;
  /** 0 = unlimited. */
  readonly maxCountPerRegion: number;
  readonly scanIntervalMs: number;
  readonly moverIntervalMs: number;
  readonly moverBandwidthMBps: number;
  /**
   * NumaSize of the DRAM node: 'host' = the host's DRAM (what a user who
   * knows the machine writes); undefined = unset, which selects the policy's
   * no-limits path.
   */
  readonly numaSizeDram: 'host' | undefined;
}

/** [policy_heat.go] startMovesNoLimits: a range is moved only once its heat is this old and this fresh. */
export const MEMTIERD_NOLIMITS_MIN_AGE_MS = 20_000;
export const MEMTIERD_NOLIMITS_MAX_STALE_MS = 10_000;

export const MEMTIERD_E2E_IDLEPAGE_CONFIG: MemtierdConfig = {
  intervalMs: 4000,
  heatMax: 0.01,
  heatRetention: 0,
  heatClasses: 2,
  heatTiers: { 0: Tier.NVM, 1: Tier.DRAM },
  pagesInRegion: 512,
  maxCountPerRegion: 0,
  scanIntervalMs: 500,
  moverIntervalMs: 20,
  moverBandwidthMBps: 100,
  numaSizeDram: 'host',
};

export const MEMTIERD_SAMPLE_CONFIG: MemtierdConfig = {
  intervalMs: 10000,
  heatMax: 0.001,
  heatRetention: 0.99,
  heatClasses: 4,
  heatTiers: { 0: Tier.NVM, 3: Tier.DRAM },
  pagesInRegion: 512,
  maxCountPerRegion: 1,
  scanIntervalMs: 5000,
  moverIntervalMs: 20,
  moverBandwidthMBps: 200,
  numaSizeDram: undefined,
};

const MS = 1e6;

/** [counters_heatmap.go] HeatClass. */
export function heatClass(config: MemtierdConfig, heat: number): number {
  if (config.heatMax === 0) return 0;
  return Math.min(config.heatClasses - 1, Math.floor((config.heatClasses * heat) / config.heatMax));
}

/** [counters_heatmap.go] updateFromPidHeatRange: the new heat of a region. */
export function nextHeat(config: MemtierdConfig, oldHeat: number, accesses: number, pages: number, seconds: number): number {
  const fresh = Math.min(config.heatMax, accesses / pages);
  return Math.min(config.heatMax, fresh + oldHeat * Math.pow(config.heatRetention, Math.max(0, seconds)));
}

interface MoveTask {
  readonly vm: number;
  readonly region: number;
  readonly target: Tier;
}

interface VmState {
  readonly vm: PolicyVm;
  readonly regions: number;
  readonly counts: Float64Array;
  readonly heat: Float64Array;
  /** 1 once the region has a heat (its first counters were read); when that was and when it was last updated, ns. */
  readonly seen: Uint8Array;
  readonly created: Float64Array;
  readonly updated: Float64Array;
  readonly scanSet: Uint32Array;
  readonly accessed: Uint32Array;
  /** Tracker scans since the policy last read the counters (none: the tracker reports no ranges). */
  scansSinceRound: number;
  moved: number;
  moveFailed: number;
}

export function memtierdPolicy(config: MemtierdConfig = MEMTIERD_E2E_IDLEPAGE_CONFIG, name = 'memtierd'): Policy {
  return {
    name,
    description: `memtierd heat policy, idle-page tracker (scan ${config.scanIntervalMs} ms, ${config.pagesInRegion}-page regions), mover ${config.moverBandwidthMBps} MB/s`,
    hostDramPages: (configured) => configured,
    firstTouchDramPages: () => Infinity,
    // Per page the tracker's scan set and result (2 bits); per region its counters.
    memoryBytes: (shape) => (0.25 + 40 / config.pagesInRegion) * shape.vms.reduce((s, vm) => s + vm.pageCount, 0),
    start: (context) => startMemtierd(context, config),
  };
}

function startMemtierd(context: PolicyContext, config: MemtierdConfig): RunningPolicy {
  const { clock, signal } = context;
  const states: VmState[] = context.vms.map((vm) => {
    const regions = Math.ceil(vm.pageCount / config.pagesInRegion);
    const scanSet = createBitmap(vm.pageCount);
    bitmapFill(scanSet, vm.pageCount);
    return {
      vm,
      regions,
      counts: new Float64Array(regions),
      heat: new Float64Array(regions),
      seen: new Uint8Array(regions),
      created: new Float64Array(regions),
      updated: new Float64Array(regions),
      scanSet,
      accessed: createBitmap(vm.pageCount),
      scansSinceRound: 0,
      moved: 0,
      moveFailed: 0,
    };
  });
  let queue: MoveTask[] = [];
  let lastHeatUpdate = clock.now();
  let failure: Error | undefined;

  /** One tracker scan of every VM: count non-idle pages per region, then mark all idle. */
  const scan = async (): Promise<void> => {
    for (const s of states) {
      s.accessed.fill(0);
      await s.vm.host.testAndClearAccessed(s.scanSet, s.accessed);
      const maxCount = config.maxCountPerRegion === 0 ? config.pagesInRegion : config.maxCountPerRegion;
      for (let r = 0; r < s.regions; r++) {
        let n = 0;
        const end = Math.min(s.vm.pageCount, (r + 1) * config.pagesInRegion);
        for (let p = r * config.pagesInRegion; p < end && n < maxCount; p++) if ((s.accessed[p >>> 5]! & (1 << (p & 31))) !== 0) n++;
        s.counts[r]! += n;
      }
      s.scansSinceRound++;
    }
  };

  /** The policy's interval: fold counters into heats and, if the mover is idle, queue moves. */
  const policyRound = (): void => {
    const now = clock.now();
    const seconds = (now - lastHeatUpdate) / 1e9;
    lastHeatUpdate = now;
    for (const s of states) {
      if (s.scansSinceRound === 0) continue; // the tracker reports no ranges
      s.scansSinceRound = 0;
      for (let r = 0; r < s.regions; r++) {
        const pages = Math.min(config.pagesInRegion, s.vm.pageCount - r * config.pagesInRegion);
        s.heat[r] = nextHeat(config, s.seen[r] ? s.heat[r]! : 0, s.counts[r]!, pages, s.seen[r] ? seconds : 0);
        if (!s.seen[r]) s.created[r] = now;
        s.seen[r] = 1;
        s.updated[r] = now;
        s.counts[r] = 0;
      }
    }
    if (queue.length > 0) return;
    queue = config.numaSizeDram === undefined ? movesNoLimits(now) : movesFillFastFree();
  };

  /** Pages of a region that are not on `target`. */
  const pagesNotOn = (s: VmState, r: number, target: Tier): number => {
    let n = 0;
    const end = Math.min(s.vm.pageCount, (r + 1) * config.pagesInRegion);
    for (let p = r * config.pagesInRegion; p < end; p++) if (s.vm.host.tierOf(p) !== target) n++;
    return n;
  };

  /** [policy_heat.go] startMovesNoLimits: address order, old and fresh ranges only, no capacity check. */
  const movesNoLimits = (now: number): MoveTask[] => {
    const tasks: MoveTask[] = [];
    states.forEach((s, v) => {
      for (let r = 0; r < s.regions; r++) {
        if (!s.seen[r] || now - s.updated[r]! > MEMTIERD_NOLIMITS_MAX_STALE_MS * MS || now - s.created[r]! < MEMTIERD_NOLIMITS_MIN_AGE_MS * MS) continue;
        const target = config.heatTiers[heatClass(config, s.heat[r]!)];
        if (target !== undefined && pagesNotOn(s, r, target) > 0) tasks.push({ vm: v, region: r, target });
      }
    });
    return tasks;
  };

  /** [policy_heat.go] startMovesFillFastFree: per VM hottest first; a range that does not fit in DRAM's NumaSize is skipped. */
  const movesFillFastFree = (): MoveTask[] => {
    const tasks: MoveTask[] = [];
    const dramSize = context.load.capacityPages(Tier.DRAM);
    let dramUsed = states.reduce((sum, s) => sum + s.vm.host.pagesOn(Tier.DRAM), 0);
    states.forEach((s, v) => {
      const order = Array.from({ length: s.regions }, (_, r) => r).filter((r) => s.seen[r]);
      order.sort((a, b) => s.heat[b]! - s.heat[a]! || a - b);
      for (const r of order) {
        const target = config.heatTiers[heatClass(config, s.heat[r]!)];
        if (target === undefined) continue;
        const moving = pagesNotOn(s, r, target);
        if (moving === 0) continue;
        if (target === Tier.DRAM) {
          const length = Math.min(config.pagesInRegion, s.vm.pageCount - r * config.pagesInRegion);
          if (dramSize - dramUsed - length < 0) continue; // not enough room by its accounting
          dramUsed += moving;
        } else {
          dramUsed -= moving;
        }
        tasks.push({ vm: v, region: r, target });
      }
    });
    return tasks;
  };

  /** One mover step: up to bandwidth x interval bytes of queued moves. */
  const moverStep = async (): Promise<void> => {
    let budget = Math.floor((config.moverBandwidthMBps * 1e6 * config.moverIntervalMs) / 1000 / PAGE_SIZE_BYTES);
    while (budget > 0 && queue.length > 0) {
      const task = queue[0]!;
      const s = states[task.vm]!;
      const host = s.vm.host;
      const pages: number[] = [];
      const end = Math.min(s.vm.pageCount, (task.region + 1) * config.pagesInRegion);
      for (let p = task.region * config.pagesInRegion; p < end && pages.length < budget; p++) {
        const t = host.tierOf(p);
        if (t <= 1 && t !== task.target) pages.push(p);
      }
      if (pages.length === 0 || pages.length < budget) queue.shift();
      if (pages.length === 0) continue;
      budget -= pages.length;
      const result = await host.migrate(Uint32Array.from(pages), task.target, signal);
      s.moved += result.moved;
      s.moveFailed += result.failed + result.busy;
    }
  };

  const loop = async (period: number, body: () => void | Promise<void>, first = period): Promise<void> => {
    await clock.sleep(first, signal);
    for (;;) {
      await body();
      await clock.sleep(period, signal);
    }
  };
  const onError = (err: unknown): void => {
    if (!signal.aborted) failure ??= err instanceof Error ? err : new Error(String(err));
  };
  const loops = [
    loop(config.scanIntervalMs * MS, scan),
    loop(config.intervalMs * MS, policyRound, 0),
    loop(config.moverIntervalMs * MS, moverStep),
  ].map((p) => p.catch(onError));

  return {
    failure: () => failure,
    async stop(): Promise<readonly PolicyVmReport[]> {
      await Promise.all(loops);
      if (failure) throw failure;
      return states.map((s) => {
        let hot = 0;
        for (let r = 0; r < s.regions; r++) if (config.heatTiers[heatClass(config, s.heat[r]!)] === Tier.DRAM) hot++;
        return { regions: s.regions, hotRegions: hot, pagesMoved: s.moved, moveFailedPages: s.moveFailed };
      });
    },
  };
}
