/**
 * A closed-loop VM: its vCPUs run the workload's operations back to back. An
 * operation costs its CPU time plus, for each memory access, the current
 * loaded latency of the tier holding the page (sequential if it is the page
 * just touched or the next one, random otherwise). The operations of one
 * stream are spread round-robin over the vCPUs, which run in parallel, so VM
 * time advances by (op cost) / vCPUs per operation. CPU time the host charges
 * for management (sim-host.ts) is taken from the VM the same way.
 *
 * A write is a read-for-ownership (it pays the read latency) plus the
 * write-back of its lines; a write-back-only access (the store after a load
 * of the same line) moves only the write-back and waits only when the tier's
 * queues are full (TierLoad.writeBackWaitNs: nothing at idle). An operation
 * takes at least MIN_OP_NS (a workload of zero CPU time and write-backs only
 * still advances the clock). Each
 * access puts its media traffic on its tier from the tier-load tables
 * (line-traffic.ts): lines for DRAM, 256 B XPLines for Optane.
 *
 * Cost per access: a handful of typed-array loads and stores, no allocation
 * (the fast loop, steadyAccesses: loads of the access, its descriptor, two
 * words of SimHost.pageBits in one cache line and three cost-table entries,
 * one store; the write and NVM-access counts ride in the traffic sums, so
 * the loop carries no counter but its position; many of its x86
 * instructions in Node 20 are V8's checks of the four arrays).
 */
import type { Workload } from '../workloads/workload.js';
import { WRITE_BACK_ONLY } from '../workloads/workload.js';
import { ACCESSED, DIRTY, IN_FLIGHT, ON_NVM, pageBitsIndex, type AccessHook, type SimHost } from './sim-host.js';
import { ACCESS_COSTS_TRAFFIC, type TierLoad } from './tier-load.js';
import {
  COUNTED_MAX_ACCESSES,
  COUNTED_READ_UNIT,
  COUNTED_WRITE_UNIT,
  PACKED_MAX_ACCESSES,
  PACKED_WRITE_UNIT,
  TRAFFIC_TIER_SHIFT,
  TRAFFIC_WRITE,
} from './line-traffic.js';

/** Accesses generated per call into the workload (the batch buffer's size). */
const BATCH_ACCESSES = 4096;
/** Shortest operation, ns (about a cycle). */
export const MIN_OP_NS = 0.5;

// The fast loops' state (steadyAccesses, fastAccesses): slots of their Int32Array ...
const F_POS = 0;
const F_END = 1;
const F_PREV = 2;
const F_OP_ACCESS = 3;
const F_OPS = 4;
const F_NVM = 5;
const F_WRITES = 6;
const F_UNTOUCHED = 7;
const F_PAGE_COUNT = 8;
const F_PER_OP = 9;
const F_IN_FLIGHT = 10;
const F_INTS = 11;
// ... and of its Float64Array.
const F_NOW = 0;
const F_END_NS = 1;
const F_OP_MEM_NS = 2;
const F_MEMORY_NS = 3;
const F_DRAM_SUM = 4;
const F_NVM_SUM = 5;
const F_CPU_NS_PER_OP = 6;
const F_PER_VCPU = 7;
const F_MIN_OP_NS = 8;
const F_FLOATS = 9;
/** The rare events the fast loops leave for (0: an operation ended and the loop is to stop). */
const EVENT_OUT_OF_RANGE = 1;
const EVENT_FIRST_TOUCH = 2;
/** A write that sets a dirty bit. */
const EVENT_DIRTY = 3;

export interface VmRunStats {
  ops: number;
  accesses: number;
  writes: number;
  /** VM time spent waiting on memory / on the CPU part of operations / on management, ns of vCPU time. */
  memoryNs: number;
  cpuNs: number;
  managementNs: number;
  /** Accesses served by each tier. */
  dramAccesses: number;
  nvmAccesses: number;
}

export class VmRunner {
  readonly host: SimHost;
  readonly workload: Workload;
  /**
   * The VM's own time (how far its vCPUs have run, ns) in a Float64Array: the
   * loops start from a float64 load, so V8 keeps their clock unboxed (started
   * from a plain field, whose type V8 does not know, the clock was a tagged
   * value and every operation allocated a HeapNumber).
   */
  private readonly clockNs = new Float64Array(1);
  /** VM time at which `stats` started counting. */
  statsSinceNs: number;
  readonly stats: VmRunStats = emptyStats();

