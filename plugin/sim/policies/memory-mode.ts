/**
 * Intel Optane Memory Mode: the host's DRAM is not memory the OS manages but a
 * direct-mapped, host-wide cache of 64 B lines in front of the Optane capacity
 * (the "near memory" cache of the memory controller). Every VM page lives in
 * NVM; the cache has no per-VM partition, so co-running VMs evict each other.
 *
 * Sources:
 *  [INTEL]  Intel, "Memory Mode" support article 000055901: the memory
 *           controller checks the DRAM cache first; a hit has DRAM's latency,
 *           a miss is read from Optane with "slightly longer" latency.
 *  [IZR19]  Izraelevitz et al., arXiv 1903.05714, sec. 2: in Memory Mode DRAM
 *           is a direct-mapped write-back cache of 64 B lines in front of
 *           Optane; Optane reads and writes its media in 256 B XPLines.
 *  [HILD21] M. Hildebrand, J. T. Angeles, J. Lowe-Power, V. Akella, "A Case
 *           Against Hardware Managed DRAM Caches for NVRAM Based Systems",
 *           ISPASS 2021: measured on Cascade Lake, the DRAM cache is
 *           direct-mapped with 64 B blocks, inserts on every miss, keeps its
 *           tags in the DRAM (so every access, write-backs included, reads DRAM
 *           first), writes dirty victims back to Optane, and cannot be
 *           bypassed; bandwidth-bound workloads larger than the cache lose most
 *           of Optane's bandwidth to this traffic.
 *  [BABA23] M. Babaie, A. Akram, J. Lowe-Power, "Enabling Design Space
 *           Exploration of DRAM Caches in Emerging Memory Systems", ISPASS 2023,
 *           and their gem5 model of that controller (darchr/dram-cache-model,
 *           policy CascadeLakeNoPartWrs): read = DRAM read (tag + data); hit:
 *           done; miss: Optane read, DRAM write (fill), dirty victim to Optane.
 *           Write (an LLC write-back of a whole line) = DRAM read (tag), DRAM
 *           write, dirty victim to Optane; no Optane read.
 *  [MOON20] Y. Moon, D.-J. Oh, J. H. Ahn, "Performance Analysis of DRAM Cache
 *           by Comparing Intel Optane DC Persistent Memory Operating Modes",
 *           JOK 47(10), 2020: a miss costs ~70 ns on top of the Optane access.
 *  [YANG20, WANG20] (tiers.ts): 256 B media granularity; a 64 B write-back
 *           costs a 256 B media write.
 *  [HMMV]   HMM-V (arXiv 2209.13111) compares against Memory Mode with the
 *           host's DRAM as the cache for all VMs.
 *
 * The model, per guest access to lines [first, first + n) of a page (the
 * workload's line descriptor, workload.ts):
 *  - line l of host frame F sits in cache set (F mod C) * 64 + l, C = cache
 *    pages, with tag F div C; the tag array is one byte per cache line
 *    (tag * 2 + dirty, 255 = empty), no object per line;
 *  - each line of a demand read costs a DRAM read (tag and data); a miss adds
 *    an Optane read, a DRAM write (the fill) and, for a dirty victim, an
 *    Optane write. Optane traffic counts 256 B per XPLine: the missed lines of
 *    one XPLine share one media read, and the dirty victims of one XPLine that
 *    one access evicts in a row share one media write;
 *  - a write then writes its lines back: DRAM read (tag check) and DRAM write
 *    per line, the line becomes dirty (a victim found there now is written
 *    back first); a write-back-only access does only this;
 *  - latency: the access's first (demand) line decides: a hit pays DRAM's
 *    loaded latency, a miss Optane's plus MEMORY_MODE_MISS_PENALTY_NS for the
 *    tag check, scaled by DRAM's load (the check is a DRAM read). The other
 *    lines of the access are prefetched with it and cost only traffic.
 *
 * Host frames: Linux hands out frames from scattered free lists; on a host
 * that has run for a while the frames backing a VM are spread over physical
 * memory. We assign every guest page a distinct frame of the NVM capacity at
 * random (seeded), which gives the birthday-style conflict misses a
 * direct-mapped cache shows even when the footprint is below its size.
 *
 * Cost: per line of an access, a few typed-array loads and stores; memory 1
 * byte per cache line (16 MiB per GiB of DRAM), 1 per NVM frame and 4 per
 * guest page (its set and tag; 4 more while the frames are assigned).
 */
