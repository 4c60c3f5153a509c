/**
 * A closed-loop VM: its vCPUs run the workload's operations back to back. An
 * operation costs its CPU time plus, for each memory access, the current
 * loaded latency of the tier holding the page (sequential if it is the page
 * just touched or the next one, random otherwise). The operations of one
 * stream are spread round-robin over the vCPUs, which run in parallel, so VM
 * time advances by (op cost) / vCPUs per operation. CPU time the host charges
 * for management (sim-host.ts) is taken from the VM the same way.
 *
 * A write is a read-for-ownership (it pays the read latency) plus a cache-line
 * write-back, which counts against the tier's write bandwidth.
 *
 * Cost per access: a handful of typed-array loads and stores, no allocation.
 */
import type { Workload } from './workload.js';
import type { SimHost } from './sim-host.js';
import type { TierLoad } from './tier-load.js';

/** Accesses generated per call into the workload (the batch buffer's size). */
const BATCH_ACCESSES = 4096;

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
  /** The VM's own time: how far its vCPUs have run, ns. */
  localNs: number;
  /** VM time at which `stats` started counting. */
  statsSinceNs: number;
  readonly stats: VmRunStats = emptyStats();

  private readonly load: TierLoad;
  private readonly batchOps: number;
  private readonly buffer: Uint32Array;
  /** Next unused operation in `buffer`, and how many the buffer holds. */
  private nextOp = 0;
  private bufferedOps = 0;
  private prevPage = -2;
  private opCounter = 0;

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
    this.localNs = startNs;
    this.statsSinceNs = startNs;
    this.batchOps = Math.max(1, Math.floor(BATCH_ACCESSES / workload.accessesPerOp));
    this.buffer = new Uint32Array(this.batchOps * workload.accessesPerOp);
  }

  /** Starts counting afresh (the end of a warm-up). */
  resetStats(): void {
    Object.assign(this.stats, emptyStats());
    this.statsSinceNs = this.localNs;
  }

  /** Runs operations until the VM's time reaches `endNs` (the last operation may end a little past it). */
  runUntil(endNs: number): void {
    const host = this.host;
    const tier = host.tier;
    const accessedBits = host.accessed;
    const dirtyBits = host.dirty;
    const version = host.version;
    const latency = this.load.latencyNs;
    const reads = this.load.sliceReads;
    const writesBack = this.load.sliceWrites;
    const pageCount = host.pageCount;
    const vcpus = host.vcpuCount;
    const perOp = this.workload.accessesPerOp;
    const cpuNsPerOp = this.workload.cpuNsPerOp;
    const buf = this.buffer;
    const stats = this.stats;
    let now = this.localNs;
    let prev = this.prevPage;
    let opCounter = this.opCounter;
    let memoryNs = 0;
    let dram = 0;
    let nvm = 0;
    let writes = 0;
    let ops = 0;
    let managementNs = 0;

    while (now < endNs) {
      if (host.pendingCpuNs > 0) {
        managementNs += host.pendingCpuNs;
        now += host.pendingCpuNs / vcpus;
        host.pendingCpuNs = 0;
        continue;
      }
      if (this.nextOp === this.bufferedOps) {
        this.workload.nextOps(this.batchOps, buf);
        this.nextOp = 0;
        this.bufferedOps = this.batchOps;
      }
      let pos = this.nextOp * perOp;
      const vcpu = opCounter % vcpus;
      let opMemNs = 0;
      for (let j = 0; j < perOp; j++) {
        const access = buf[pos++]!;
        const page = access >>> 1;
        if (page >= pageCount) throw new Error(`workload ${this.workload.name} touched page ${page}, past the VM's ${pageCount} pages`);
        let t = tier[page]!;
        if (t > 1) t = host.allocateOnTouch(page);
        opMemNs += latency[t * 2 + (page === prev || page === prev + 1 ? 0 : 1)]!;
        prev = page;
        if (t === 0) dram++;
        else nvm++;
        const word = page >>> 5;
        const bit = 1 << (page & 31);
        accessedBits[word]! |= bit;
        if ((access & 1) !== 0) {
          writes++;
          writesBack[t]!++;
          version[page]!++;
          if ((dirtyBits[word]! & bit) === 0) {
            dirtyBits[word]! |= bit;
            host.logWrite(page, vcpu);
          }
        }
      }
      this.nextOp++;
      opCounter++;
      ops++;
      memoryNs += opMemNs;
      now += (cpuNsPerOp + opMemNs) / vcpus;
    }

    reads[0]! += dram;
    reads[1]! += nvm;
    this.localNs = now;
    this.prevPage = prev;
    this.opCounter = opCounter;
    stats.ops += ops;
    stats.accesses += ops * perOp;
    stats.writes += writes;
    stats.memoryNs += memoryNs;
    stats.cpuNs += ops * cpuNsPerOp;
    stats.managementNs += managementNs;
    stats.dramAccesses += dram;
    stats.nvmAccesses += nvm;
  }
}

function emptyStats(): VmRunStats {
  return { ops: 0, accesses: 0, writes: 0, memoryNs: 0, cpuNs: 0, managementNs: 0, dramAccesses: 0, nvmAccesses: 0 };
}
