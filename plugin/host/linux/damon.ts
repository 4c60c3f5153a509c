/**
 * DAMON virtual-address monitoring through its sysfs interface
 * (/sys/kernel/mm/damon/admin, Documentation/admin-guide/mm/damon/usage.rst).
 * Each manager has a kdamond of its own (claimed from hmmv's slots, see
 * damon-slots.ts and damon-registry.ts) with one vaddr context watching its
 * QEMU pid; a "stat" scheme that matches every region lets us ask for a
 * snapshot of the regions with their access counts
 * (update_schemes_tried_regions), which is the sysfs way to read monitoring
 * results.
 *
 * DAMON samples one page per region per sampling interval and adapts the
 * regions (split/merge) so that pages in a region share a pattern; region
 * counts are evidence for every page of the region, not per-page truth.
 */
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimSlot, DAMON_ADMIN, DamonLockTimeoutError, DEFAULT_DAMON_RUN_DIR, readKdamondState, releaseSlot, withDamonLock, writeDamon, type DamonRegistryOptions } from './damon-registry.js';
import { hostFiles, type KernelFiles } from './sysfs.js';

export { DAMON_ADMIN };

/** EBUSY retries of a snapshot request, backing off 20, 40, 60 ... ms (about 2 s in all). */
const SNAPSHOT_BUSY_RETRIES = 14;
const SNAPSHOT_BUSY_BACKOFF_MS = 20;

export interface DamonAttrs {
  sampleUs: number;
  aggrUs: number;
  updateUs: number;
  minRegions: number;
  maxRegions: number;
}

export const defaultDamonAttrs: DamonAttrs = { sampleUs: 5000, aggrUs: 100_000, updateUs: 1_000_000, minRegions: 200, maxRegions: 4000 };

/** Pages per DAMON region at the least, on a guest too small for the default bounds. */
export const MIN_PAGES_PER_REGION = 32;

/**
 * DAMON's region bounds for a target of `pages` 4 KiB pages: the defaults,
 * or on a small guest at most one region per MIN_PAGES_PER_REGION pages (and
 * a tenth of that at the least); the defaults from 500 MiB up. kdamond's
 * cost is per region per sample and a snapshot's per region (sysfs makes a
 * directory of four files for each, and the backend reads them all every
 * round), not per page: 4000 regions over a 48 MiB guest (3 pages each)
 * cost what they cost over 64 GiB, for a resolution the engine's rounds do
 * not need. At one region per 8 pages the test bed's 48 MiB guests (1536
 * regions) took 8.1-8.7 s per snapshot, two kdamonds in turn, under nested
 * TCG (a window of four rounds took about 40 s); DAMON's own default
 * maximum is 1000 regions.
 */
export function regionBoundsFor(pages: number): Pick<DamonAttrs, 'minRegions' | 'maxRegions'> {
  const maxRegions = Math.max(30, Math.min(defaultDamonAttrs.maxRegions, Math.floor(pages / MIN_PAGES_PER_REGION)));
  return { minRegions: Math.min(defaultDamonAttrs.minRegions, Math.max(3, Math.floor(maxRegions / 10))), maxRegions };
}

export interface DamonRegion {
  readonly start: bigint;
  readonly end: bigint;
  /** Samples (of aggrUs/sampleUs) in the last aggregation interval that found the region accessed. */
  readonly nrAccesses: number;
  /**
   * Aggregation intervals the region has kept its access pattern. Read only
   * for idle regions (nrAccesses 0), the ones whose last access it dates;
   * 0 for an accessed one.
   */
  readonly age: number;
}

/** Kdamonds that are running now (their index), e.g. another user's DAMON_RECLAIM or paddr monitor. */
export function runningKdamonds(files: KernelFiles = hostFiles): number[] {
  const n = Number(files.readText(`${DAMON_ADMIN}/kdamonds/nr_kdamonds`) ?? '0');
  const on: number[] = [];
  for (let i = 0; i < n; i++) if (readKdamondState(files, i) === 'on') on.push(i);
  return on;
}

/**
 * The regions of a scheme's tried_regions directory, sorted by address
 * (synchronous reads: a few syscalls each, microseconds on real hardware but
 * milliseconds under nested emulation; the thread pool's per-file overhead
 * made async reads slower). Three or four files per region: `age` only where
 * `nr_accesses` is 0. Entries without start/end (a region being torn down)
 * are skipped.
 */