  private readonly load: TierLoad;
  private readonly batchOps: number;
  private readonly buffer: Uint32Array;
  private readonly lines: Uint16Array;
  /** A loop's unpacked traffic: DRAM reads, DRAM writes, NVM reads, NVM writes (64 B units). */
  private readonly traffic = new Float64Array(4);
  /** A loop's packed traffic sums (DRAM, NVM) on their way to unpackSums. */
  private readonly packedSums = new Float64Array(2);
  /** A loop's floating-point results on their way to finish(): VM clock, memory ns, management ns. */
  private readonly loopOut = new Float64Array(3);
  /** The fast loops' state between their calls (F_* slots): integers, and floating-point values (kept unboxed). */
  private readonly fastInts = new Int32Array(F_INTS);
  private readonly fastFloats = new Float64Array(F_FLOATS);
  /** Next unused operation in `buffer`, and how many the buffer holds. */
  private nextOp = 0;
  private bufferedOps = 0;
  private prevPage = -2;
  /** vCPU that runs the next operation (round-robin). */
  private vcpu = 0;

  constructor(host: SimHost, workload: Workload, load: TierLoad, startNs = 0) {
    if (workload.pageCount > host.pageCount) {
      throw new Error(`workload ${workload.name} uses ${workload.pageCount} pages but VM ${host.name} has ${host.pageCount}`);
    }
    if (!(workload.accessesPerOp >= 1) || !Number.isInteger(workload.accessesPerOp)) {
      throw new Error(`workload ${workload.name}: accessesPerOp must be a positive integer, got ${workload.accessesPerOp}`);
    }
    if (!(workload.cpuNsPerOp >= 0)) {
      throw new Error(`workload ${workload.name}: cpuNsPerOp must be >= 0, got ${workload.cpuNsPerOp}`);
    }
    this.host = host;
    this.workload = workload;
    this.load = load;
    this.clockNs[0] = startNs;
    this.statsSinceNs = startNs;
    if (workload.accessesPerOp > PACKED_MAX_ACCESSES) {
      throw new Error(`workload ${workload.name}: at most ${PACKED_MAX_ACCESSES} accesses per operation, got ${workload.accessesPerOp}`);
    }
    this.batchOps = Math.max(1, Math.floor(BATCH_ACCESSES / workload.accessesPerOp));
    this.buffer = new Uint32Array(this.batchOps * workload.accessesPerOp);
    this.lines = new Uint16Array(this.batchOps * workload.accessesPerOp);
  }

  /** The VM's own time: how far its vCPUs have run, ns. */
  get localNs(): number {
    return this.clockNs[0]!;
  }

  /** Starts counting afresh (the end of a warm-up). */
  resetStats(): void {
    Object.assign(this.stats, emptyStats());
    this.statsSinceNs = this.localNs;
  }

  /** Runs operations until the VM's time reaches `endNs` (the last operation may end a little past it). */
  runUntil(endNs: number): void {
    const hook = this.host.accessHook;
    if (hook === undefined && !this.host.contentTracking) this.runPlain(endNs);
    else this.runGeneral(endNs, hook);
  }

