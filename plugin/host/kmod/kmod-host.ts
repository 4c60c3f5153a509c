/**
 * The `kmod` memory host: one hmmv.ko region that QEMU maps as the guest's
 * RAM (memory-backend-file on /dev/hmmv/NAME). Page i of the engine is page
 * i of the region. Every call is one or a few ioctls on the control device:
 *
 *   testAndClearAccessed   ACCESSED: per-page bits from faults, cleared by
 *                          unmapping (honest TLB shootdown, KVM-safe)
 *   drainDirtyLog          DRAIN + re-arm: per-thread 512-entry write logs
 *   testAndClearDirty      DIRTY: the exact full scan after an overflow
 *   migrate                MIGRATE: copy while the guest runs, recopy,
 *                          pause only for the switch (batches of 4096)
 *   readTierMap, tierUsage READ_TIERS, REGION_INFO, SOURCES, node meminfo
 *
 * Bitmaps are copied to and from native memory once per call: O(pages / 32)
 * word copies, beside the kernel's own O(pages / 64) word operations.
 * Migration has its own control file, so a long batch never delays a scan
 * round (the module serializes calls per file, not per region).
 */
import { readFileSync } from 'node:fs';
import type { Bitmap } from '../../util/bitmap.js';
import { MigrationOutcome, Tier, type DirtyLogDrain, type GuestRamRegion, type MemoryHost, type MigrationResult, type TierUsage } from '../memory-host.js';
import { IOC, LOG_ENTRIES, MAX_THREADS, MIG_ALREADY, MIG_BUSY, MIG_MOVED, NvmKind, PAGE_SIZE, SIZE, TIER_DRAM, TIER_NVM } from './abi.js';
import { KmodControl, NativeBuffer, migrateFailure, type RegionInfo } from './control.js';

const MIGRATE_BATCH = 4096;
const ENOENT = 2;

export interface KmodHostOptions {
  /** The region's name (/dev/hmmv/NAME). */
  region: string;
  vcpuCount: number;
  /** When given, the region must be mapped by this process (QEMU). */
  expectMapperPid?: number;
  /** Recopies per page before a page written during every copy is reported busy. */
  maxRecopies?: number;
  /** For tests: another control device path. */
  controlPath?: string;
}

export class KmodMemoryHost implements MemoryHost {
  readonly kind = 'kmod';
  readonly pageSizeBytes = PAGE_SIZE;
  readonly pageCount: number;
  readonly vcpuCount: number;
  private readonly scanBuf: NativeBuffer;
  private readonly outBuf: NativeBuffer;
  private readonly logPages = new NativeBuffer(MAX_THREADS * LOG_ENTRIES * 4);
  private readonly logThreads = new NativeBuffer(MAX_THREADS * SIZE.threadLog);
  private readonly migPages = new NativeBuffer(MIGRATE_BATCH * 4);
  private readonly migStatus = new NativeBuffer(MIGRATE_BATCH * 4);
  private readonly region: GuestRamRegion;

  private constructor(
    private readonly track: KmodControl,
    private readonly mig: KmodControl,
    readonly info: RegionInfo,
    private readonly opts: KmodHostOptions,
  ) {
    this.pageCount = info.pages;
    this.vcpuCount = opts.vcpuCount;
    this.scanBuf = new NativeBuffer(info.pages / 8);
    this.outBuf = new NativeBuffer(info.pages / 8);
    this.region = { name: info.name, firstPage: 0, pageCount: info.pages, hostVirtAddr: info.mapStart };
  }

  /** Attaches to an existing region; refuses one that is not mapped (by the expected QEMU). */
  static open(opts: KmodHostOptions): KmodMemoryHost {
    const track = KmodControl.open(opts.controlPath);
    let mig: KmodControl | undefined;
    try {
      track.attach(opts.region);
      const info = track.info();
      if (!info.mapped) throw new Error(`region '${opts.region}' is not mapped: QEMU maps it as guest RAM when the domain starts (memory-backend-file,mem-path=/dev/hmmv/${opts.region},share=on)`);
      if (opts.expectMapperPid !== undefined && info.mapperPid !== opts.expectMapperPid) {
        throw new Error(`region '${opts.region}' is mapped by process ${info.mapperPid}, not by this domain's QEMU (pid ${opts.expectMapperPid})`);
      }
      mig = KmodControl.open(opts.controlPath);
      mig.attach(opts.region);
      return new KmodMemoryHost(track, mig, info, opts);
    } catch (err) {
      track.close();
      mig?.close();
      throw err;
    }
  }

  regions(): readonly GuestRamRegion[] {
    return [this.region];
  }

  async readTierMap(out: Bitmap): Promise<void> {
    await this.track.pageBits(IOC.READ_TIERS, 0, this.pageCount, null, this.outBuf);
    out.set(this.outBuf.u32().subarray(0, out.length));
  }

  private async testAndClear(req: number, scan: Bitmap, result: Bitmap): Promise<number> {
    this.scanBuf.u32().set(scan.subarray(0, this.pageCount >>> 5));
    const scanned = await this.track.pageBits(req, 0, this.pageCount, this.scanBuf, this.outBuf);
    orInto(result, this.outBuf.u32());
    return scanned;
  }

  testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> {
    return this.testAndClear(IOC.ACCESSED, scan, accessed);
  }

  testAndClearDirty(scan: Bitmap, dirty: Bitmap): Promise<number> {
    return this.testAndClear(IOC.DIRTY, scan, dirty);
  }

  async drainDirtyLog(): Promise<DirtyLogDrain> {
    const d = await this.track.drain(this.logPages, this.logThreads, true);
    const pages = this.logPages.u32().slice(0, d.count);
    const threads = new Uint32Array(this.logThreads.bytes, 0, d.nthreads * 4);
    let full = 0;
    for (let t = 0; t < d.nthreads; t++) if ((threads[t * 4 + 2]! & 1) !== 0) full++;
    return { pages, count: d.count, overflowed: d.overflowed, bufferFullExits: full };
  }

  async migrate(pages: Uint32Array, target: Tier, signal?: AbortSignal): Promise<MigrationResult> {
    const outcome = new Uint8Array(pages.length);
    const failures: { index: number; reason: string }[] = [];
    const tally = { moved: 0, busy: 0, failed: 0, absent: 0, bytesCopied: 0, recopies: 0, pauseNs: 0, maxPauseNs: 0 };
    const status = this.migStatus.i32();
    const list = this.migPages.u32();
    for (let at = 0; at < pages.length; at += MIGRATE_BATCH) {
      const n = Math.min(MIGRATE_BATCH, pages.length - at);
      if (signal?.aborted) {
        // Not tried: busy, as the contract says (they stay where they are).
        outcome.fill(MigrationOutcome.Busy, at);
        tally.busy += pages.length - at;
        break;
      }
      list.set(pages.subarray(at, at + n));
      const t = await this.mig.migrate(this.migPages, this.migStatus, n, target === Tier.NVM ? TIER_NVM : TIER_DRAM, this.opts.maxRecopies ?? 2);
      let absent = 0;
      for (let i = 0; i < n; i++) {
        const s = status[i]!;
        if (s === MIG_MOVED) outcome[at + i] = MigrationOutcome.Moved;
        else if (s === MIG_ALREADY) outcome[at + i] = MigrationOutcome.AlreadyThere;
        else if (s === MIG_BUSY) outcome[at + i] = MigrationOutcome.Busy;
        else if (s === -ENOENT) {
          // never touched (the module allocates a frame at first touch), or the region has no mapper
          // (its QEMU is gone: the manager stops on the QMP socket's close): nothing to move
          outcome[at + i] = MigrationOutcome.Absent;
          absent++;
        } else {
          outcome[at + i] = MigrationOutcome.Failed;
          failures.push({ index: at + i, reason: migrateFailure(s) });
        }
      }
      tally.moved += t.moved;
      tally.busy += t.busy;
      // the module counts an absent page among its failures
      tally.failed += t.failed - absent;
      tally.absent += absent;
      tally.bytesCopied += t.bytesCopied;
      tally.recopies += t.recopies;
      tally.pauseNs += t.pauseNs;
      tally.maxPauseNs = Math.max(tally.maxPauseNs, t.maxPauseNs);
    }
    return { outcome, failures, ...tally };
  }

  async tierUsage(): Promise<readonly TierUsage[]> {
    const info = this.track.info();
    const dram = nodeMemory(info.dramNode);
    let nvm = { capacityPages: 0, usedPages: 0 };
    if (info.nvmKind === NvmKind.Node) nvm = nodeMemory(info.nvmNode);
    else if (info.nvmKind === NvmKind.Dax) {
      const sources = this.track.sources().sources;
      // A region uses one source; with several claimed, count them all (the host's NVM for VMs).
      nvm = { capacityPages: sources.reduce((s, x) => s + x.pages, 0), usedPages: sources.reduce((s, x) => s + x.pages - x.freePages, 0) };
    }
    return [
      { tier: Tier.DRAM, name: `dram (node ${info.dramNode})`, ...dram, vmPages: info.dramPages },
      { tier: Tier.NVM, name: info.nvmKind === NvmKind.Dax ? 'nvm (devdax)' : `nvm (node ${info.nvmNode})`, ...nvm, vmPages: info.nvmPages },
    ];
  }

  async close(): Promise<void> {
    this.track.close();
    this.mig.close();
    for (const b of [this.scanBuf, this.outBuf, this.logPages, this.logThreads, this.migPages, this.migStatus]) b.free();
  }
}

function orInto(result: Bitmap, bits: Uint32Array): void {
  const n = Math.min(result.length, bits.length);
  for (let w = 0; w < n; w++) {
    const x = bits[w]!;
    if (x !== 0) result[w] = result[w]! | x;
  }
}

/** A NUMA node's size and use in 4 KiB pages, from sysfs. */
function nodeMemory(node: number): { capacityPages: number; usedPages: number } {
  try {
    const text = readFileSync(`/sys/devices/system/node/node${node}/meminfo`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
    const total = kib('MemTotal') / 4;
    return { capacityPages: total, usedPages: total - kib('MemFree') / 4 };
  } catch {
    return { capacityPages: 0, usedPages: 0 };
  }
}