import { Tier } from '../../host/memory-host.js';
import { idle, type Policy, type PolicyContext, type PolicyVmReport, type RunningPolicy } from '../machine/policy.js';
import type { AccessHook } from '../machine/sim-host.js';
import type { PolicyTiers } from '../machine/policy.js';
import { DRAM_RAND_READ_NS } from '../machine/tiers.js';
import { LINES_PER_PAGE, isWriteBackOnly, spanFirstLine, spanLineCount } from '../workloads/workload.js';
import { ScatterPermutation } from '../workloads/permutation.js';
import { Prng } from '../workloads/prng.js';

/** [MOON20] Extra latency of a DRAM-cache miss over a plain Optane access (the tag check in DRAM), ns. */
export const MEMORY_MODE_MISS_PENALTY_NS = 70;

/** Seed of the frame assignment (any fixed value: runs must be reproducible). */
export const MEMORY_MODE_FRAME_SEED = 0x4d454d31;

/** Lines of one Optane XPLine (256 B). */
const XPLINE_LINES = 4;
const EMPTY = 255;
/** Largest tag a cache byte holds (tag * 2 + dirty < 255): NVM at most 127 times DRAM. */
export const MAX_TAG = 126;
/** Most cache pages (128 GiB of DRAM): a page's set * 128 + tag fits in 32 bits. */
export const MAX_CACHE_PAGES = 2 ** 25;

/** Per-VM counters of the cache, in lines unless named otherwise. */
export interface CacheCounters {
  readonly lineHits: Float64Array;
  readonly lineMisses: Float64Array;
  /** Accesses whose demand line hit / missed. */
  readonly accessHits: Float64Array;
  readonly accessMisses: Float64Array;
  readonly dirtyEvictions: Float64Array;
  /** Lines of this VM evicted by another VM's access. */
  readonly evictedByOther: Float64Array;
}

/**
 * The direct-mapped near-memory cache over host frames: `sets` pages of 64
 * lines. Traffic goes on `load` (64 B units; Optane in 256 B XPLines).
 */
export class DirectMappedCache {
  readonly sets: number;
  /** Per cache line: tag * 2 + dirty, or EMPTY. */
  private readonly tags: Uint8Array;
  /** The same bytes four at a time (a set group starts at a multiple of 64 bytes, so words hold lines 4j .. 4j + 3). */
  private readonly tags32: Uint32Array;
  /** VM owning each host frame (for eviction counts), 255 = none. */
  private readonly frameOwner: Uint8Array;
  readonly counters: CacheCounters;
  /** Optane writes (64 B units) of the access in progress, and the XPLine key of its last dirty victim. */
  private victimWrites = 0;
  private lastVictim = -1;

  constructor(sets: number, frames: number, vmCount: number, private readonly load: PolicyTiers | undefined) {
    if (!Number.isInteger(sets) || sets <= 0) {
      throw new Error(`Memory Mode needs DRAM to use as its cache: got ${sets} pages of host DRAM`);
    }
    if (vmCount > 254) throw new Error(`Memory Mode model supports at most 254 VMs, got ${vmCount}`);
    if (Math.ceil(frames / sets) - 1 > MAX_TAG) {
      throw new Error(`Memory Mode model: NVM (${frames} pages) may be at most ${MAX_TAG + 1} times the DRAM cache (${sets} pages); Intel supports 1:4 to 1:16`);
    }
    this.sets = sets;
    this.tags = new Uint8Array(sets * LINES_PER_PAGE).fill(EMPTY);
    this.tags32 = new Uint32Array(this.tags.buffer);
    this.frameOwner = new Uint8Array(frames).fill(255);
    const n = (): Float64Array => new Float64Array(vmCount);
    this.counters = { lineHits: n(), lineMisses: n(), accessHits: n(), accessMisses: n(), dirtyEvictions: n(), evictedByOther: n() };
  }

  /** Marks `frame` as VM `vm`'s (eviction accounting). */
  own(frame: number, vm: number): void {
    this.frameOwner[frame] = vm;
  }