  /**
   * The loop without an access hook (every policy but NUMA balancing, TPP and
   * Memory Mode): the fast path, kept free of the hook's tests and of
   * branches that depend on the data (a mispredicted branch costs more than
   * the rest of an access): the tier, write and sequential tests become
   * table indices and masks. A write bumps the page's version only while the
   * page is being migrated (the only time the version is compared). The
   * figures are the ones the plain formulas give (the same values added in
   * the same order).
   *
   * The accesses themselves run in steadyAccesses (below; fastAccesses
   * while some page is untouched or in flight), a function of its own with
   * one loop; this method takes what happens between operations
   * (management CPU time, refills) and the rare events the loop leaves
   * for before the access has any effect: a page never touched (backed now),
   * a page past the end (an error), a write that sets a dirty bit (logged in
   * the vCPU's PML buffer, which may charge a VM exit); the access then runs
   * again with nothing rare left. After an event the loop stops at the
   * operation's end (management CPU time may be pending), which the outer
   * loop takes before the next operation, as before.
   */
  private runPlain(endNs: number): void {
    const host = this.host;
    const ints = this.fastInts;
    const floats = this.fastFloats;
    const buf = this.buffer;
    const lines = this.lines;
    const costs = this.load.accessCosts;
    const vcpus = host.vcpuCount | 0;
    const perVcpu = 1 / vcpus;
    ints[F_POS] = this.nextOp * this.workload.accessesPerOp;
    ints[F_END] = this.bufferedOps * this.workload.accessesPerOp;
    ints[F_PREV] = this.prevPage;
    ints[F_OP_ACCESS] = 0;
    ints[F_OPS] = 0;
    ints[F_NVM] = 0;
    ints[F_WRITES] = 0;
    ints[F_UNTOUCHED] = host.untouchedPages;
    ints[F_PAGE_COUNT] = host.pageCount;
    ints[F_PER_OP] = this.workload.accessesPerOp;
    // Nothing is migrated while the loop runs (migrations advance between slices): without pages in flight, no version to bump.
    ints[F_IN_FLIGHT] = host.inFlightPages !== 0 ? 1 : 0;
    floats[F_NOW] = this.clockNs[0]!;
    floats[F_END_NS] = endNs;
    floats[F_OP_MEM_NS] = 0;
    floats[F_MEMORY_NS] = 0;
    floats[F_DRAM_SUM] = 0;
    floats[F_NVM_SUM] = 0;
    floats[F_CPU_NS_PER_OP] = this.workload.cpuNsPerOp;
    floats[F_PER_VCPU] = perVcpu;
    floats[F_MIN_OP_NS] = MIN_OP_NS;
    this.traffic.fill(0);
    let vcpu = this.vcpu | 0;
    let managementNs = 0;

    while (floats[F_NOW]! < endNs) {
      if (host.pendingCpuNs > 0) {
        const ns = this.takePendingCpuNs();
        managementNs += ns;
        floats[F_NOW]! += ns * perVcpu;
        continue;
      }
      if (ints[F_POS] === ints[F_END]) {
        this.unpackCounted();
        floats[F_DRAM_SUM] = 0;
        floats[F_NVM_SUM] = 0;
        ints[F_END] = this.refill();
        ints[F_POS] = 0;
      }
      floats[F_END_NS] = endNs;
      for (;;) {
        const opsBefore = ints[F_OPS]!;
        const event = ints[F_UNTOUCHED] === 0 && ints[F_IN_FLIGHT] === 0
          ? steadyAccesses(buf, lines, host.pageBits, costs, ints, floats)
          : fastAccesses(buf, lines, host.pageBits, host.version, host.tier, costs, ints, floats);
        // The vCPUs take operations in turn: the one under way runs on this one.
        vcpu = (vcpu + ints[F_OPS]! - opsBefore) % vcpus;
        if (event === 0) break;
        // Stop at the end of the operation under way (every operation ends at or past -Infinity).
        floats[F_END_NS] = -Infinity;
        const page = buf[ints[F_POS]!]! >>> 1;
        if (event === EVENT_OUT_OF_RANGE) this.pageOutOfRange(page);
        else if (event === EVENT_FIRST_TOUCH) {
          host.allocateOnTouch(page);
          ints[F_UNTOUCHED] = host.untouchedPages;
        } else if (event === EVENT_DIRTY) {
          host.pageBits[pageBitsIndex(page, DIRTY)]! |= 1 << (page & 31);
          host.logWrite(page, vcpu);
        }
      }
    }
    this.unpackCounted();
    const loopOut = this.loopOut;
    loopOut[0] = floats[F_NOW]!;
    loopOut[1] = floats[F_MEMORY_NS]!;
    loopOut[2] = managementNs;
    this.finish(ints[F_POS]!, ints[F_END]!, ints[F_PREV]!, vcpu, ints[F_OPS]!, ints[F_WRITES]!, ints[F_NVM]!);
  }

