/**
 * hmmv.ko's user interface (kmod/uapi/hmmv.h, ABI 1) mirrored for TypeScript:
 * constants, ioctl numbers and the byte layout of every argument struct
 * (x86-64, little endian). test/host/kmod/abi.test.ts compiles the C header
 * and checks every size, offset and number here against it.
 */

export const ABI_VERSION = 1;
export const CONTROL_NODE = '/dev/hmmv/control';
export const REGION_DIR = '/dev/hmmv/';
export const NAME_MAX = 64;
export const SOURCE_NAME_MAX = 32;
export const PAGE_SIZE = 4096;
export const LOG_ENTRIES = 512;
export const MAX_THREADS = 64;
export const HUGE_SHIFT = 9;

export const TIER_DRAM = 0;
export const TIER_NVM = 1;
export const NvmKind = { None: 0, Node: 1, Dax: 2 } as const;
export const FirstTouch = { DramFirst: 0, Dram: 1, Nvm: 2 } as const;

export const REGION_MAPPED = 1 << 0;
export const REGION_DESTROYED = 1 << 1;
export const TIERS_PRESENT = 1 << 0;
export const LOG_OVERFLOW = 1 << 0;
export const DRAIN_REARM = 1 << 8;
export const MIG_MOVED = 0;
export const MIG_ALREADY = 1;
export const MIG_BUSY = 2;

const IOC_MAGIC = 0xb7;
const ioc = (dir: number, nr: number, size: number): number => ((dir << 30) | (size << 16) | (IOC_MAGIC << 8) | nr) >>> 0;
const W = 1; // _IOC_WRITE: user -> kernel
const R = 2; // _IOC_READ: kernel -> user

/** Argument sizes in bytes. */
export const SIZE = {
  hello: 24,
  sources: 24,
  sourceInfo: 64,
  regionCreate: 144,
  regionName: 64,
  regionInfo: 176,
  pageBits: 48,
  threadLog: 16,
  drain: 40,
  migrate: 96,
} as const;

export const IOC = {
  HELLO: ioc(R | W, 0x00, SIZE.hello),
  SOURCES: ioc(R | W, 0x01, SIZE.sources),
  REGION_CREATE: ioc(W, 0x10, SIZE.regionCreate),
  REGION_ATTACH: ioc(W, 0x11, SIZE.regionName),
  REGION_DESTROY: ioc(W, 0x12, SIZE.regionName),
  REGION_INFO: ioc(R, 0x13, SIZE.regionInfo),
  READ_TIERS: ioc(R | W, 0x20, SIZE.pageBits),
  ACCESSED: ioc(R | W, 0x21, SIZE.pageBits),
  DIRTY: ioc(R | W, 0x22, SIZE.pageBits),
  WP_ARM: ioc(R | W, 0x23, SIZE.pageBits),
  DRAIN: ioc(R | W, 0x24, SIZE.drain),
  MIGRATE: ioc(R | W, 0x30, SIZE.migrate),
} as const;

/** Field offsets, by struct. */
export const OFF = {
  hello: { abiVersion: 0, features: 4, pageSize: 8, logEntries: 12, maxThreads: 16, regions: 20 },
  sources: { sources: 0, max: 8, count: 12, regions: 16 },
  sourceInfo: { name: 0, start: 32, pages: 40, freePages: 48, regions: 56 },
  regionCreate: { name: 0, size: 64, dramLimitPages: 72, daxStart: 80, daxSize: 88, daxName: 96, dramNode: 128, nvmNode: 132, nvmKind: 136, firstTouch: 140 },
  regionInfo: {
    name: 0, size: 64, pages: 72, dramPages: 80, nvmPages: 88, mapStart: 96, dramLimitPages: 104, faults: 112, firstTouches: 120,
    writeFaults: 128, logFull: 136, mapperPid: 144, flags: 148, dramNode: 152, nvmNode: 156, nvmKind: 160, firstTouch: 164, threads: 168,
  },
  pageBits: { first: 0, count: 8, in: 16, out: 24, unitShift: 32, flags: 36, result: 40 },
  threadLog: { tid: 0, count: 4, flags: 8, offset: 12 },
  drain: { pages: 0, threads: 8, maxPages: 16, maxThreads: 20, count: 24, nthreads: 28, flags: 32, full: 36 },
  migrate: {
    pages: 0, status: 8, count: 16, target: 20, maxRecopies: 24, flags: 28, moved: 32, already: 40, busy: 48, failed: 56,
    bytesCopied: 64, recopies: 72, pauseNs: 80, maxPauseNs: 88,
  },
} as const;

/** Region names the module accepts: [A-Za-z0-9_.+-], not starting with '.', not "control". */
export function validRegionName(name: string): boolean {
  return name.length > 0 && name.length < NAME_MAX && /^[A-Za-z0-9_+-][A-Za-z0-9_.+-]*$/.test(name) && name !== 'control';
}
