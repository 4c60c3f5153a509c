/**
 * The control device /dev/hmmv/control through koffi: ioctl(2) from libc on
 * argument structs packed by hand (abi.ts) in memory koffi allocated, so the
 * kernel and a koffi worker thread see stable addresses. Long calls (page
 * sets, drains, migrations) run on koffi's worker threads (ioctl.async) so
 * the manager's event loop keeps serving QMP and the pool meanwhile. One call
 * at a time per control file (the module serializes them anyway): open one
 * KmodControl for tracking and another for migration.
 */
import { closeSync, openSync } from 'node:fs';
import { loadLibc } from '../linux/libc.js';
import { ABI_VERSION, CONTROL_NODE, IOC, NAME_MAX, OFF, SIZE, SOURCE_NAME_MAX } from './abi.js';

const errnoNames: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV',
  22: 'EINVAL', 25: 'ENOTTY', 28: 'ENOSPC', 71: 'EPROTO', 77: 'EBADFD', 93: 'EPROTONOSUPPORT',
};

export class KmodError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
    this.name = 'KmodError';
  }
}

/** How to get the module when it is not there (the probe and the errors say it). */
export const HOW_TO_LOAD =
  "build and load it with DKMS (as root, in hmmv's folder: dkms add ./kmod && dkms install hmmv/1.0 && modprobe hmmv; needs the kernel's headers), or try it once: make -C kmod && insmod kmod/hmmv.ko";

export interface HelloInfo {
  abiVersion: number;
  features: number;
  pageSize: number;
  logEntries: number;
  maxThreads: number;
  regions: number;
}

export interface SourceInfo {
  name: string;
  start: bigint;
  pages: number;
  freePages: number;
  regions: number;
}

export interface RegionSpec {
  name: string;
  sizeBytes: number;
  /** First touch fills DRAM up to this many pages, then NVM. */
  dramLimitPages: number;
  dramNode?: number;
  nvm: { kind: 'dax'; name: string; start: bigint; sizeBytes: number } | { kind: 'node'; node: number } | { kind: 'none' };
}

export interface RegionInfo {
  name: string;
  sizeBytes: number;
  pages: number;
  dramPages: number;
  nvmPages: number;
  mapStart: bigint;
  dramLimitPages: number;
  faults: number;
  firstTouches: number;
  writeFaults: number;
  logFull: number;
  mapperPid: number;
  mapped: boolean;
  destroyed: boolean;
  dramNode: number;
  nvmNode: number;
  nvmKind: number;
  threads: number;
}

type Pointer = unknown;
type IoctlFn = ((fd: number, req: number, arg: Pointer) => number) & {
  async: (fd: number, req: number, arg: Pointer, cb: (err: unknown, res: number) => void) => void;
};

interface Binding {
  ioctl: IoctlFn;
  koffi: typeof import('koffi');
  errno: () => number;
}

let binding: Binding | undefined;

function bind(): Binding {
  if (binding) return binding;
  const { koffi, lib, errno } = loadLibc();
  // The Linux prototype: int ioctl(int fd, unsigned long request, ...); on
  // x86-64 a fixed third pointer argument is passed the same way.
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, void *arg)') as unknown as IoctlFn;
  binding = { ioctl, koffi, errno };
  return binding;
}

/** Memory koffi allocated (stable address), with a DataView over it. */
export class NativeBuffer {
  readonly ptr: Pointer;
  readonly address: bigint;
  readonly bytes: ArrayBuffer;
  readonly view: DataView;
  private freed = false;

  constructor(readonly size: number) {
    const { koffi } = bind();
    this.ptr = koffi.alloc('uint8_t', Math.max(8, size));
    this.address = koffi.address(this.ptr);
    this.bytes = koffi.view(this.ptr, Math.max(8, size));
    this.view = new DataView(this.bytes);
  }

  u32(): Uint32Array {
    return new Uint32Array(this.bytes, 0, this.size >>> 2);
  }

  i32(): Int32Array {
    return new Int32Array(this.bytes, 0, this.size >>> 2);
  }

  zero(bytes = this.size): void {
    new Uint8Array(this.bytes, 0, bytes).fill(0);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    bind().koffi.free(this.ptr);
  }
}

function putString(v: DataView, at: number, text: string, max: number): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length >= max) throw new Error(`'${text}' is longer than ${max - 1} bytes`);
  for (let i = 0; i < max; i++) v.setUint8(at + i, i < bytes.length ? bytes[i]! : 0);
}