export function readTriedRegions(files: KernelFiles, dir: string): DamonRegion[] {
  const out: DamonRegion[] = [];
  for (const r of files.listDir(dir)) {
    if (!/^\d+$/.test(r)) continue;
    const start = files.readAttr(`${dir}/${r}/start`);
    const end = files.readAttr(`${dir}/${r}/end`);
    if (start === undefined || end === undefined) continue;
    const nrAccesses = Number(files.readAttr(`${dir}/${r}/nr_accesses`) ?? '0');
    const age = nrAccesses > 0 ? 0 : Number(files.readAttr(`${dir}/${r}/age`) ?? '0');
    out.push({ start: BigInt(start), end: BigInt(end), nrAccesses, age });
  }
  return out.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
}

/** DAMON's sysfs stayed busy through every retry of a snapshot request: transient (another kdamond's update held its lock). */
export class DamonBusyError extends Error {}

export class DamonVaddrMonitor {
  readonly k: string;
  private readonly ctx: string;
  private running = false;
  /**
   * When kdamond began monitoring (Date.now() ms): no region's age reaches
   * back before it. Not moved by a restart (restartOrFail): a page accessed
   * before a restart and after its last clear still counts, as it did before.
   */
  startedAt = 0;
  /** How long the last snapshot waited for kdamond and spent reading sysfs (diagnostics). */
  lastSnapshotMs = { lock: 0, request: 0, read: 0 };
  /** All snapshots so far: their count, the regions they returned, and the time in each part (diagnostics). */
  readonly snapshotTotals = { snapshots: 0, regions: 0, lockMs: 0, requestMs: 0, readMs: 0 };

  private constructor(
    readonly pid: number,
    readonly attrs: DamonAttrs,
    /** The kdamond this monitor claimed. */
    readonly index: number,
    private readonly registry: DamonRegistryOptions,
  ) {
    this.k = `${DAMON_ADMIN}/kdamonds/${index}`;
    this.ctx = `${this.k}/contexts/0`;
  }

  /**
   * Claims a kdamond of its own for `pid`, sets it up and turns it on.
   * Refuses when DAMON sysfs is missing, vaddr is not built in, or no kdamond
   * is free (never touching one hmmv did not set up).
   */
  static async start(pid: number, attrs: Partial<DamonAttrs> = {}, registry: DamonRegistryOptions = {}): Promise<DamonVaddrMonitor> {
    const files = registry.files ?? hostFiles;
    if (files.readText(`${DAMON_ADMIN}/kdamonds/nr_kdamonds`) === undefined) {
      throw new Error(`DAMON sysfs interface missing (${DAMON_ADMIN}): kernel needs CONFIG_DAMON_SYSFS and CONFIG_DAMON_VADDR, and root`);
    }
    const full = { ...defaultDamonAttrs, ...attrs };
    const { index, reclaimed } = await claimSlot(pid, registry, (i) => configure(files, i, pid, full));
    const mon = new DamonVaddrMonitor(pid, full, index, registry);
    mon.reclaimed = reclaimed;
    mon.running = true;
    mon.startedAt = Date.now();
    return mon;
  }

  /**
   * The regions of the last aggregation interval, sorted by address. Waits
   * until kdamond has served the request (up to about one aggregation
   * interval); that wait is asynchronous (libuv's thread pool), so the
   * caller's event loop keeps running meanwhile.
   */
  async snapshot(): Promise<DamonRegion[]> {
    if (!this.running) throw new Error('DAMON monitor is stopped');
    if (readKdamondState(this.files, this.index) === 'off') await this.restartOrFail();
    const t0 = Date.now();
    let t1 = t0;
    // One request at a time on this host: DAMON's sysfs (6.12) keeps a single
    // global request slot and "regions updating" flag for all kdamonds. A lock
    // held by others through the whole wait is transient too (seen in a loaded
    // CI run: a manager's first snapshot waited over 30 s and the manager
    // stopped): this round has no new evidence, the next one asks again.
    await withDamonLock(this.registry.runDir ?? DEFAULT_DAMON_RUN_DIR, this.registry.requestLockTimeoutMs ?? 30_000, async () => {
      t1 = Date.now();
      // DAMON's sysfs takes its lock with a trylock and answers EBUSY while kdamond
      // (or another sysfs writer) holds it: a transient refusal, so retry briefly.
      for (let attempt = 1; ; attempt++) {
        try {
          await writeFile(this.files.path(`${this.k}/state`), 'update_schemes_tried_regions');
          return;
        } catch (err) {
          const busy = (err as NodeJS.ErrnoException).code === 'EBUSY';
          if (!busy || attempt >= SNAPSHOT_BUSY_RETRIES) {
            const tries = busy ? ` (busy ${attempt} times)` : '';
            const message = `asking DAMON for its regions (${this.k}/state) failed${tries}: ${(err as Error).message}`;
            throw busy ? new DamonBusyError(message) : new Error(message);
          }
          await sleep(SNAPSHOT_BUSY_BACKOFF_MS * attempt);
        }
      }
    }, 'request.lock').catch((err: unknown) => {
      throw err instanceof DamonLockTimeoutError ? new DamonBusyError(`asking DAMON for its regions (${this.k}): ${err.message}`) : err;
    });
    // Read outside the lock: this kdamond's tried_regions directory changes only
    // at its own next request (this manager's, one at a time), never at another
    // kdamond's, so other managers' requests need not wait for this read.
    const t2 = Date.now();
    const out = readTriedRegions(this.files, `${this.ctx}/schemes/0/tried_regions`);
    this.lastSnapshotMs = { lock: t1 - t0, request: t2 - t1, read: Date.now() - t2 };
    const t = this.snapshotTotals;
    t.snapshots++;
    t.regions += out.length;
    t.lockMs += this.lastSnapshotMs.lock;
    t.requestMs += this.lastSnapshotMs.request;
    t.readMs += this.lastSnapshotMs.read;
    return out;
  }