  /**
   * The general loop: watched pages' accesses go through the hook, if any
   * (NUMA hint faults, Memory Mode's cache). With contentTracking every write
   * bumps the page's version; otherwise, as in the fast loop, only a write
   * to a page in flight does (a random write to the version array costs a
   * cache miss, and no one compares the version of a page not in flight).
   * Traffic goes through the packed tables (the fast loop's counted pairs
   * are the same figures with counts); the latency is the plain formula
   * (the fast loop's reference in the tests).
   */
  private runGeneral(endNs: number, hook: AccessHook | undefined): void {
    const host = this.host;
    const tier = host.tier;
    const bits = host.pageBits;
    const version = host.version;
    const everyWrite = host.contentTracking;
    const load = this.load;
    const latency = load.latencyNs;
    const writeBackWait = load.writeBackWaitNs;
    const packed = load.traffic.packed;
    const pageCount = host.pageCount | 0;
    const vcpus = host.vcpuCount | 0;
    const perVcpu = 1 / vcpus;
    const perOp = this.workload.accessesPerOp | 0;
    const cpuNsPerOp = +this.workload.cpuNsPerOp;
    const watched = hook?.watched ?? null;
    const hookTraffic = hook?.accountsTraffic === true;
    const buf = this.buffer;
    const lines = this.lines;
    const packedSums = this.packedSums;
    const loopOut = this.loopOut;
    const tierShift = TRAFFIC_TIER_SHIFT | 0;
    const writeIndex = TRAFFIC_WRITE | 0;
    const writeBackOnly = WRITE_BACK_ONLY | 0;
    const minOpNs = +MIN_OP_NS;
    let now = this.clockNs[0]!;
    let prev = this.prevPage | 0;
    let vcpu = this.vcpu | 0;
    let pos = (this.nextOp * perOp) | 0;
    let end = (this.bufferedOps * perOp) | 0;
    let memoryNs = 0;
    let nvm = 0;
    let writes = 0;
    let ops = 0;
    let managementNs = 0;
    let dramSum = 0;
    let nvmSum = 0;
    this.traffic.fill(0);

    while (now < endNs) {
      if (host.pendingCpuNs > 0) {
        const ns = this.takePendingCpuNs();
        managementNs += ns;
        now += ns * perVcpu;
        continue;
      }
      if (pos === end) {
        packedSums[0] = dramSum;
        packedSums[1] = nvmSum;
        this.unpackSums();
        dramSum = 0;
        nvmSum = 0;
        end = this.refill() | 0;
        pos = 0;
      }
      let opMemNs = 0;
      for (let j = 0; j < perOp; j++) {
        const access = buf[pos]!;
        const d = lines[pos]!;
        pos++;
        const page = access >>> 1;
        if (page >= pageCount) this.pageOutOfRange(page);
        let t = tier[page]!;
        if (t > 1) t = host.allocateOnTouch(page);
        const word = page >>> 5;
        const bit = 1 << (page & 31);
        const write = access & 1;
        let charge = true;
        if (hook !== undefined && (watched === null || (watched[word]! & bit) !== 0)) {
          t = hook.access(page, d, write !== 0, now);
          opMemNs += hook.extraLatencyNs ?? 0;
          charge = !hookTraffic;
        }
        if (charge) {
          const k = (t << tierShift) | (write * writeIndex) | d;
          dramSum += packed[2 * k]!;
          nvmSum += packed[2 * k + 1]!;
        }
        opMemNs += (d & writeBackOnly) === 0 ? latency[t * 2 + (page === prev || page === prev + 1 ? 0 : 1)]! : writeBackWait[t]!;
        prev = page;
        nvm += t;
        bits[(word << 2) | ACCESSED]! |= bit;
        if (write !== 0) {
          writes++;
          if (everyWrite || (bits[(word << 2) | IN_FLIGHT]! & bit) !== 0) version[page] = (version[page]! + 1) | 0;
          if ((bits[(word << 2) | DIRTY]! & bit) === 0) {
            bits[(word << 2) | DIRTY]! |= bit;
            host.logWrite(page, vcpu);
          }
        }
      }
      if (++vcpu === vcpus) vcpu = 0;
      ops++;
      memoryNs += opMemNs;
      const opNs = cpuNsPerOp + opMemNs;
      now += Math.max(opNs, minOpNs) * perVcpu;
    }
    packedSums[0] = dramSum;
    packedSums[1] = nvmSum;
    this.unpackSums();
    loopOut[0] = now;
    loopOut[1] = memoryNs;
    loopOut[2] = managementNs;
    this.finish(pos, end, prev, vcpu, ops, writes, nvm);
  }

  /** Takes the management CPU time charged since the last look (both loops, before an operation). */
  private takePendingCpuNs(): number {
    const ns = this.host.pendingCpuNs;
    this.host.pendingCpuNs = 0;
    return ns;
  }

  /** The workload's next batch into the buffers; returns how many accesses they hold. */
  private refill(): number {
    this.workload.nextOps(this.batchOps, this.buffer, this.lines);
    return this.buffer.length;
  }

