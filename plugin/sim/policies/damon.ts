/**
 * DAMON-based tiering: two kdamonds on the host's physical address space, one
 * per node, with the DAMOS actions migrate_hot (slow node -> DRAM) and
 * migrate_cold (DRAM -> slow node), as the kernel's memory-tiering sample
 * (samples/damon/mtier.c, Linux 6.15; damo's tiering recipe uses the same
 * schemes) sets them up:
 *
 *  monitoring  sampling 5 ms, aggregation 100 ms, 10..1000 regions; the
 *              intervals auto-tune toward 4% observed accesses over 3
 *              aggregations, sampling kept within 5 ms..10 s (intervals_goal).
 *              Each sampling interval checks one random page per region (was it
 *              accessed since it was marked old?) and marks a new one old; each
 *              aggregation merges adjacent regions of similar access counts and
 *              splits every region in 2 or 3 at random points (mm/damon/core.c).
 *  migrate_hot regions with >= 1 access per aggregation; quota 200 MiB per 1 s,
 *              prioritised by access frequency and age (weights 100/100, size 0);
 *              goal: DRAM 99.7% used; filter: only young pages.
 *  migrate_cold regions with 0 accesses; same quota and weights; goal: DRAM
 *              0.5% free; filter: young pages are skipped.
 *  apply       every 1 s. The quota's effective size follows the goal with
 *              damon_feed_loop_next_input() at every quota reset.
 *
 * Physical frames: pages of all VMs sit on the frames of their node in a
 * seeded random order (a long-running host's allocator scatters them), which
 * is where paddr monitoring loses precision: a region mixes pages of several
 * VMs and temperatures. Page-level young filters recover some of it.
 *
 * Start state: the quota feedback starts at its cap (200 MiB/s), as if it had
 * been running; from a cold start the kernel doubles it once per second from
 * 1 byte and would need ~28 s to get there.
 */
import { Tier } from '../../host/memory-host.js';
import { SCAN_NS_PER_PAGE } from '../machine/costs.js';
import type { Policy, PolicyContext, PolicyVmReport, RunningPolicy } from '../machine/policy.js';
import { PAGE_SIZE_BYTES } from '../machine/sim-host.js';
import { xorshift32 } from './rng.js';
import { ScatterPermutation } from '../workloads/permutation.js';
import { Prng } from '../workloads/prng.js';

const US = 1e3;
const MiB = 1 << 20;

/** [mtier.c] */
export const DAMON_SAMPLE_US = 5_000;
export const DAMON_AGGR_US = 100_000;
export const DAMON_MIN_NR_REGIONS = 10;
export const DAMON_MAX_NR_REGIONS = 1000;
export const DAMON_INTERVALS_GOAL_ACCESS_BP = 400;
export const DAMON_INTERVALS_GOAL_AGGRS = 3;
export const DAMON_MIN_SAMPLE_US = 5_000;
export const DAMON_MAX_SAMPLE_US = 10_000_000;
export const DAMOS_APPLY_INTERVAL_US = 1_000_000;
export const DAMOS_QUOTA_RESET_MS = 1000;
export const DAMOS_QUOTA_BYTES = 200 * MiB;
export const DAMOS_WEIGHT_NR_ACCESSES = 100;
export const DAMOS_WEIGHT_AGE = 100;
export const DAMON_NODE0_USED_BP = 9970;
export const DAMON_NODE0_FREE_BP = 50;
/** [mm/damon/core.c, include/linux/damon.h] */
export const DAMON_MAX_SUBSCORE = 100;
export const DAMON_MAX_AGE_IN_LOG = 32;
export const DAMOS_MAX_SCORE = 99;
/** Seed of the frame layout and of DAMON's random sampling/splitting. */
export const DAMON_SEED = 0xda305;

/** [core.c] damon_feed_loop_next_input(). */
export function feedLoopNextInput(lastInput: number, score: number): number {
  const goal = 10000;
  const minInput = 10000;
  if (score === goal) return lastInput;
  if (score >= goal * 2) return minInput;
  const over = score > goal;
  const diff = over ? score - goal : goal - score;
  const compensation = Math.floor((lastInput * diff) / goal);
  return over ? Math.max(lastInput - compensation, minInput) : lastInput + compensation;
}

interface Region {
  start: number;
  end: number;
  nrAccesses: number;
  lastNrAccesses: number;
  age: number;
  sampleFrame: number;
}

/** Frames of one node: which page (global id) each holds, and a stack of the free ones (typed arrays: 8 bytes per frame). */
class NodeFrames {
  readonly owner: Int32Array;
  private readonly free: Int32Array;
  private freeCount = 0;
  constructor(readonly size: number) {
    this.owner = new Int32Array(size).fill(-1);
    this.free = new Int32Array(size);
  }