function getString(v: DataView, at: number, max: number): string {
  let end = at;
  while (end < at + max && v.getUint8(end) !== 0) end++;
  return Buffer.from(v.buffer, v.byteOffset + at, end - at).toString('utf8');
}

const u64 = (v: DataView, at: number) => Number(v.getBigUint64(at, true));

export class KmodControl {
  private readonly arg = new NativeBuffer(256);
  private closed = false;
  /** Async calls share `arg`: they run one after another. */
  private queue: Promise<unknown> = Promise.resolve();
  /** What the module said at HELLO. */
  readonly hello: HelloInfo;

  private constructor(readonly fd: number) {
    this.hello = this.sayHello();
  }

  /** Opens the control device and checks the ABI; errors say how to fix it. */
  static open(path = CONTROL_NODE): KmodControl {
    let fd: number;
    try {
      fd = openSync(path, 'r+');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new KmodError(`hmmv.ko is not loaded (no ${path}): ${HOW_TO_LOAD}`, 2);
      if (code === 'EACCES' || code === 'EPERM') throw new KmodError(`${path} is for root only (CAP_SYS_ADMIN): run the manager as root`, 13);
      throw new KmodError(`cannot open ${path}: ${(err as Error).message}`, 0);
    }
    try {
      return new KmodControl(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  private fail(what: string, reasons: Record<string, string> = {}): never {
    const errno = bind().errno();
    const name = errnoNames[errno] ?? `errno ${errno}`;
    // ENOTTY from the module: a call whose number it knows with another size (dmesg names both layouts).
    const fallback = name === 'ENOTTY' ? `ENOTTY (the loaded hmmv.ko and this hmmv disagree on the call's layout: install both from one release; dmesg names the call)` : name;
    throw new KmodError(`hmmv.ko ${what}: ${reasons[name] ?? fallback}`, errno);
  }

  private call(req: number, what: string, reasons?: Record<string, string>, arg: NativeBuffer = this.arg): void {
    if (this.closed) throw new Error('the hmmv control file is closed');
    if (bind().ioctl(this.fd, req, arg.ptr) < 0) this.fail(what, reasons);
  }

  /** Runs `fn` after every earlier async call on this file has finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The same on a koffi worker thread: the event loop runs on meanwhile. */
  private callAsync(req: number, what: string, reasons?: Record<string, string>): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the hmmv control file is closed'));
    const { ioctl, errno } = bind();
    return new Promise((resolve, reject) => {
      ioctl.async(this.fd, req, this.arg.ptr, (err, rc) => {
        if (err) reject(err as Error);
        else if (rc < 0) {
          const e = errno();
          const name = errnoNames[e] ?? `errno ${e}`;
          reject(new KmodError(`hmmv.ko ${what}: ${reasons?.[name] ?? name}`, e));
        } else resolve();
      });
    });
  }

  private sayHello(): HelloInfo {
    const v = this.arg.view;
    this.arg.zero(SIZE.hello);
    v.setUint32(OFF.hello.abiVersion, ABI_VERSION, true);
    if (bind().ioctl(this.fd, IOC.HELLO, this.arg.ptr) < 0) {
      const errno = bind().errno();
      if (errno === 93) {
        const theirs = v.getUint32(OFF.hello.abiVersion, true);
        throw new KmodError(`hmmv.ko speaks ABI ${theirs}, this hmmv speaks ABI ${ABI_VERSION}: install the module from the same hmmv release (dkms install ./kmod), then rmmod hmmv && modprobe hmmv`, errno);
      }
      if (errno === 25) throw new KmodError(`${CONTROL_NODE} answers HELLO with ENOTTY: not hmmv.ko's control device, or an hmmv.ko whose HELLO differs from this hmmv's (dmesg names the call; install both from one release)`, errno);
      this.fail('HELLO');
    }
    const o = OFF.hello;
    return {
      abiVersion: v.getUint32(o.abiVersion, true),
      features: v.getUint32(o.features, true),
      pageSize: v.getUint32(o.pageSize, true),
      logEntries: v.getUint32(o.logEntries, true),
      maxThreads: v.getUint32(o.maxThreads, true),
      regions: v.getUint32(o.regions, true),
    };
  }

  /** The devdax ranges the module claimed, and how many regions exist. */
  sources(): { sources: SourceInfo[]; regions: number } {
    const max = 16;
    const list = new NativeBuffer(max * SIZE.sourceInfo);
    try {
      const v = this.arg.view;
      this.arg.zero(SIZE.sources);
      v.setBigUint64(OFF.sources.sources, list.address, true);
      v.setUint32(OFF.sources.max, max, true);
      this.call(IOC.SOURCES, 'SOURCES');
      const count = Math.min(max, v.getUint32(OFF.sources.count, true));
      const o = OFF.sourceInfo;
      const sources: SourceInfo[] = [];
      for (let i = 0; i < count; i++) {
        const at = i * SIZE.sourceInfo;
        sources.push({
          name: getString(list.view, at + o.name, SOURCE_NAME_MAX),
          start: list.view.getBigUint64(at + o.start, true),
          pages: u64(list.view, at + o.pages),
          freePages: u64(list.view, at + o.freePages),
          regions: list.view.getUint32(at + o.regions, true),
        });
      }
      return { sources, regions: v.getUint32(OFF.sources.regions, true) };
    } finally {
      list.free();
    }
  }

  /** Creates a region (device node /dev/hmmv/NAME) and attaches this file to it. */
  createRegion(spec: RegionSpec): void {
    const v = this.arg.view;
    const o = OFF.regionCreate;
    this.arg.zero(SIZE.regionCreate);
    putString(v, o.name, spec.name, NAME_MAX);
    v.setBigUint64(o.size, BigInt(spec.sizeBytes), true);
    v.setBigUint64(o.dramLimitPages, BigInt(spec.dramLimitPages), true);
    v.setInt32(o.dramNode, spec.dramNode ?? -1, true);
    v.setInt32(o.nvmNode, spec.nvm.kind === 'node' ? spec.nvm.node : -1, true);
    v.setUint32(o.nvmKind, spec.nvm.kind === 'dax' ? 2 : spec.nvm.kind === 'node' ? 1 : 0, true);
    v.setUint32(o.firstTouch, 0, true);
    if (spec.nvm.kind === 'dax') {
      putString(v, o.daxName, spec.nvm.name, SOURCE_NAME_MAX);
      v.setBigUint64(o.daxStart, spec.nvm.start, true);
      v.setBigUint64(o.daxSize, BigInt(spec.nvm.sizeBytes), true);
    }
    this.call(IOC.REGION_CREATE, `REGION_CREATE '${spec.name}'`, {
      EEXIST: `a region named '${spec.name}' exists already`,
      EINVAL: `bad region arguments (name '${spec.name}': [A-Za-z0-9_.+-]; size ${spec.sizeBytes}: a multiple of 2 MiB; NUMA nodes online with memory; devdax range 2 MiB aligned)`,
      ENODEV: spec.nvm.kind === 'dax' ? `${spec.nvm.name} at 0x${spec.nvm.start.toString(16)} is not persistent or soft-reserved memory` : 'no such memory',
      EBUSY: spec.nvm.kind === 'dax' ? `${spec.nvm.name} is in use by another driver (device_dax or kmem): unbind it first (daxctl disable-device ${spec.nvm.name}), and never online it as system RAM` : 'busy',
      ENOMEM: 'out of kernel memory for the region\'s page tables',
    });
  }

  attach(name: string): void {
    putString(this.arg.view, 0, name, NAME_MAX);
    this.call(IOC.REGION_ATTACH, `REGION_ATTACH '${name}'`, { ENOENT: `no region '${name}' (the hook's prepare creates it when the domain starts)` });
  }

  /** Removes the region's device node; its memory goes when QEMU unmaps it. */
  destroy(name: string): boolean {
    putString(this.arg.view, 0, name, NAME_MAX);
    if (bind().ioctl(this.fd, IOC.REGION_DESTROY, this.arg.ptr) < 0) {
      if (bind().errno() === 2) return false;
      this.fail(`REGION_DESTROY '${name}'`);
    }
    return true;
  }

  info(): RegionInfo {
    this.arg.zero(SIZE.regionInfo);
    this.call(IOC.REGION_INFO, 'REGION_INFO', { EBADFD: 'no region attached' });
    const v = this.arg.view;
    const o = OFF.regionInfo;
    const flags = v.getUint32(o.flags, true);
    return {
      name: getString(v, o.name, NAME_MAX),
      sizeBytes: u64(v, o.size),
      pages: u64(v, o.pages),
      dramPages: u64(v, o.dramPages),
      nvmPages: u64(v, o.nvmPages),
      mapStart: v.getBigUint64(o.mapStart, true),
      dramLimitPages: u64(v, o.dramLimitPages),
      faults: u64(v, o.faults),
      firstTouches: u64(v, o.firstTouches),
      writeFaults: u64(v, o.writeFaults),
      logFull: u64(v, o.logFull),
      mapperPid: v.getInt32(o.mapperPid, true),
      mapped: (flags & 1) !== 0,
      destroyed: (flags & 2) !== 0,
      dramNode: v.getInt32(o.dramNode, true),
      nvmNode: v.getInt32(o.nvmNode, true),
      nvmKind: v.getUint32(o.nvmKind, true),
      threads: v.getUint32(o.threads, true),
    };
  }

  /**
   * A page-set call (READ_TIERS, ACCESSED, DIRTY, WP_ARM) over pages
   * [first, first + count): `input` the scan set (or null: all), `output` the
   * result, both bitmaps of 32-bit words in native memory. Resolves to the
   * number of pages (units) scanned.
   */
  async pageBits(req: number, first: number, count: number, input: NativeBuffer | null, output: NativeBuffer, unitShift = 0, flags = 0): Promise<number> {
    return this.serial(async () => {
      const v = this.arg.view;
      const o = OFF.pageBits;
      this.arg.zero(SIZE.pageBits);
      v.setBigUint64(o.first, BigInt(first), true);
      v.setBigUint64(o.count, BigInt(count), true);
      v.setBigUint64(o.in, input ? input.address : 0n, true);
      v.setBigUint64(o.out, output.address, true);
      v.setUint32(o.unitShift, unitShift, true);
      v.setUint32(o.flags, flags, true);
      await this.callAsync(req, 'page-set call', { EINVAL: `bad page range [${first}, ${first + count}) or unit` });
      return u64(v, o.result);
    });
  }

  /** Drains the per-thread logs into `pages` (u32 entries) and `threads`; re-arms them. */
  async drain(pages: NativeBuffer, threads: NativeBuffer, rearm = true): Promise<{ count: number; nthreads: number; overflowed: boolean; full: number }> {
    return this.serial(async () => {
      const v = this.arg.view;
      const o = OFF.drain;
      this.arg.zero(SIZE.drain);
      v.setBigUint64(o.pages, pages.address, true);
      v.setBigUint64(o.threads, threads.address, true);
      v.setUint32(o.maxPages, pages.size >>> 2, true);
      v.setUint32(o.maxThreads, Math.floor(threads.size / SIZE.threadLog), true);
      v.setUint32(o.flags, rearm ? 1 << 8 : 0, true);
      await this.callAsync(IOC.DRAIN, 'DRAIN');
      return {
        count: v.getUint32(o.count, true),
        nthreads: v.getUint32(o.nthreads, true),
        overflowed: (v.getUint32(o.flags, true) & 1) !== 0,
        full: v.getUint32(o.full, true),
      };
    });
  }

  /** Migrates `count` page indices from `pages` (u32) to `target`; per-page status in `status` (s32). */
  async migrate(pages: NativeBuffer, status: NativeBuffer, count: number, target: number, maxRecopies = 2): Promise<MigrateTotals> {
    return this.serial(async () => {
      const v = this.arg.view;
      const o = OFF.migrate;
      this.arg.zero(SIZE.migrate);
      v.setBigUint64(o.pages, pages.address, true);
      v.setBigUint64(o.status, status.address, true);
      v.setUint32(o.count, count, true);
      v.setUint32(o.target, target, true);
      v.setUint32(o.maxRecopies, maxRecopies, true);
      await this.callAsync(IOC.MIGRATE, 'MIGRATE', { EINVAL: 'bad batch (more than 1 Mi pages, a tier the region has no memory for, or too many recopies)' });
      return {
        moved: u64(v, o.moved),
        already: u64(v, o.already),
        busy: u64(v, o.busy),
        failed: u64(v, o.failed),
        bytesCopied: u64(v, o.bytesCopied),
        recopies: u64(v, o.recopies),
        pauseNs: u64(v, o.pauseNs),
        maxPauseNs: u64(v, o.maxPauseNs),
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    this.arg.free();
  }
}

export interface MigrateTotals {
  moved: number;
  already: number;
  busy: number;
  failed: number;
  bytesCopied: number;
  recopies: number;
  pauseNs: number;
  maxPauseNs: number;
}

/** Why the module failed a page (negative status = -errno). */
export function migrateFailure(status: number): string {
  switch (-status) {
    case 2:
      return 'not present (never touched by the guest, or the region is not mapped)';
    case 28:
      return 'the target tier is full';
    case 22:
      return 'outside the region';
    case 4:
      return 'interrupted';
    default:
      return `error ${errnoNames[-status] ?? -status}`;
  }
}
