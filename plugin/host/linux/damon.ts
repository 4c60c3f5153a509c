/**
 * DAMON virtual-address monitoring through its sysfs interface
 * (/sys/kernel/mm/damon/admin, Documentation/admin-guide/mm/damon/usage.rst).
 * One kdamond with one vaddr context watches the target pid; a "stat" scheme
 * that matches every region lets us ask for a snapshot of the regions with
 * their access counts (update_schemes_tried_regions), which is the sysfs way
 * to read monitoring results.
 *
 * DAMON samples one page per region per sampling interval and adapts the
 * regions (split/merge) so that pages in a region share a pattern; region
 * counts are evidence for every page of the region, not per-page truth.
 */
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostFiles, readText, writeText, type KernelFiles } from './sysfs.js';

/** EBUSY retries of a snapshot request, backing off 20, 40, 60 ... ms (about 2 s in all). */
const SNAPSHOT_BUSY_RETRIES = 14;
const SNAPSHOT_BUSY_BACKOFF_MS = 20;

export const DAMON_ADMIN = '/sys/kernel/mm/damon/admin';

export interface DamonAttrs {
  sampleUs: number;
  aggrUs: number;
  updateUs: number;
  minRegions: number;
  maxRegions: number;
}

export const defaultDamonAttrs: DamonAttrs = { sampleUs: 5000, aggrUs: 100_000, updateUs: 1_000_000, minRegions: 200, maxRegions: 4000 };

export interface DamonRegion {
  readonly start: bigint;
  readonly end: bigint;
  /** Samples (of aggrUs/sampleUs) in the last aggregation interval that found the region accessed. */
  readonly nrAccesses: number;
  /** Aggregation intervals the region has kept its access pattern. */
  readonly age: number;
}

/** Kdamonds that are running now (their index), e.g. another user's DAMON_RECLAIM or paddr monitor. */
export function runningKdamonds(files: KernelFiles = hostFiles): number[] {
  const n = Number(files.readText(`${DAMON_ADMIN}/kdamonds/nr_kdamonds`) ?? '0');
  const on: number[] = [];
  for (let i = 0; i < n; i++) if (files.readText(`${DAMON_ADMIN}/kdamonds/${i}/state`) === 'on') on.push(i);
  return on;
}

/**
 * The regions of a scheme's tried_regions directory, sorted by address
 * (synchronous reads: a few syscalls each, microseconds on real hardware; the
 * thread pool's per-file overhead made async reads slower). Entries without
 * start/end (a region being torn down) are skipped.
 */
export function readTriedRegions(files: KernelFiles, dir: string): DamonRegion[] {
  const out: DamonRegion[] = [];
  for (const r of files.listDir(dir)) {
    if (!/^\d+$/.test(r)) continue;
    const start = files.readAttr(`${dir}/${r}/start`);
    const end = files.readAttr(`${dir}/${r}/end`);
    if (start === undefined || end === undefined) continue;
    out.push({ start: BigInt(start), end: BigInt(end), nrAccesses: Number(files.readAttr(`${dir}/${r}/nr_accesses`) ?? '0'), age: Number(files.readAttr(`${dir}/${r}/age`) ?? '0') });
  }
  return out.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
}

export class DamonVaddrMonitor {
  readonly k = `${DAMON_ADMIN}/kdamonds/0`;
  private readonly ctx = `${DAMON_ADMIN}/kdamonds/0/contexts/0`;
  private running = false;
  /** How long the last snapshot waited for kdamond and spent reading sysfs (diagnostics). */
  lastSnapshotMs = { request: 0, read: 0 };

  private constructor(
    readonly pid: number,
    readonly attrs: DamonAttrs,
  ) {}

