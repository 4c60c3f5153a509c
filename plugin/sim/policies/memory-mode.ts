/**
 * Intel Optane Memory Mode: the host's DRAM is not memory the OS manages but a
 * direct-mapped, host-wide cache in front of the Optane capacity (the "near
 * memory" cache of the memory controller). Every VM page lives in NVM; the
 * cache has no per-VM partition, so co-running VMs evict each other.
 *
 * Sources:
 *  [IZR19] Izraelevitz et al., arXiv 1903.05714, sec. 2 and 5: in Memory Mode
 *          DRAM is a direct-mapped write-back cache with 64 B lines; a miss reads
 *          the line from Optane and fills it into DRAM; a dirty victim is written
 *          back to Optane.
 *  [HMMV]  HMM-V (arXiv 2209.13111) compares against Memory Mode with the
 *          host's DRAM as the cache for all VMs.
 *  [MOON20] Y. Moon, D.-J. Oh, J. H. Ahn, "Performance Analysis of DRAM Cache by
 *          Comparing Intel Optane DC Persistent Memory Operating Modes", JOK 47(10),
 *          2020: a hit costs what DRAM costs; a miss pays ~70 ns on top of the
 *          Optane access (the DRAM cache is checked first). Intel's Memory Mode
 *          FAQ (article 000055901): hit latency identical to DRAM, miss "slightly longer".
 *
 * Granularity: the simulator's access stream names a page, not a line within
 * it, so the cache is modelled with one tag per 4 KiB set: set = host frame
 * mod (cache pages). That is exact for conflicts (the 64 lines of a frame map
 * to the same 64 line-sets as those of every frame congruent to it modulo the
 * cache size) but generous to Memory Mode for spatial locality: a later access
 * to another line of a cached page counts as a hit although the hardware would
 * miss on that line. Each miss moves one line (64 B): an NVM read plus a DRAM
 * write for the fill, and an NVM write if the victim was dirty.
 *
 * Host frames: Linux hands out frames from scattered free lists; on a host
 * that has run for a while the frames backing a VM are spread over physical
 * memory. We assign every guest page a distinct frame of the NVM capacity at
 * random (seeded), which gives the birthday-style conflict misses a
 * direct-mapped cache shows even when the footprint is below its size.
 */
import { Tier } from '../../host/memory-host.js';
import { idle, type Policy, type PolicyContext, type PolicyVmReport, type RunningPolicy } from '../policy.js';
import type { TierLoad } from '../tier-load.js';
import { xorshift32 } from './rng.js';

/** [MOON20] Extra latency of a DRAM-cache miss over a plain Optane access (the tag check in DRAM), ns. */
export const MEMORY_MODE_MISS_PENALTY_NS = 70;

/** Seed of the frame assignment (any fixed value: runs must be reproducible). */
export const MEMORY_MODE_FRAME_SEED = 0x4d454d31;

const NO_TAG = -1;

/** The direct-mapped near-memory cache, one tag per page-sized set. */
export class DirectMappedCache {
  readonly sets: number;
  /** Frame cached in each set, or NO_TAG. */
  private readonly tags: Int32Array;
  private readonly dirty: Uint8Array;
  /** Which VM's page fills each set (to count evictions across VMs). */
  private readonly owner: Uint8Array;
  readonly hits: Float64Array;
  readonly misses: Float64Array;
  readonly dirtyEvictions: Float64Array;
  /** Evictions of a VM's line by another VM's miss. */
  readonly evictedByOther: Float64Array;

  constructor(sets: number, vmCount: number, private readonly load: TierLoad | undefined) {
    if (!Number.isInteger(sets) || sets <= 0) {
      throw new Error(`Memory Mode needs DRAM to use as its cache: got ${sets} pages of host DRAM`);
    }
    if (vmCount > 255) throw new Error(`Memory Mode model supports at most 255 VMs, got ${vmCount}`);
    this.sets = sets;
    this.tags = new Int32Array(sets).fill(NO_TAG);
    this.dirty = new Uint8Array(sets);
    this.owner = new Uint8Array(sets);
    this.hits = new Float64Array(vmCount);
    this.misses = new Float64Array(vmCount);
    this.dirtyEvictions = new Float64Array(vmCount);
    this.evictedByOther = new Float64Array(vmCount);
  }

