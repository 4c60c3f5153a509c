/**
 * /proc/PID/pagemap: one 64-bit entry per virtual page of the target. Read in
 * large preads straight into typed arrays; entries are kept as pairs of 32-bit
 * words (low, high) so the hot loops never build a BigInt per page.
 * Flag bits (Documentation/admin-guide/mm/pagemap.rst), in the HIGH word:
 *   63 present -> bit 31, 62 swapped -> bit 30, 61 file/shared-anon -> bit 29,
 *   56 exclusively mapped -> bit 24, 55 soft-dirty -> bit 23.
 * The PFN (bits 0-54) is zeroed for callers without CAP_SYS_ADMIN.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { writeText } from './sysfs.js';

export const PM_HI_PRESENT = 1 << 31;
export const PM_HI_SWAPPED = 1 << 30;
export const PM_HI_FILE = 1 << 29;
export const PM_HI_EXCLUSIVE = 1 << 24;
export const PM_HI_SOFT_DIRTY = 1 << 23;

/** Pages per pread: 64 Ki entries = 512 KiB. */
const CHUNK_PAGES = 1 << 16;

export class PagemapReader {
  private descriptor: number;
  private readonly buf = Buffer.allocUnsafe(CHUNK_PAGES * 8);

  constructor(readonly pid: number) {
    try {
      this.descriptor = openSync(`/proc/${pid}/pagemap`, 'r');
    } catch (err) {
      throw new Error(`cannot open /proc/${pid}/pagemap: ${(err as Error).message} (needs the same user or CAP_SYS_PTRACE)`);
    }
  }

  /**
   * Calls fn(i, hi, lo) for pages i = 0..count-1 starting at virtual address
   * `start` (page aligned), with the entry's high and low 32-bit words.
   */
  scan(start: bigint, count: number, pageSize: number, fn: (i: number, hi: number, lo: number) => void): void {
    const words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, CHUNK_PAGES * 2);
    const firstEntry = Number(start / BigInt(pageSize));
    for (let done = 0; done < count; ) {
      const n = Math.min(CHUNK_PAGES, count - done);
      const want = n * 8;
      let got = 0;
      while (got < want) {
        const r = readSync(this.descriptor, this.buf, got, want - got, (firstEntry + done) * 8 + got);
        if (r === 0) throw new Error(`short read of /proc/${this.pid}/pagemap (process exited?)`);
        got += r;
      }
      for (let k = 0; k < n; k++) fn(done + k, words[2 * k + 1]!, words[2 * k]!);
      done += n;
    }
  }

  /** The open pagemap file (for the PAGEMAP_SCAN ioctl). */
  get fd(): number {
    if (this.descriptor < 0) throw new Error(`/proc/${this.pid}/pagemap is closed`);
    return this.descriptor;
  }

  close(): void {
    if (this.descriptor >= 0) closeSync(this.descriptor);
    this.descriptor = -1;
  }
}

/**
 * Clears the soft-dirty bit of every page of the process (and write-protects
 * them so the next write sets it again). There is no per-range form: callers
 * that need "leave other pages alone" must harvest all bits first.
 */
export function clearSoftDirty(pid: number): void {
  writeText(`/proc/${pid}/clear_refs`, '4');
}