  /** kdamonds of dead managers this start reclaimed (for the log). */
  reclaimed: readonly string[] = [];
  /** Times this kdamond stopped while its target lived and was turned on again. */
  restarts = 0;
  private lastRestartAt = 0;

  /**
   * The kdamond is off. If its target exited, that is the end. If the target
   * lives and the kdamond is still as we set it up, it was stopped under us
   * (seen on 6.12 with several kdamonds): turn it on again, at most once per
   * 5 s, and say so in `restarts`.
   */
  private async restartOrFail(): Promise<void> {
    const alive = hostFiles.exists(`/proc/${this.pid}`);
    const targetNow = this.files.readText(`${this.ctx}/targets/0/pid_target`);
    if (!alive || targetNow !== String(this.pid)) {
      this.running = false;
      throw new Error(alive ? `DAMON kdamond ${this.index} was turned off and reconfigured by someone else (target now ${targetNow ?? 'none'})` : `DAMON kdamond stopped: target process ${this.pid} exited`);
    }
    if (Date.now() - this.lastRestartAt < 5000) {
      this.running = false;
      throw new Error(`DAMON kdamond ${this.index} keeps stopping although process ${this.pid} lives (restarted ${this.restarts} times)`);
    }
    this.lastRestartAt = Date.now();
    this.restarts++;
    await writeDamon(this.files, `${this.k}/state`, 'on');
  }

  private get files(): KernelFiles {
    return this.registry.files ?? hostFiles;
  }

  /** Turns the kdamond off and gives the slot back (see releaseSlot). */
  async stop(): Promise<void> {
    if (!this.running && this.released) return;
    this.running = false;
    this.released = true;
    await releaseSlot(this.index, this.registry);
  }

  private released = false;
}

/** Sets kdamond `index` up for vaddr monitoring of `pid` with a stat scheme over every region, and turns it on. */
async function configure(files: KernelFiles, index: number, pid: number, a: DamonAttrs): Promise<void> {
  const k = `${DAMON_ADMIN}/kdamonds/${index}`;
  const ctx = `${k}/contexts/0`;
  const w = (path: string, value: string) => writeDamon(files, path, value);
  await w(`${k}/contexts/nr_contexts`, '1');
  const avail = files.readText(`${ctx}/avail_operations`) ?? '';
  if (!avail.split(/\s+/).includes('vaddr')) {
    throw new Error(`DAMON virtual-address monitoring is not built in (avail_operations: "${avail}"): kernel needs CONFIG_DAMON_VADDR`);
  }
  await w(`${ctx}/operations`, 'vaddr');
  const mon = `${ctx}/monitoring_attrs`;
  await w(`${mon}/intervals/sample_us`, String(a.sampleUs));
  await w(`${mon}/intervals/aggr_us`, String(a.aggrUs));
  await w(`${mon}/intervals/update_us`, String(a.updateUs));
  await w(`${mon}/nr_regions/max`, String(a.maxRegions));
  await w(`${mon}/nr_regions/min`, String(a.minRegions));
  await w(`${ctx}/targets/nr_targets`, '1');
  await w(`${ctx}/targets/0/pid_target`, String(pid));
  await w(`${ctx}/schemes/nr_schemes`, '1');
  const s = `${ctx}/schemes/0`;
  await w(`${s}/action`, 'stat');
  const max = '18446744073709551615';
  for (const key of ['sz', 'nr_accesses', 'age']) {
    await w(`${s}/access_pattern/${key}/max`, key === 'sz' ? max : '4294967295');
    await w(`${s}/access_pattern/${key}/min`, '0');
  }
  await w(`${k}/state`, 'on');
}