  /**
   * Sets up kdamond 0 for `pid` and turns it on. Refuses when DAMON sysfs is
   * missing, vaddr is not built in, or another kdamond runs (DAMON sysfs
   * cannot add a kdamond while one runs, and we do not stop someone else's).
   */
  static start(pid: number, attrs: Partial<DamonAttrs> = {}): DamonVaddrMonitor {
    if (readText(`${DAMON_ADMIN}/kdamonds/nr_kdamonds`) === undefined) {
      throw new Error(`DAMON sysfs interface missing (${DAMON_ADMIN}): kernel needs CONFIG_DAMON_SYSFS and CONFIG_DAMON_VADDR, and root`);
    }
    const busy = runningKdamonds();
    if (busy.length > 0) {
      throw new Error(`DAMON is in use: kdamond ${busy.join(',')} is running (state "on" under ${DAMON_ADMIN}/kdamonds); hmmv needs its own kdamond`);
    }
    const mon = new DamonVaddrMonitor(pid, { ...defaultDamonAttrs, ...attrs });
    mon.configure();
    return mon;
  }

  private configure(): void {
    const a = this.attrs;
    writeText(`${DAMON_ADMIN}/kdamonds/nr_kdamonds`, '1');
    writeText(`${this.k}/contexts/nr_contexts`, '1');
    const avail = readText(`${this.ctx}/avail_operations`) ?? '';
    if (!avail.split(/\s+/).includes('vaddr')) {
      writeText(`${DAMON_ADMIN}/kdamonds/nr_kdamonds`, '0');
      throw new Error(`DAMON virtual-address monitoring is not built in (avail_operations: "${avail}"): kernel needs CONFIG_DAMON_VADDR`);
    }
    writeText(`${this.ctx}/operations`, 'vaddr');
    const mon = `${this.ctx}/monitoring_attrs`;
    writeText(`${mon}/intervals/sample_us`, String(a.sampleUs));
    writeText(`${mon}/intervals/aggr_us`, String(a.aggrUs));
    writeText(`${mon}/intervals/update_us`, String(a.updateUs));
    writeText(`${mon}/nr_regions/max`, String(a.maxRegions));
    writeText(`${mon}/nr_regions/min`, String(a.minRegions));
    writeText(`${this.ctx}/targets/nr_targets`, '1');
    writeText(`${this.ctx}/targets/0/pid_target`, String(this.pid));
    writeText(`${this.ctx}/schemes/nr_schemes`, '1');
    const s = `${this.ctx}/schemes/0`;
    writeText(`${s}/action`, 'stat');
    const max = '18446744073709551615';
    for (const key of ['sz', 'nr_accesses', 'age']) {
      writeText(`${s}/access_pattern/${key}/max`, key === 'sz' ? max : '4294967295');
      writeText(`${s}/access_pattern/${key}/min`, '0');
    }
    writeText(`${this.k}/state`, 'on');
    this.running = true;
  }

  /**
   * The regions of the last aggregation interval, sorted by address. Waits
   * until kdamond has served the request (up to about one aggregation
   * interval); that wait is asynchronous (libuv's thread pool), so the
   * caller's event loop keeps running meanwhile.
   */
  async snapshot(): Promise<DamonRegion[]> {
    if (!this.running) throw new Error('DAMON monitor is stopped');
    if (readText(`${this.k}/state`) !== 'on') {
      this.running = false;
      throw new Error(`DAMON kdamond stopped by itself (target process ${this.pid} exited?)`);
    }
    const t0 = Date.now();
    // DAMON's sysfs takes its lock with a trylock and answers EBUSY while kdamond
    // (or another sysfs writer) holds it: a transient refusal, so retry briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        await writeFile(`${this.k}/state`, 'update_schemes_tried_regions');
        break;
      } catch (err) {
        const busy = (err as NodeJS.ErrnoException).code === 'EBUSY';
        if (!busy || attempt >= SNAPSHOT_BUSY_RETRIES) {
          const tries = busy ? ` (busy ${attempt} times)` : '';
          throw new Error(`asking DAMON for its regions (${this.k}/state) failed${tries}: ${(err as Error).message}`);
        }
        await sleep(SNAPSHOT_BUSY_BACKOFF_MS * attempt);
      }
    }
    const t1 = Date.now();
    const out = readTriedRegions(hostFiles, `${this.ctx}/schemes/0/tried_regions`);
    this.lastSnapshotMs = { request: t1 - t0, read: Date.now() - t1 };
    return out;
  }

  stop(): void {
    if (readText(`${this.k}/state`) === 'on') writeText(`${this.k}/state`, 'off');
    this.running = false;
    writeText(`${DAMON_ADMIN}/kdamonds/nr_kdamonds`, '0');
  }
}
