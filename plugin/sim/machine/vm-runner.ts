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
 * Cost per access: a handful of typed-array loads and stores, no allocation.
 */
import type { Workload } from '../workloads/workload.js';
import { WRITE_BACK_ONLY } from '../workloads/workload.js';
import type { AccessHook, SimHost } from './sim-host.js';
import { ACCESS_COSTS_TRAFFIC, type TierLoad } from './tier-load.js';
import { PACKED_MAX_ACCESSES, PACKED_WRITE_UNIT, TRAFFIC_TIER_SHIFT, TRAFFIC_WRITE } from './line-traffic.js';

/** Accesses generated per call into the workload (the batch buffer's size). */
const BATCH_ACCESSES = 4096;
/** Shortest operation, ns (about a cycle). */
export const MIN_OP_NS = 0.5;

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
   * How the loop is shaped for V8 (Node 20's TurboFan):
   * - The innermost loop makes no call and stores to no object, only to typed
   *   arrays and locals. The rare events leave it before the access has any
   *   effect and are handled outside: a page never touched (backed now), a
   *   page past the end (an error), a write that sets a dirty bit (logged in
   *   the vCPU's PML buffer, which may charge a VM exit); the access then runs
   *   again with nothing rare left. The loop also leaves at an operation's end
   *   when the slice is over, the batch is used up or management CPU time may
   *   be pending, which the outer loop takes before the next operation, as
   *   before. (TurboFan still checks each typed array's map, length and base
   *   per access, calls or not: it does not hoist them out of loops. So the
   *   number of arrays an access touches counts: 7 here, from 10.)
   * - Floating-point running values (clock, sums) never reach a call or an
   *   object field but through a Float64Array (`loopOut`, `packedSums`): a
   *   value that does is kept boxed, a HeapNumber allocated per access.
   * - Integers from fields are made int32 (`| 0`) before the loop, or each use
   *   checks and untags them.
   * And one for the cache: a page's tier comes from the host's onNvm bitmap
   * (1 bit per page, in the L1 cache with the accessed and dirty words the
   * access touches anyway), not from tier[] (a byte per page: an L1 miss on
   * most random accesses, a fifth of the loop's time); tier[] is read only
   * while some page is still untouched.
   */
  private runPlain(endNs: number): void {
    const host = this.host;
    const tier = host.tier;
    const onNvm = host.onNvm;
    let untouched = host.untouchedPages | 0;
    const accessedBits = host.accessed;
    const dirtyBits = host.dirty;
    const inFlight = host.inFlight;
    const version = host.version;
    const load = this.load;
    // Latencies at [0, 8), packed traffic pairs from `trafficAt` (tier-load.ts).
    const costs = load.accessCosts;
    const trafficAt = ACCESS_COSTS_TRAFFIC | 0;
    // Nothing is migrated while the loop runs (migrations advance between slices): without pages in flight, no version to bump.
    const anyInFlight = host.inFlightPages !== 0;
    const pageCount = host.pageCount | 0;
    const vcpus = host.vcpuCount | 0;
    const perVcpu = 1 / vcpus;
    const perOp = this.workload.accessesPerOp | 0;
    const cpuNsPerOp = +this.workload.cpuNsPerOp;
    const buf = this.buffer;
    const lines = this.lines;
    const packedSums = this.packedSums;
    const loopOut = this.loopOut;
    // Module constants as locals: imported bindings are live and cost a load and a check per use.
    const tierShift = TRAFFIC_TIER_SHIFT | 0;
    const writeIndex = TRAFFIC_WRITE | 0;
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
    // Packed media traffic (64 B units, line-traffic.ts) of the accesses since the last unpack.
    let dramSum = 0;
    let nvmSum = 0;
    this.traffic.fill(0);
    // The operation under way: its next access and its memory time so far (kept across the rare events).
    let j = 0;
    let opMemNs = 0;

    // Set when a rare event's call may have charged management CPU time (the loop below stops at the operation's end).
    let charged = false;

    while (now < endNs) {
      charged = false;
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
      for (;;) {
        // 0: an operation ended (back to the outer loop); else the rare event the access at `pos` needs first.
        let event = 0;
        for (;;) {
          const access = buf[pos]!;
          const page = access >>> 1;
          if (page >= pageCount) {
            event = 1;
            break;
          }
          // tier[] only while some page is untouched (the warm-up); onNvm is the same and stays in the L1 cache.
          if (untouched !== 0 && tier[page]! > 1) {
            event = 2;
            break;
          }
          const word = page >>> 5;
          const t = (onNvm[word]! >>> (page & 31)) & 1;
          const write = access & 1;
          const bit = 1 << (page & 31);
          // Writes only (write is 0 or 1): rare, well-predicted branches.
          const writeBit = bit & -write;
          if ((dirtyBits[word]! & writeBit) !== writeBit) {
            event = 3;
            break;
          }
          const d = lines[pos]!;
          pos++;
          const k = (t << tierShift) | (write * writeIndex) | d;
          dramSum += costs[trafficAt + 2 * k]!;
          nvmSum += costs[trafficAt + 2 * k + 1]!;
          // Random unless the page is the last one or the next: (page - prev) in {0, 1}.
          const step = (page - prev) >>> 1;
          opMemNs += costs[(t << 2) | ((d >>> 11) & 2) | ((step | -step) >>> 31)]!;
          prev = page;
          nvm += t;
          accessedBits[word]! |= bit;
          writes += write;
          if (anyInFlight && (inFlight[word]! & writeBit) !== 0) version[page] = (version[page]! + 1) | 0;
          if (++j === perOp) {
            j = 0;
            if (++vcpu === vcpus) vcpu = 0;
            ops++;
            memoryNs += opMemNs;
            const opNs = cpuNsPerOp + opMemNs;
            opMemNs = 0;
            now += Math.max(opNs, minOpNs) * perVcpu;
            if (now >= endNs || pos === end || charged) break;
          }
        }
        if (event === 0) break;
        // Only these calls charge management CPU time within the loop: look for it at the operation's end.
        charged = true;
        const page = buf[pos]! >>> 1;
        if (event === 1) this.pageOutOfRange(page);
        else if (event === 2) {
          host.allocateOnTouch(page);
          untouched = host.untouchedPages | 0;
        } else {
          dirtyBits[page >>> 5]! |= 1 << (page & 31);
          host.logWrite(page, vcpu);
        }
      }
    }
    packedSums[0] = dramSum;
    packedSums[1] = nvmSum;
    this.unpackSums();
    loopOut[0] = now;
    loopOut[1] = memoryNs;
    loopOut[2] = managementNs;
    this.finish(pos, end, prev, vcpu, ops, writes, nvm);
  }

  /**
   * The general loop: watched pages' accesses go through the hook, if any
   * (NUMA hint faults, Memory Mode's cache). With contentTracking every write
   * bumps the page's version; otherwise, as in the fast loop, only a write
   * to a page in flight does (a random write to the version array costs a
   * cache miss, and no one compares the version of a page not in flight).
   * Traffic goes through the same packed tables as in the fast loop; the
   * latency is the plain formula (the fast loop's reference in the tests).
   */
  private runGeneral(endNs: number, hook: AccessHook | undefined): void {
    const host = this.host;
    const tier = host.tier;
    const accessedBits = host.accessed;
    const dirtyBits = host.dirty;
    const version = host.version;
    const inFlight = host.inFlight;
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
        accessedBits[word]! |= bit;
        if (write !== 0) {
          writes++;
          if (everyWrite || (inFlight[word]! & bit) !== 0) version[page] = (version[page]! + 1) | 0;
          if ((dirtyBits[word]! & bit) === 0) {
            dirtyBits[word]! |= bit;
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