  pushFree(frame: number): void {
    this.free[this.freeCount++] = frame;
  }

  /** A free frame, or -1 if none. */
  popFree(): number {
    return this.freeCount > 0 ? this.free[--this.freeCount]! : -1;
  }
}

interface Ctx {
  readonly node: Tier;
  readonly promote: boolean;
  regions: Region[];
  sampleUs: number;
  aggrUs: number;
  samplesInAggr: number;
  aggregations: number;
  lastNrRegions: number;
  lastApplyUs: number;
  lastQuotaResetUs: number;
  /** Effective quota in basis points of a byte (the feedback loop's state), and what this quota window charged. */
  eszBp: number;
  chargedBytes: number;
  applied: number;
}

export function damonPolicy(seed = DAMON_SEED): Policy {
  return {
    name: 'damon',
    description: 'DAMON tiering (DAMOS migrate_hot/migrate_cold, paddr per node, quota goals), as in the kernel mtier sample',
    hostDramPages: (configured) => configured,
    firstTouchDramPages: () => Infinity,
    // Per page its frame; per frame of each node its owner and a free-stack slot.
    memoryBytes: (shape) => 4 * shape.vms.reduce((s, vm) => s + vm.pageCount, 0) + 8 * (shape.dramPages + shape.nvmPages),
    start: (context) => startDamon(context, seed),
  };
}

