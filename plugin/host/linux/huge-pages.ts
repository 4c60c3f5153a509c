/**
 * Where guest RAM is backed by 2 MiB pages (transparent huge pages, or 2 MiB
 * hugetlbfs pages), as 512-page units in the backend's page numbering.
 *
 * Where: the PAGEMAP_SCAN ioctl on /proc/PID/pagemap (Linux 6.7+) returns the
 * address ranges whose pages are mapped by a PMD (category PAGE_IS_HUGE), in
 * one page-table walk, without PFNs (no CAP_SYS_ADMIN needed) and without
 * write-protecting or splitting anything (no PM_SCAN_WP_MATCHING).
 * How much: smaps (smaps.ts) is the cross-check.
 *
 * Cost: one ioctl per guest-RAM range (more only when a range has more than
 * VEC_LEN separate huge runs), then O(units) to number them.
 */
import { loadLibc } from './libc.js';
import type { PagedRange } from './damon-evidence.js';

export const HUGE_PAGE_BYTES = 2 << 20;
const PAGE = 4096;
export const PAGES_PER_HUGE_PAGE = HUGE_PAGE_BYTES / PAGE;

const SYS_IOCTL = 16; // x86-64
/** _IOWR('f', 16, struct pm_scan_arg): 96-byte argument. */
const PAGEMAP_SCAN = 0xc0606610;
const PAGE_IS_PRESENT = 1n << 3n;
const PAGE_IS_HUGE = 1n << 6n;
const ARG_BYTES = 96;
/** page_region entries per ioctl: runs of huge pages are merged, so few are needed. */
const VEC_LEN = 1024;
const ENOTTY = 25;
const EINVAL = 22;

export interface AddressRange {
  readonly start: bigint;
  readonly end: bigint;
}

type IoctlFn = (nr: number, fd: number, request: number, arg: Buffer) => number;
let ioctl: IoctlFn | undefined;

/** Thrown when this kernel has no PAGEMAP_SCAN (before 6.7): huge pages cannot be located. */
export class PagemapScanUnsupported extends Error {}

/**
 * The present, PMD-mapped ranges within [start, end) of the process whose
 * pagemap is open as `fd`, merged, in address order.
 */
export function scanHugeRanges(fd: number, start: bigint, end: bigint): AddressRange[] {
  const libc = loadLibc();
  ioctl ??= libc.lib.func('long syscall(long nr, int fd, unsigned long request, void *arg)') as IoctlFn;
  const vec = libc.koffi.alloc('uint64', VEC_LEN * 3);
  try {
    const vecAddr = libc.koffi.address(vec);
    const regions = new BigUint64Array(libc.koffi.view(vec, VEC_LEN * 24));
    const arg = Buffer.alloc(ARG_BYTES);
    const out: AddressRange[] = [];
    for (let from = start; from < end; ) {
      arg.fill(0);
      arg.writeBigUInt64LE(BigInt(ARG_BYTES), 0); // size
      arg.writeBigUInt64LE(from, 16); // start
      arg.writeBigUInt64LE(end, 24); // end
      arg.writeBigUInt64LE(vecAddr, 40); // vec
      arg.writeBigUInt64LE(BigInt(VEC_LEN), 48); // vec_len
      arg.writeBigUInt64LE(PAGE_IS_HUGE | PAGE_IS_PRESENT, 72); // category_mask: all of these
      arg.writeBigUInt64LE(PAGE_IS_HUGE | PAGE_IS_PRESENT, 88); // return_mask
      const n = ioctl(SYS_IOCTL, fd, PAGEMAP_SCAN, arg);
      if (n < 0) {
        const errno = libc.errno();
        if (errno === ENOTTY || errno === EINVAL) throw new PagemapScanUnsupported(`PAGEMAP_SCAN is not supported by this kernel (errno ${errno}; Linux 6.7+)`);
        throw new Error(`PAGEMAP_SCAN of 0x${from.toString(16)}-0x${end.toString(16)} failed: errno ${errno}`);
      }
      for (let k = 0; k < n; k++) {
        const s = regions[3 * k]!;
        const e = regions[3 * k + 1]!;
        const last = out[out.length - 1];
        if (last && last.end === s) out[out.length - 1] = { start: last.start, end: e };
        else out.push({ start: s, end: e });
      }
      const walkEnd = arg.readBigUInt64LE(32);
      if (walkEnd <= from) break; // no progress: the kernel says it is done
      from = walkEnd;
    }
    return out;
  } finally {
    libc.koffi.free(vec);
  }
}

/**
 * The first page index of every 2 MiB unit: each 2 MiB-aligned block of the
 * target's address space that lies wholly inside one huge range and one
 * guest-RAM range. Ascending when `ranges` are in page order. Pure.
 */
export function unitsFromHugeRanges(huge: readonly AddressRange[], ranges: readonly PagedRange[]): Uint32Array {
  const units: number[] = [];
  const H = BigInt(HUGE_PAGE_BYTES);
  for (const g of ranges) {
    const gEnd = g.hostVirtAddr + BigInt(g.pageCount * PAGE);
    for (const h of huge) {
      const lo = h.start > g.hostVirtAddr ? h.start : g.hostVirtAddr;
      const hi = h.end < gEnd ? h.end : gEnd;
      for (let a = ((lo + H - 1n) / H) * H; a + H <= hi; a += H) units.push(g.firstPage + Number((a - g.hostVirtAddr) / BigInt(PAGE)));
    }
  }
  return Uint32Array.from(units);
}