  /** One access of VM `vm` to host frame `frame`: returns Tier.DRAM on a hit, Tier.NVM on a miss. */
  access(vm: number, frame: number, write: boolean): number {
    const set = frame % this.sets;
    const load = this.load;
    if (this.tags[set] === frame) {
      this.hits[vm]!++;
      if (write) {
        this.dirty[set] = 1;
        if (load) load.sliceWrites[Tier.DRAM]!++;
      }
      return Tier.DRAM;
    }
    this.misses[vm]!++;
    if (load) load.sliceReads[Tier.DRAM]!++; // the tag check read the DRAM line first
    if (this.tags[set] !== NO_TAG) {
      const victimOwner = this.owner[set]!;
      if (victimOwner !== vm) this.evictedByOther[victimOwner]!++;
      if (this.dirty[set] === 1) {
        this.dirtyEvictions[victimOwner]!++;
        if (load) load.sliceWrites[Tier.NVM]!++; // victim line written back to Optane
      }
    }
    this.tags[set] = frame;
    this.owner[set] = vm;
    this.dirty[set] = write ? 1 : 0;
    if (load) load.sliceWrites[Tier.DRAM]!++; // the fill (the written data lands in the filled line)
    return Tier.NVM; // the line comes from Optane: the access pays its latency and counts as its read
  }

  contains(frame: number): boolean {
    return this.tags[frame % this.sets] === frame;
  }
}

export function memoryModePolicy(seed = MEMORY_MODE_FRAME_SEED, missPenaltyNs = MEMORY_MODE_MISS_PENALTY_NS): Policy {
  let cachePages = 0;
  return {
    name: 'memory-mode',
    description: 'Optane Memory Mode: host DRAM is a direct-mapped cache shared by all VMs in front of NVM',
    // The OS sees no DRAM: it all becomes the cache.
    hostDramPages: (configured) => {
      cachePages = configured;
      return 0;
    },
    firstTouchDramPages: () => 0,
    start(context: PolicyContext): RunningPolicy {
      const { vms, load } = context;
      const cache = new DirectMappedCache(cachePages, vms.length, load);
      const frames = assignFrames(vms.map((vm) => vm.pageCount), load.capacityPages[Tier.NVM]!, seed);
      vms.forEach((vm, i) => {
        const frameOf = frames[i]!;
        const hook = {
          watched: null,
          extraLatencyNs: 0,
          access: (page: number, write: boolean): number => {
            const t = cache.access(i, frameOf[page]!, write);
            hook.extraLatencyNs = t === Tier.NVM ? missPenaltyNs : 0;
            return t;
          },
        };
        vm.host.accessHook = hook;
      });
      return {
        failure: idle.failure,
        async stop(): Promise<readonly PolicyVmReport[]> {
          return vms.map((vm, i) => {
            vm.host.accessHook = undefined;
            const total = cache.hits[i]! + cache.misses[i]!;
            return {
              cacheSets: cache.sets,
              cacheHits: cache.hits[i]!,
              cacheMisses: cache.misses[i]!,
              cacheHitRatio: total > 0 ? cache.hits[i]! / total : 0,
              dirtyEvictions: cache.dirtyEvictions[i]!,
              evictedByOtherVms: cache.evictedByOther[i]!,
            };
          });
        },
      };
    },
  };
}

/** Gives every page of every VM a distinct random frame among `frameCount`. */
export function assignFrames(pageCounts: readonly number[], frameCount: number, seed: number): Int32Array[] {
  const total = pageCounts.reduce((s, n) => s + n, 0);
  if (total > frameCount) throw new Error(`Memory Mode: the VMs need ${total} pages but NVM has only ${frameCount}`);
  const perm = new Int32Array(frameCount);
  for (let i = 0; i < frameCount; i++) perm[i] = i;
  const next = xorshift32(seed);
  for (let i = frameCount - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  let k = 0;
  return pageCounts.map((n) => {
    const f = perm.slice(k, k + n);
    k += n;
    return f;
  });
}
