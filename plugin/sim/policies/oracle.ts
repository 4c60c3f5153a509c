/**
 * The oracle: clairvoyant placement. At the start of every window it reads
 * each VM's accesses of that window ahead of the guest (the workload stream is
 * deterministic), ranks all pages of all VMs by how often the window will touch
 * them, and fills the host's DRAM with the hottest, instantly and for free (no
 * copy, no pause, no tracking). No policy can serve more of a window's
 * accesses from DRAM of the same size: it is the physical limit the others
 * are measured against.
 *
 * A window's length in operations is forecast from the VM's speed in the
 * previous window (first window: its speed if every access hit DRAM); ops the
 * guest runs past the forecast are served from wherever the pages are.
 */
import { Tier } from '../../host/memory-host.js';
import { DRAM_RAND_READ_NS, DRAM_SEQ_READ_NS } from '../machine/tiers.js';
import type { Policy, PolicyContext, PolicyVmReport, RunningPolicy } from '../machine/policy.js';
import type { Workload } from '../workloads/workload.js';

/** The oracle's window: HMM-V's default window (8 rounds of 25 ms, plugin/engine/run.ts). */
export const ORACLE_WINDOW_NS = 200e6;

/** A workload whose next operations can be generated ahead and inspected. */
export class LookaheadWorkload implements Workload {
  readonly name: string;
  readonly pageCount: number;
  readonly cpuNsPerOp: number;
  readonly accessesPerOp: number;
  /** Operations handed to the guest so far. */
  consumedOps = 0;
  private queue = new Uint32Array(0);
  private lineQueue = new Uint16Array(0);
  private head = 0; // in accesses
  private tail = 0;

  constructor(private readonly inner: Workload) {
    this.name = inner.name;
    this.pageCount = inner.pageCount;
    this.cpuNsPerOp = inner.cpuNsPerOp;
    this.accessesPerOp = inner.accessesPerOp;
  }

  /** Operations generated but not yet run. */
  queuedOps(): number {
    return (this.tail - this.head) / this.accessesPerOp;
  }

  /** Makes sure at least `ops` operations are queued; returns the queued accesses (a view, valid until the next call). */
  ahead(ops: number): Uint32Array {
    const apo = this.accessesPerOp;
    const missing = Math.ceil(ops) - this.queuedOps();
    if (missing > 0) {
      const need = this.tail - this.head + missing * apo;
      if (this.queue.length < need || this.head > 0) {
        const size = Math.max(need, this.queue.length);
        const next = new Uint32Array(size);
        next.set(this.queue.subarray(this.head, this.tail));
        const nextLines = new Uint16Array(size);
        nextLines.set(this.lineQueue.subarray(this.head, this.tail));
        this.queue = next;
        this.lineQueue = nextLines;
        this.tail -= this.head;
        this.head = 0;
      }
      this.inner.nextOps(missing, this.queue.subarray(this.tail, this.tail + missing * apo), this.lineQueue.subarray(this.tail, this.tail + missing * apo));
      this.tail += missing * apo;
    }
    return this.queue.subarray(this.head, this.head + Math.ceil(ops) * apo);
  }

  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
    const apo = this.accessesPerOp;
    const fromQueue = Math.min(ops, this.queuedOps());
    if (fromQueue > 0) {
      out.set(this.queue.subarray(this.head, this.head + fromQueue * apo));
      lines.set(this.lineQueue.subarray(this.head, this.head + fromQueue * apo));
      this.head += fromQueue * apo;
    }
    if (ops > fromQueue) this.inner.nextOps(ops - fromQueue, out.subarray(fromQueue * apo, ops * apo), lines.subarray(fromQueue * apo, ops * apo));
    this.consumedOps += ops;
  }
}

/**
 * Chooses which pages to keep in DRAM: the `capacity` most-counted pages over
 * all VMs (pages never touched in the window are not chosen). Ties at the cut
 * go to pages already in DRAM. Counting sort over the counts, O(pages).
 * Returns one Uint8Array per VM: 1 = DRAM.
 */
export function hottestPlacement(counts: readonly Uint32Array[], inDram: readonly Uint8Array[], capacity: number): Uint8Array[] {
  let maxCount = 0;
  for (const c of counts) for (let p = 0; p < c.length; p++) if (c[p]! > maxCount) maxCount = c[p]!;
  const perCount = new Float64Array(maxCount + 2);
  for (const c of counts) for (let p = 0; p < c.length; p++) if (c[p]! > 0) perCount[c[p]!]!++;
  // Lowest count that still fits entirely, walking from the hottest down.
  let taken = 0;
  let cut = maxCount + 1;
  while (cut > 1 && taken + perCount[cut - 1]! <= capacity) {
    cut--;
    taken += perCount[cut]!;
  }
  // Pages at count cut-1 fill what is left, DRAM residents first.
  let left = cut > 1 ? capacity - taken : 0;
  const partial = cut - 1;
  const out = counts.map((c) => new Uint8Array(c.length));
  for (let pass = 0; pass < 2; pass++) {
    counts.forEach((c, v) => {
      const chosen = out[v]!;
      const dram = inDram[v]!;
      for (let p = 0; p < c.length; p++) {
        const n = c[p]!;
        if (pass === 0 && n >= cut && n > 0) chosen[p] = 1;
        else if (left > 0 && n === partial && n > 0 && chosen[p] === 0 && (pass === 1 || dram[p] === 1)) {
          chosen[p] = 1;
          left--;
        }
      }
    });
  }
  return out;
}