  /**
   * One access of VM `vm` to lines [first, first + count) of host frame
   * (setBase / 64 + tag * sets): `setBase` = (frame mod sets) * 64, `tag` =
   * frame div sets. Returns true if the first line was a hit (for a
   * write-back-only access: true).
   */
  access(vm: number, setBase: number, tag: number, first: number, count: number, write: boolean, writeBackOnly: boolean): boolean {
    const tags = this.tags;
    const tags32 = this.tags32;
    const mine = tag * 2;
    const end = first + count;
    let dramReads = 0;
    let dramWrites = 0;
    let nvmReads = 0;
    let firstHit = true;
    this.victimWrites = 0;
    this.lastVictim = -1;
    if (!writeBackOnly) {
      // Tag and data come with one DRAM read per line; hits cost nothing more.
      dramReads = count;
      let misses = 0;
      let lastMissXp = -1;
      const allMine = ((mine | 1) * 0x01010101) >>> 0;
      for (let l = first; l < end; l++) {
        // Four lines (one XPLine) at once when all four hit: their tag bytes, dirty bits set, equal mine | 1.
        if ((l & 3) === 0 && l + 4 <= end && (tags32[(setBase + l) >>> 2]! | 0x01010101) >>> 0 === allMine) {
          l += 3;
          continue;
        }
        const set = setBase + l;
        const held = tags[set]!;
        if (held >>> 1 === tag && held !== EMPTY) continue;
        if (l === first) firstHit = false;
        misses++;
        const xp = l >>> 2;
        if (xp !== lastMissXp) {
          nvmReads += XPLINE_LINES; // one 256 B media read per XPLine of missed lines
          lastMissXp = xp;
        }
        if (held !== EMPTY) this.evict(vm, held, setBase, l);
        tags[set] = mine;
      }
      dramWrites = misses; // the fills
      const c = this.counters;
      c.lineHits[vm]! += count - misses;
      c.lineMisses[vm]! += misses;
      if (firstHit) c.accessHits[vm]!++;
      else c.accessMisses[vm]!++;
    }
    if (write) {
      // The LLC writes the lines back: tag check, then the whole line (no Optane read).
      dramReads += count;
      dramWrites += count;
      const dirtyMine = mine | 1;
      const allDirtyMine = (dirtyMine * 0x01010101) >>> 0;
      for (let l = first; l < end; l++) {
        // Four lines at once when all four are already mine and dirty.
        if ((l & 3) === 0 && l + 4 <= end && tags32[(setBase + l) >>> 2] === allDirtyMine) {
          l += 3;
          continue;
        }
        const set = setBase + l;
        const held = tags[set]!;
        if (held === dirtyMine) continue;
        if (held !== EMPTY && held >>> 1 !== tag) this.evict(vm, held, setBase, l);
        tags[set] = dirtyMine;
      }
    }
    const load = this.load;
    if (load) {
      load.addTraffic(Tier.DRAM, dramReads, dramWrites);
      load.addTraffic(Tier.NVM, nvmReads, this.victimWrites);
    }
    return firstHit;
  }

  /**
   * Counts the eviction of `held` from line `l` of the set group at `setBase`;
   * a dirty victim costs a 256 B media write unless it continues the XPLine of
   * the previous dirty victim of this access (written back together).
   */
  private evict(vm: number, held: number, setBase: number, l: number): void {
    const victimFrame = (held >>> 1) * this.sets + (setBase >>> 6);
    const owner = this.frameOwner[victimFrame]!;
    if (owner !== 255 && owner !== vm) this.counters.evictedByOther[owner]!++;
    if ((held & 1) === 0) return;
    if (owner !== 255) this.counters.dirtyEvictions[owner]!++;
    const key = victimFrame * (LINES_PER_PAGE / XPLINE_LINES) + (l >>> 2);
    if (key !== this.lastVictim) this.victimWrites += XPLINE_LINES;
    this.lastVictim = key;
  }

  /** Whether line `line` of the frame at (setBase, tag) is cached (for tests). */
  contains(setBase: number, tag: number, line: number): boolean {
    const held = this.tags[setBase + line]!;
    return held !== EMPTY && held >>> 1 === tag;
  }

  /** Whether line `line` of the frame at (setBase, tag) is cached and dirty (for tests). */
  isDirty(setBase: number, tag: number, line: number): boolean {
    return this.tags[setBase + line] === tag * 2 + 1;
  }
}