  /**
   * Adds the fast loop's counted sums (floats[F_DRAM_SUM], floats[F_NVM_SUM],
   * line-traffic.ts countedPairs) to `traffic`'s reads and writes per tier
   * and their counts to ints[F_WRITES] and ints[F_NVM].
   */
  private unpackCounted(): void {
    const floats = this.fastFloats;
    const ints = this.fastInts;
    const traffic = this.traffic;
    const dram = floats[F_DRAM_SUM]!;
    const nvm = floats[F_NVM_SUM]!;
    const dramWrites = Math.floor(dram / COUNTED_WRITE_UNIT);
    const dramLow = dram - dramWrites * COUNTED_WRITE_UNIT;
    const dramReads = Math.floor(dramLow / COUNTED_READ_UNIT);
    const nvmWrites = Math.floor(nvm / COUNTED_WRITE_UNIT);
    const nvmLow = nvm - nvmWrites * COUNTED_WRITE_UNIT;
    const nvmReads = Math.floor(nvmLow / COUNTED_READ_UNIT);
    traffic[0]! += dramReads;
    traffic[1]! += dramWrites;
    traffic[2]! += nvmReads;
    traffic[3]! += nvmWrites;
    ints[F_WRITES] = ints[F_WRITES]! + dramLow - dramReads * COUNTED_READ_UNIT;
    ints[F_NVM] = ints[F_NVM]! + nvmLow - nvmReads * COUNTED_READ_UNIT;
  }

  /** Adds the packed DRAM and NVM sums in `packedSums` (line-traffic.ts) to `traffic`'s reads and writes per tier. */
  private unpackSums(): void {
    const sums = this.packedSums;
    const traffic = this.traffic;
    const dramWrites = Math.floor(sums[0]! / PACKED_WRITE_UNIT);
    const nvmWrites = Math.floor(sums[1]! / PACKED_WRITE_UNIT);
    traffic[0]! += sums[0]! - dramWrites * PACKED_WRITE_UNIT;
    traffic[1]! += dramWrites;
    traffic[2]! += sums[1]! - nvmWrites * PACKED_WRITE_UNIT;
    traffic[3]! += nvmWrites;
  }

  private pageOutOfRange(page: number): never {
    throw new Error(`workload ${this.workload.name} touched page ${page}, past the VM's ${this.host.pageCount} pages`);
  }

  /**
   * Stores a loop's state and folds its counts into the stats and the tiers'
   * traffic; the loop's floating-point results are in `loopOut` (clock,
   * memory ns, management ns) and `traffic`.
   */
  private finish(pos: number, end: number, prev: number, vcpu: number, ops: number, writes: number, nvm: number): void {
    const perOp = this.workload.accessesPerOp;
    const load = this.load;
    const stats = this.stats;
    const traffic = this.traffic;
    load.sliceReads[0]! += traffic[0]!;
    load.sliceWrites[0]! += traffic[1]!;
    load.sliceReads[1]! += traffic[2]!;
    load.sliceWrites[1]! += traffic[3]!;
    this.nextOp = pos / perOp;
    this.bufferedOps = end / perOp;
    this.clockNs[0] = this.loopOut[0]!;
    this.prevPage = prev;
    this.vcpu = vcpu;
    const accesses = ops * perOp;
    stats.ops += ops;
    stats.accesses += accesses;
    stats.writes += writes;
    stats.memoryNs += this.loopOut[1]!;
    stats.cpuNs += ops * this.workload.cpuNsPerOp;
    stats.managementNs += this.loopOut[2]!;
    stats.dramAccesses += accesses - nvm;
    stats.nvmAccesses += nvm;
  }
}

function emptyStats(): VmRunStats {
  return { ops: 0, accesses: 0, writes: 0, memoryNs: 0, cpuNs: 0, managementNs: 0, dramAccesses: 0, nvmAccesses: 0 };
}

// The fast loops write the table layouts as literals (a module constant costs a load and a check per use in V8).
if (TRAFFIC_TIER_SHIFT !== 14 || TRAFFIC_WRITE !== 1 << 13 || ACCESS_COSTS_TRAFFIC !== 8 || WRITE_BACK_ONLY !== 1 << 12
  || ON_NVM !== 0 || DIRTY !== 1 || ACCESSED !== 2 || IN_FLIGHT !== 3 || BATCH_ACCESSES > COUNTED_MAX_ACCESSES) {
  throw new Error('vm-runner: the fast loops assume the table layouts of line-traffic.ts and tier-load.ts and the bitmap planes of sim-host.ts');
}