function startDamon(context: PolicyContext, seed: number): RunningPolicy {
  const { clock, load, signal, vms } = context;
  const rand = xorshift32(seed);
  /** damon_rand(l, r): [l, r). */
  const damonRand = (l: number, r: number): number => l + (rand() % Math.max(1, r - l));
  const offsets: number[] = [];
  let total = 0;
  for (const vm of vms) {
    offsets.push(total);
    total += vm.pageCount;
  }
  const vmOf = (g: number): number => {
    let v = vms.length - 1;
    while (offsets[v]! > g) v--;
    return v;
  };
  const frameOf = new Int32Array(total).fill(-1);
  const nodes = [new NodeFrames(load.capacityPages(Tier.DRAM)), new NodeFrames(load.capacityPages(Tier.NVM))] as const;
  // Lay the pages of each node on its frames in a random order (a computed permutation of the frames:
  // no shuffle of tens of millions of entries); the remaining frames are free.
  for (const t of [Tier.DRAM, Tier.NVM] as const) {
    const node = nodes[t];
    if (node.size === 0) continue;
    const order = new ScatterPermutation(node.size, new Prng(seed, t));
    let k = 0;
    vms.forEach((vm, v) => {
      for (let p = 0; p < vm.pageCount; p++) {
        if (vm.host.tierOf(p) !== t) continue;
        const f = order.at(k++);
        node.owner[f] = offsets[v]! + p;
        frameOf[offsets[v]! + p] = f;
      }
    });
    for (let i = k; i < node.size; i++) node.pushFree(order.at(i));
  }
  const moveFrame = (g: number, from: Tier, to: Tier): void => {
    const old = frameOf[g]!;
    nodes[from].owner[old] = -1;
    nodes[from].pushFree(old);
    const f = nodes[to].popFree();
    if (f < 0) throw new Error(`damon model: no free frame on node ${to} for a page the host moved there`);
    nodes[to].owner[f] = g;
    frameOf[g] = f;
  };

  const isYoung = (g: number): boolean => {
    const v = vmOf(g);
    const p = g - offsets[v]!;
    return vms[v]!.host.isAccessed(p);
  };
  const mkold = (g: number): void => {
    const v = vmOf(g);
    const p = g - offsets[v]!;
    vms[v]!.host.clearAccessed(p);
  };
  const scanned = new Float64Array(vms.length);
  const chargeScan = (g: number): void => {
    const v = vmOf(g);
    scanned[v]!++;
    vms[v]!.host.countScanned(1);
    vms[v]!.host.chargeCpu('scanNs', SCAN_NS_PER_PAGE);
  };
  const migrated = new Float64Array(vms.length);

  const newCtx = (node: Tier, promote: boolean): Ctx => ({
    node,
    promote,
    regions: [{ start: 0, end: nodes[node].size, nrAccesses: 0, lastNrAccesses: 0, age: 0, sampleFrame: 0 }],
    sampleUs: DAMON_SAMPLE_US,
    aggrUs: DAMON_AGGR_US,
    samplesInAggr: 0,
    aggregations: 0,
    lastNrRegions: 1,
    lastApplyUs: clock.now() / US,
    lastQuotaResetUs: clock.now() / US,
    eszBp: DAMOS_QUOTA_BYTES * 10000,
    chargedBytes: 0,
    applied: 0,
  });
  const ctxs = [newCtx(Tier.NVM, true), newCtx(Tier.DRAM, false)];

  const prepareChecks = (c: Ctx): void => {
    const owner = nodes[c.node].owner;
    for (const r of c.regions) {
      r.sampleFrame = damonRand(r.start, r.end);
      const g = owner[r.sampleFrame]!;
      if (g >= 0) {
        mkold(g);
        chargeScan(g);
      }
    }
  };
  const checkAccesses = (c: Ctx): void => {
    const owner = nodes[c.node].owner;
    for (const r of c.regions) {
      const g = owner[r.sampleFrame]!;
      if (g >= 0 && isYoung(g)) r.nrAccesses++;
    }
  };

  const mergeRegions = (c: Ctx): void => {
    const maxNr = c.regions.reduce((m, r) => Math.max(m, r.nrAccesses), 0);
    let thres = Math.floor(maxNr / 10);
    const szLimit = Math.max(1, Math.floor(nodes[c.node].size / DAMON_MIN_NR_REGIONS));
    const maxThres = Math.floor(c.aggrUs / c.sampleUs);
    let first = true;
    do {
      const out: Region[] = [];
      for (const r of c.regions) {
        if (first) {
          if (Math.abs(r.nrAccesses - r.lastNrAccesses) > thres) r.age = 0;
          else r.age++;
        }
        const prev = out[out.length - 1];
        if (prev && prev.end === r.start && Math.abs(prev.nrAccesses - r.nrAccesses) <= thres && r.end - prev.start <= szLimit) {
          const a = prev.end - prev.start;
          const b = r.end - r.start;
          prev.nrAccesses = Math.floor((prev.nrAccesses * a + r.nrAccesses * b) / (a + b));
          prev.age = Math.floor((prev.age * a + r.age * b) / (a + b));
          prev.end = r.end;
        } else out.push(r);
      }
      c.regions = out;
      first = false;
      thres = Math.max(1, thres * 2);
    } while (c.regions.length > DAMON_MAX_NR_REGIONS && thres / 2 < maxThres);
  };

  const splitRegions = (c: Ctx): void => {
    const n = c.regions.length;
    if (n > DAMON_MAX_NR_REGIONS / 2) return;
    const subs = c.lastNrRegions === n && n < DAMON_MAX_NR_REGIONS / 3 ? 3 : 2;
    const out: Region[] = [];
    for (const r of c.regions) {
      let cur = r;
      for (let i = 0; i < subs - 1 && cur.end - cur.start > 2; i++) {
        const size = cur.end - cur.start;
        const sub = Math.floor((damonRand(1, 10) * size) / 10);
        if (sub === 0 || sub >= size) continue;
        out.push({ ...cur, end: cur.start + sub });
        cur = { ...cur, start: cur.start + sub };
      }
      out.push(cur);
    }
    c.lastNrRegions = n;
    c.regions = out;
  };

  /** [core.c] damon_hot_score / damon_cold_score. */
  const score = (c: Ctx, r: Region): number => {
    const maxNr = Math.max(1, Math.floor(c.aggrUs / c.sampleUs));
    const freq = Math.floor((r.nrAccesses * DAMON_MAX_SUBSCORE) / maxNr);
    let ageSec = Math.floor((r.age * c.aggrUs) / 1e6);
    let ageLog = 0;
    for (; ageLog < DAMON_MAX_AGE_IN_LOG && ageSec > 0; ageLog++) ageSec >>= 1;
    if (freq === 0) ageLog = -ageLog;
    ageLog += DAMON_MAX_AGE_IN_LOG;
    const ageSub = Math.floor((ageLog * DAMON_MAX_SUBSCORE) / DAMON_MAX_AGE_IN_LOG / 2);
    const hot = Math.floor(
      (Math.floor((DAMOS_WEIGHT_NR_ACCESSES * freq + DAMOS_WEIGHT_AGE * ageSub) / (DAMOS_WEIGHT_NR_ACCESSES + DAMOS_WEIGHT_AGE)) * DAMOS_MAX_SCORE) /
        DAMON_MAX_SUBSCORE,
    );
    return c.promote ? hot : DAMOS_MAX_SCORE - hot;
  };

  const applyScheme = async (c: Ctx, nowUs: number): Promise<void> => {
    const capacity = nodes[Tier.DRAM].size;
    if (nowUs - c.lastQuotaResetUs >= DAMOS_QUOTA_RESET_MS * 1000) {
      c.lastQuotaResetUs = nowUs;
      c.chargedBytes = 0;
      const free = load.freePages(Tier.DRAM);
      const current = c.promote ? ((capacity - free) * 10000) / capacity : (free * 10000) / capacity;
      const target = c.promote ? DAMON_NODE0_USED_BP : DAMON_NODE0_FREE_BP;
      c.eszBp = feedLoopNextInput(Math.max(c.eszBp, 10000), Math.floor((current * 10000) / target));
    }
    const esz = Math.min(DAMOS_QUOTA_BYTES, Math.floor(c.eszBp / 10000));
    const eligible = c.regions.filter((r) => (c.promote ? r.nrAccesses >= 1 : r.nrAccesses === 0));
    // Highest scores first until the quota is used (the kernel's histogram cut, region by region).
    eligible.sort((a, b) => score(c, b) - score(c, a));
    const owner = nodes[c.node].owner;
    const target = c.promote ? Tier.DRAM : Tier.NVM;
    const perVm: number[][] = vms.map(() => []);
    for (const r of eligible) {
      const left = esz - c.chargedBytes;
      if (left < PAGE_SIZE_BYTES) break;
      const pages = Math.min(r.end - r.start, Math.floor(left / PAGE_SIZE_BYTES));
      c.chargedBytes += pages * PAGE_SIZE_BYTES;
      for (let f = r.start; f < r.start + pages; f++) {
        const g = owner[f]!;
        if (g < 0) continue;
        const young = isYoung(g);
        chargeScan(g);
        if (c.promote ? !young : young) continue; // the young filter
        const v = vmOf(g);
        perVm[v]!.push(g - offsets[v]!);
      }
    }
    for (let v = 0; v < vms.length; v++) {
      const list = perVm[v]!;
      if (list.length === 0) continue;
      const pages = Uint32Array.from(list);
      const result = await vms[v]!.host.migrate(pages, target, signal);
      for (let i = 0; i < pages.length; i++) {
        if (result.outcome[i] === 0) moveFrame(offsets[v]! + pages[i]!, c.node, target);
      }
      migrated[v]! += result.moved;
      c.applied += result.moved;
    }
  };

  const tuneIntervals = (c: Ctx): void => {
    const aggrSamples = Math.max(1, Math.round(c.aggrUs / c.sampleUs));
    let max = 0;
    let events = 0;
    for (const r of c.regions) {
      const sz = r.end - r.start;
      max += sz * aggrSamples;
      events += sz * r.nrAccesses;
    }
    const targetEvents = Math.max(1, Math.floor((max * DAMON_INTERVALS_GOAL_ACCESS_BP) / 10000));
    let adaptation = Math.floor(feedLoopNextInput(1e8, Math.floor((events * 10000) / targetEvents)) / 10000);
    if (adaptation <= 10000) adaptation = 5000 + Math.floor(adaptation / 2);
    const sample = Math.min(Math.max((c.sampleUs * adaptation) / 10000, DAMON_MIN_SAMPLE_US), DAMON_MAX_SAMPLE_US);
    c.sampleUs = sample;
    c.aggrUs = sample * aggrSamples;
  };

  const kdamond = async (c: Ctx): Promise<void> => {
    prepareChecks(c);
    for (;;) {
      await clock.sleep(c.sampleUs * US, signal);
      checkAccesses(c);
      c.samplesInAggr++;
      const nowUs = clock.now() / US;
      if (c.samplesInAggr * c.sampleUs >= c.aggrUs) {
        mergeRegions(c);
        if (nowUs - c.lastApplyUs >= DAMOS_APPLY_INTERVAL_US) {
          c.lastApplyUs = nowUs;
          await applyScheme(c, nowUs);
        }
        c.aggregations++;
        if (c.aggregations % DAMON_INTERVALS_GOAL_AGGRS === 0) tuneIntervals(c);
        for (const r of c.regions) {
          r.lastNrAccesses = r.nrAccesses;
          r.nrAccesses = 0;
        }
        splitRegions(c);
        c.samplesInAggr = 0;
      }
      prepareChecks(c);
    }
  };

  let failure: Error | undefined;
  const loops = ctxs.map((c) =>
    kdamond(c).catch((err: unknown) => {
      if (!signal.aborted) failure ??= err instanceof Error ? err : new Error(String(err));
    }),
  );
  return {
    failure: () => failure,
    async stop(): Promise<readonly PolicyVmReport[]> {
      await Promise.all(loops);
      if (failure) throw failure;
      return vms.map((_, v) => ({
        pagesSampled: scanned[v]!,
        pagesMigrated: migrated[v]!,
        hotRegions: ctxs[0]!.regions.length,
        coldRegions: ctxs[1]!.regions.length,
        hotSampleMs: ctxs[0]!.sampleUs / 1000,
        coldSampleMs: ctxs[1]!.sampleUs / 1000,
      }));
    },
  };
}
