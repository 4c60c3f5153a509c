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
import type { TierLoad } from './tier-load.js';
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
  /** The fast loop's unpacked traffic: DRAM reads, DRAM writes, NVM reads, NVM writes (64 B units). */
  private readonly traffic = new Float64Array(4);
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
   * table indices and masks. Traffic goes into two packed running sums (DRAM,
   * NVM; line-traffic.ts), unpacked after every batch of the workload's
   * accesses. A write bumps the page's version only while the page is being
   * migrated (the only time the version is compared). The figures are the
   * ones the plain formulas give (the same values added in the same order).
   */
  private runPlain(endNs: number): void {
    const host = this.host;
    const tier = host.tier;
    const accessedBits = host.accessed;
    const dirtyBits = host.dirty;
    const inFlight = host.inFlight;
    const version = host.version;
    const load = this.load;
    const accessNs = load.accessLatencyNs;
    const dramPacked = load.traffic.dramPacked;
    const nvmPacked = load.traffic.nvmPacked;
    const pageCount = host.pageCount;
    const vcpus = host.vcpuCount;
    const perVcpu = 1 / vcpus;
    const perOp = this.workload.accessesPerOp;
    const cpuNsPerOp = this.workload.cpuNsPerOp;
    const buf = this.buffer;
    const lines = this.lines;
    // Module constants as locals: imported bindings are live and cost a load and a check per use.
    const tierShift = TRAFFIC_TIER_SHIFT;
    const writeIndex = TRAFFIC_WRITE;
    const minOpNs = MIN_OP_NS;
    let now = this.clockNs[0]!;
    let prev = this.prevPage;
    let vcpu = this.vcpu;
    let pos = this.nextOp * perOp;
    let end = this.bufferedOps * perOp;
    let memoryNs = 0;
    let nvm = 0;
    let writes = 0;
    let ops = 0;
    let managementNs = 0;
    // Packed media traffic (64 B units) of the accesses since the last unpack, and the unpacked totals.
    let dramSum = 0;
    let nvmSum = 0;
    const traffic = this.traffic;
    traffic.fill(0);

    while (now < endNs) {
      if (host.pendingCpuNs > 0) {
        managementNs += host.pendingCpuNs;
        now += host.pendingCpuNs * perVcpu;
        host.pendingCpuNs = 0;
        continue;
      }
      if (pos === end) {
        unpackInto(traffic, dramSum, nvmSum);
        dramSum = 0;
        nvmSum = 0;
        this.workload.nextOps(this.batchOps, buf, lines);
        pos = 0;
        end = buf.length;
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
        const write = access & 1;
        const k = (t << tierShift) | (write * writeIndex) | d;
        dramSum += dramPacked[k]!;
        nvmSum += nvmPacked[k]!;
        // Random unless the page is the last one or the next: (page - prev) in {0, 1}.
        const step = (page - prev) >>> 1;
        opMemNs += accessNs[(t << 2) | ((d >>> 11) & 2) | ((step | -step) >>> 31)]!;
        prev = page;
        nvm += t;
        const word = page >>> 5;
        const bit = 1 << (page & 31);
        accessedBits[word]! |= bit;
        // Writes only (write is 0 or 1): rare, well-predicted branches.
        const writeBit = bit & -write;
        writes += write;
        if ((inFlight[word]! & writeBit) !== 0) version[page] = (version[page]! + 1) | 0;
        const dirtyWord = dirtyBits[word]!;
        if ((dirtyWord & writeBit) !== writeBit) {
          dirtyBits[word] = dirtyWord | writeBit;
          host.logWrite(page, vcpu);
        }
      }
      if (++vcpu === vcpus) vcpu = 0;
      ops++;
      memoryNs += opMemNs;
      const opNs = cpuNsPerOp + opMemNs;
      now += Math.max(opNs, minOpNs) * perVcpu;
    }
    unpackInto(traffic, dramSum, nvmSum);

    this.finish(pos, end, now, prev, vcpu, ops, writes, memoryNs, managementNs, nvm, traffic[0]!, traffic[1]!, traffic[2]!, traffic[3]!);
  }

  /**
   * The general loop: watched pages' accesses go through the hook, if any
   * (NUMA hint faults, Memory Mode's cache). With contentTracking every write
   * bumps the page's version; otherwise, as in the fast loop, only a write
   * to a page in flight does (a random write to the version array costs a
   * cache miss, and no one compares the version of a page not in flight).
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
    const readUnits = load.traffic.readUnits;
    const writeUnits = load.traffic.writeUnits;
    const pageCount = host.pageCount;
    const vcpus = host.vcpuCount;
    const perVcpu = 1 / vcpus;
    const perOp = this.workload.accessesPerOp;
    const cpuNsPerOp = this.workload.cpuNsPerOp;
    const watched = hook?.watched ?? null;
    const hookTraffic = hook?.accountsTraffic === true;
    const buf = this.buffer;
    const lines = this.lines;
    const tierShift = TRAFFIC_TIER_SHIFT;
    const writeIndex = TRAFFIC_WRITE;
    const writeBackOnly = WRITE_BACK_ONLY;
    const minOpNs = MIN_OP_NS;
    let now = this.clockNs[0]!;
    let prev = this.prevPage;
    let vcpu = this.vcpu;
    let pos = this.nextOp * perOp;
    let end = this.bufferedOps * perOp;
    let memoryNs = 0;
    let nvm = 0;
    let writes = 0;
    let ops = 0;
    let managementNs = 0;
    let r0 = 0;
    let w0 = 0;
    let r1 = 0;
    let w1 = 0;

    while (now < endNs) {
      if (host.pendingCpuNs > 0) {
        managementNs += host.pendingCpuNs;
        now += host.pendingCpuNs * perVcpu;
        host.pendingCpuNs = 0;
        continue;
      }
      if (pos === end) {
        this.workload.nextOps(this.batchOps, buf, lines);
        pos = 0;
        end = buf.length;
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
          if (t === 0) {
            r0 += readUnits[k]!;
            w0 += writeUnits[k]!;
          } else {
            r1 += readUnits[k]!;
            w1 += writeUnits[k]!;
          }
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

    this.finish(pos, end, now, prev, vcpu, ops, writes, memoryNs, managementNs, nvm, r0, w0, r1, w1);
  }

  private pageOutOfRange(page: number): never {
    throw new Error(`workload ${this.workload.name} touched page ${page}, past the VM's ${this.host.pageCount} pages`);
  }

  /** Stores a loop's state and folds its counts into the stats and the tiers' traffic. */
  private finish(
    pos: number, end: number, now: number, prev: number, vcpu: number, ops: number, writes: number,
    memoryNs: number, managementNs: number, nvm: number, r0: number, w0: number, r1: number, w1: number,
  ): void {
    const perOp = this.workload.accessesPerOp;
    const load = this.load;
    const stats = this.stats;
    load.sliceReads[0]! += r0;
    load.sliceWrites[0]! += w0;
    load.sliceReads[1]! += r1;
    load.sliceWrites[1]! += w1;
    this.nextOp = pos / perOp;
    this.bufferedOps = end / perOp;
    this.clockNs[0] = now;
    this.prevPage = prev;
    this.vcpu = vcpu;
    const accesses = ops * perOp;
    stats.ops += ops;
    stats.accesses += accesses;
    stats.writes += writes;
    stats.memoryNs += memoryNs;
    stats.cpuNs += ops * this.workload.cpuNsPerOp;
    stats.managementNs += managementNs;
    stats.dramAccesses += accesses - nvm;
    stats.nvmAccesses += nvm;
  }
}

/** Adds packed DRAM and NVM sums (line-traffic.ts) to reads and writes per tier. */
function unpackInto(traffic: Float64Array, dramSum: number, nvmSum: number): void {
  const dramWrites = Math.floor(dramSum / PACKED_WRITE_UNIT);
  const nvmWrites = Math.floor(nvmSum / PACKED_WRITE_UNIT);
  traffic[0]! += dramSum - dramWrites * PACKED_WRITE_UNIT;
  traffic[1]! += dramWrites;
  traffic[2]! += nvmSum - nvmWrites * PACKED_WRITE_UNIT;
  traffic[3]! += nvmWrites;
}

function emptyStats(): VmRunStats {
  return { ops: 0, accesses: 0, writes: 0, memoryNs: 0, cpuNs: 0, managementNs: 0, dramAccesses: 0, nvmAccesses: 0 };
}