/**
 * The fast loop's accesses (VmRunner.runPlain) in a steady run (no page
 * untouched, none in flight), from ints[F_POS] on: runs whole operations
 * until one ends at or past floats[F_END_NS] (-Infinity: the first) or at
 * the end of the buffer; returns 0 then. Returns an event
 * (EVENT_OUT_OF_RANGE, EVENT_DIRTY) before the access at ints[F_POS] has any
 * effect. Its state is in `ints` and `floats` (F_* slots) between calls.
 *
 * How it is shaped for V8 (Node 20's TurboFan): one loop in a function of its
 * own, with few live values (inside runPlain's nested loops most of them
 * were spilled to the stack and reloaded on every access); no call and no
 * store to an object in the loop; floating-point values reach no call or
 * object field (V8 would box them, a HeapNumber per access) but through
 * `floats`; every table offset and shift a literal; integer increments
 * `| 0` (no overflow check). TurboFan still checks each typed array's map,
 * length and base on every access (it hoists none of it out of a loop), so
 * the access touches as few arrays as it can: four. Per access: one load
 * each of the access and its descriptor, the onNvm and dirty words and a
 * read-modify-write of the accessed word (one cache line of
 * SimHost.pageBits: interleaved, the three were three L1 misses on a random
 * access), three loads of the cost table (the counted traffic pair, one
 * latency). The write and NVM-access counts ride in the traffic sums
 * (line-traffic.ts countedPairs), and whole operations are counted at their
 * ends (pos reaching opEnd), so the loop carries no counter of its own.
 */
function steadyAccesses(
  buf: Uint32Array,
  lines: Uint16Array,
  bits: Uint32Array,
  costs: Float64Array,
  ints: Int32Array,
  floats: Float64Array,
): number {
  let pos = ints[0]! | 0;
  const end = ints[1]! | 0;
  let prev = ints[2]! | 0;
  const j = ints[3]! | 0;
  let ops = ints[4]! | 0;
  const pageCount = ints[8]! | 0;
  const perOp = ints[9]! | 0;
  let now = floats[0]!;
  const endNs = floats[1]!;
  let opMemNs = floats[2]!;
  let memoryNs = floats[3]!;
  // Counted media traffic (line-traffic.ts) of the accesses since the last unpack.
  let dramSum = floats[4]!;
  let nvmSum = floats[5]!;
  const cpuNsPerOp = floats[6]!;
  const perVcpu = floats[7]!;
  const minOpNs = floats[8]!;
  // The lengths hold anyway; reading them here has TurboFan check once, before the loop, that each array is an object.
  if (end > buf.length || end > lines.length || ((pageCount + 31) >>> 5) << 2 > bits.length || costs.length < 8 + (2 << 15)) {
    throw new Error('steadyAccesses: arrays shorter than the VM');
  }
  const opStart = (pos - j) | 0;
  let opEnd = (opStart + perOp) | 0;
  let event = 0;
  for (;;) {
    const access = buf[pos]!;
    const page = access >>> 1;
    if (page >= pageCount) {
      event = 1;
      break;
    }
    // The page's word of each bitmap in SimHost.pageBits: onNvm at w, dirty w | 1, accessed w | 2, inFlight w | 3.
    const w = (page >>> 5) << 2;
    const t = (bits[w]! >>> (page & 31)) & 1;
    const write = access & 1;
    const bit = 1 << (page & 31);
    // Writes only (write is 0 or 1): rare, well-predicted branches.
    const writeBit = bit & -write;
    if ((bits[w | 1]! & writeBit) !== writeBit) {
      event = 3;
      break;
    }
    const d = lines[pos]!;
    pos = (pos + 1) | 0;
    // Traffic pair of (t << 14) | (write << 13) | d at 8 + 2 * that; latency at t * 4 + (write-back only ? 2 : 0) + random.
    const k = (t << 15) | (write << 14) | (d << 1);
    dramSum += costs[k + 8]!;
    nvmSum += costs[k + 9]!;
    // Random unless the page is the last one or the next: (page - prev) in {0, 1}.
    const step = (page - prev) >>> 1;
    opMemNs += costs[(t << 2) | ((d >>> 11) & 2) | ((step | -step) >>> 31)]!;
    prev = page;
    bits[w | 2]! |= bit;
    if (pos === opEnd) {
      opEnd = (opEnd + perOp) | 0;
      ops = (ops + 1) | 0;
      memoryNs += opMemNs;
      const opNs = cpuNsPerOp + opMemNs;
      opMemNs = 0;
      now += Math.max(opNs, minOpNs) * perVcpu;
      if (now >= endNs || pos === end) break;
    }
  }
  ints[0] = pos;
  ints[2] = prev;
  ints[3] = (pos - opStart) % perOp;
  ints[4] = ops;
  floats[0] = now;
  floats[2] = opMemNs;
  floats[3] = memoryNs;
  floats[4] = dramSum;
  floats[5] = nvmSum;
  return event;
}