export function oraclePolicy(windowNs = ORACLE_WINDOW_NS): Policy {
  const lookaheads: LookaheadWorkload[] = [];
  return {
    name: 'oracle',
    description: 'clairvoyant: each window, the hottest pages of that window (all VMs) fill DRAM, moved for free',
    hostDramPages: (configured) => configured,
    firstTouchDramPages: () => Infinity,
    // Per page the window's counts and two placement bytes; per VM one window of accesses read ahead
    // (at the all-DRAM pace, doubled for the queue's growth), 6 bytes each.
    memoryBytes: (shape) =>
      shape.vms.reduce((sum, vm) => {
        const opNs = Math.max(1, (vm.cpuNsPerOp + vm.accessesPerOp * DRAM_SEQ_READ_NS) / vm.vcpus);
        return sum + 6 * vm.pageCount + 2 * 6 * vm.accessesPerOp * (windowNs / opNs);
      }, 0),
    wrapWorkload(vmIndex, workload) {
      const w = new LookaheadWorkload(workload);
      lookaheads[vmIndex] = w;
      return w;
    },
    start(context: PolicyContext): RunningPolicy {
      const { clock, load, signal, vms } = context;
      if (lookaheads.length !== vms.length) throw new Error('oracle: the machine did not let the oracle wrap every workload');
      const counts = vms.map((vm) => new Uint32Array(vm.pageCount));
      const windows = { n: 0 };
      const predicted = new Float64Array(vms.length);
      const coveredByDram = new Float64Array(vms.length);
      const lastConsumed = lookaheads.map((w) => w.consumedOps);
      let failure: Error | undefined;

      const placeWindow = (): void => {
        vms.forEach((vm, i) => {
          const w = lookaheads[i]!;
          // Forecast of this window's operations: last window's pace, or the all-DRAM pace at first.
          const last = w.consumedOps - lastConsumed[i]!;
          lastConsumed[i] = w.consumedOps;
          const allDramOpNs = (w.cpuNsPerOp + w.accessesPerOp * DRAM_RAND_READ_NS) / vm.host.vcpuCount;
          const ops = windows.n === 0 || last === 0 ? windowNs / allDramOpNs : last;
          const accesses = w.ahead(ops);
          const c = counts[i]!;
          c.fill(0);
          for (let k = 0; k < accesses.length; k++) c[accesses[k]! >>> 1]!++;
          predicted[i]! += accesses.length;
        });
        const inDram = vms.map((vm) => {
          const d = new Uint8Array(vm.pageCount);
          for (let p = 0; p < vm.pageCount; p++) if (vm.host.tierOf(p) === Tier.DRAM) d[p] = 1;
          return d;
        });
        const chosen = hottestPlacement(counts, inDram, load.capacityPages(Tier.DRAM));
        // Moves are free (no traffic, no time). Demote unchosen pages only as far as promotions need room,
        // so DRAM the window does not need keeps what it holds.
        let promotions = 0;
        vms.forEach((vm, i) => {
          const want = chosen[i]!;
          for (let p = 0; p < vm.pageCount; p++) if (want[p] === 1 && vm.host.tierOf(p) === Tier.NVM) promotions++;
        });
        let toFree = promotions - load.freePages(Tier.DRAM);
        for (const pass of [0, 1]) {
          vms.forEach((vm, i) => {
            const want = chosen[i]!;
            const c = counts[i]!;
            const host = vm.host;
            for (let p = 0; p < vm.pageCount && toFree > 0; p++) {
              if (host.tierOf(p) !== Tier.DRAM || want[p] === 1 || (pass === 0 && c[p]! > 0)) continue;
              if (host.relocate(p, Tier.NVM, false)) toFree--;
            }
          });
        }
        vms.forEach((vm, i) => {
          const want = chosen[i]!;
          for (let p = 0; p < vm.pageCount; p++) if (want[p] === 1 && vm.host.tierOf(p) === Tier.NVM) vm.host.relocate(p, Tier.DRAM, false);
        });
        vms.forEach((vm, i) => {
          const c = counts[i]!;
          for (let p = 0; p < vm.pageCount; p++) if (vm.host.tierOf(p) === Tier.DRAM) coveredByDram[i]! += c[p]!;
        });
        windows.n++;
      };

      const loop = async (): Promise<void> => {
        for (;;) {
          placeWindow();
          await clock.sleep(windowNs, signal);
        }
      };
      const done = loop().catch((err: unknown) => {
        if (!signal.aborted) failure = err instanceof Error ? err : new Error(String(err));
      });
      return {
        failure: () => failure,
        async stop(): Promise<readonly PolicyVmReport[]> {
          await done;
          if (failure) throw failure;
          return vms.map((_, i) => ({
            windows: windows.n,
            foreseenAccesses: predicted[i]!,
            foreseenDramShare: predicted[i]! > 0 ? coveredByDram[i]! / predicted[i]! : 0,
          }));
        },
      };
    },
  };
}