export function memoryModePolicy(seed = MEMORY_MODE_FRAME_SEED, missPenaltyNs = MEMORY_MODE_MISS_PENALTY_NS): Policy {
  let cachePages = 0;
  return {
    name: 'memory-mode',
    description: 'Optane Memory Mode: host DRAM is a direct-mapped cache of 64 B lines shared by all VMs in front of NVM',
    // The OS sees no DRAM: it all becomes the cache.
    hostDramPages: (configured) => {
      cachePages = configured;
      return 0;
    },
    firstTouchDramPages: () => 0,
    // A tag byte per cache line (64 per DRAM page); per NVM frame its owner; per guest page its frame and its set and tag.
    memoryBytes: (shape) => 64 * shape.dramPages + shape.nvmPages + 8 * shape.vms.reduce((s, vm) => s + vm.pageCount, 0),
    start(context: PolicyContext): RunningPolicy {
      const { vms, load } = context;
      const frameCount = load.capacityPages(Tier.NVM);
      if (cachePages > MAX_CACHE_PAGES) {
        throw new Error(`Memory Mode model: at most ${MAX_CACHE_PAGES} pages of DRAM cache (128 GiB), got ${cachePages}`);
      }
      const cache = new DirectMappedCache(cachePages, frameCount, vms.length, load);
      const frames = assignFrames(vms.map((vm) => vm.pageCount), frameCount, seed);
      const dramIdleNs = DRAM_RAND_READ_NS;
      vms.forEach((vm, i) => {
        const frameOf = frames[i]!;
        // Per guest page: its cache set and tag, computed once, in one word (set * 128 + tag: one look-up, one cache miss).
        const where = new Uint32Array(vm.pageCount);
        for (let p = 0; p < vm.pageCount; p++) {
          const f = frameOf[p]!;
          where[p] = (f % cachePages) * 128 + Math.floor(f / cachePages);
          cache.own(f, i);
        }
        const hook: AccessHook & { extraLatencyNs: number } = {
          watched: null,
          extraLatencyNs: 0,
          accountsTraffic: true,
          access: (page: number, lines: number, write: boolean): number => {
            const w = where[page]!;
            const hit = cache.access(i, (w >>> 7) * LINES_PER_PAGE, w & 127, spanFirstLine(lines), spanLineCount(lines), write, isWriteBackOnly(lines));
            // The tag check is a DRAM read: it slows down with DRAM's load.
            hook.extraLatencyNs = hit ? 0 : (missPenaltyNs * load.latencyNs[1]!) / dramIdleNs;
            return hit ? Tier.DRAM : Tier.NVM;
          },
        };
        vm.host.setAccessHook(hook);
      });
      return {
        failure: idle.failure,
        async stop(): Promise<readonly PolicyVmReport[]> {
          const c = cache.counters;
          return vms.map((vm, i) => {
            vm.host.setAccessHook(undefined);
            const lines = c.lineHits[i]! + c.lineMisses[i]!;
            const accesses = c.accessHits[i]! + c.accessMisses[i]!;
            return {
              cacheSets: cache.sets,
              cacheLineHits: c.lineHits[i]!,
              cacheLineMisses: c.lineMisses[i]!,
              cacheHitRatio: lines > 0 ? c.lineHits[i]! / lines : 0,
              cacheAccessHitRatio: accesses > 0 ? c.accessHits[i]! / accesses : 0,
              dirtyEvictions: c.dirtyEvictions[i]!,
              evictedByOtherVms: c.evictedByOther[i]!,
            };
          });
        },
      };
    },
  };
}

/**
 * Gives every page of every VM a distinct random frame among `frameCount`: a
 * computed random permutation of the frames (no table, no shuffle), the VMs'
 * pages taking its images in turn.
 */
export function assignFrames(pageCounts: readonly number[], frameCount: number, seed: number): Int32Array[] {
  const total = pageCounts.reduce((s, n) => s + n, 0);
  if (total > frameCount) throw new Error(`Memory Mode: the VMs need ${total} pages but NVM has only ${frameCount}`);
  const perm = new ScatterPermutation(frameCount, new Prng(seed, 0x4d4d));
  let k = 0;
  return pageCounts.map((n) => {
    const f = new Int32Array(n);
    for (let p = 0; p < n; p++) f[p] = perm.at(k++);
    return f;
  });
}