/**
 * steadyAccesses with the two tests a run that is not steady needs: a page
 * still untouched (tier[] read while ints[F_UNTOUCHED] is not 0; event
 * EVENT_FIRST_TOUCH) and a write to a page in flight (its version bumped
 * while ints[F_IN_FLIGHT] is not 0). The same figures, one array or two
 * more per access.
 */
function fastAccesses(
  buf: Uint32Array,
  lines: Uint16Array,
  bits: Uint32Array,
  version: Int32Array,
  tier: Uint8Array,
  costs: Float64Array,
  ints: Int32Array,
  floats: Float64Array,
): number {
  let pos = ints[0]! | 0;
  const end = ints[1]! | 0;
  let prev = ints[2]! | 0;
  const j = ints[3]! | 0;
  let ops = ints[4]! | 0;
  const untouched = ints[7]! | 0;
  const pageCount = ints[8]! | 0;
  const perOp = ints[9]! | 0;
  const anyInFlight = ints[10]! | 0;
  let now = floats[0]!;
  const endNs = floats[1]!;
  let opMemNs = floats[2]!;
  let memoryNs = floats[3]!;
  let dramSum = floats[4]!;
  let nvmSum = floats[5]!;
  const cpuNsPerOp = floats[6]!;
  const perVcpu = floats[7]!;
  const minOpNs = floats[8]!;
  if (end > buf.length || end > lines.length || ((pageCount + 31) >>> 5) << 2 > bits.length || pageCount > version.length
    || pageCount > tier.length || costs.length < 8 + (2 << 15)) {
    throw new Error('fastAccesses: arrays shorter than the VM');
  }
  const opStart = (pos - j) | 0;
  let opEnd = (opStart + perOp) | 0;
  let event = 0;
  for (;;) {
    const access = buf[pos]!;
    const page = access >>> 1;
    if (page >= pageCount) {
      event = 1;
      break;
    }
    if (untouched !== 0 && tier[page]! > 1) {
      event = 2;
      break;
    }
    const w = (page >>> 5) << 2;
    const t = (bits[w]! >>> (page & 31)) & 1;
    const write = access & 1;
    const bit = 1 << (page & 31);
    const writeBit = bit & -write;
    if ((bits[w | 1]! & writeBit) !== writeBit) {
      event = 3;
      break;
    }
    const d = lines[pos]!;
    pos = (pos + 1) | 0;
    const k = (t << 15) | (write << 14) | (d << 1);
    dramSum += costs[k + 8]!;
    nvmSum += costs[k + 9]!;
    const step = (page - prev) >>> 1;
    opMemNs += costs[(t << 2) | ((d >>> 11) & 2) | ((step | -step) >>> 31)]!;
    prev = page;
    bits[w | 2]! |= bit;
    if (anyInFlight !== 0 && (bits[w | 3]! & writeBit) !== 0) version[page] = (version[page]! + 1) | 0;
    if (pos === opEnd) {
      opEnd = (opEnd + perOp) | 0;
      ops = (ops + 1) | 0;
      memoryNs += opMemNs;
      const opNs = cpuNsPerOp + opMemNs;
      opMemNs = 0;
      now += Math.max(opNs, minOpNs) * perVcpu;
      if (now >= endNs || pos === end) break;
    }
  }
  ints[0] = pos;
  ints[2] = prev;
  ints[3] = (pos - opStart) % perOp;
  ints[4] = ops;
  floats[0] = now;
  floats[2] = opMemNs;
  floats[3] = memoryNs;
  floats[4] = dramSum;
  floats[5] = nvmSum;
  return event;
}
