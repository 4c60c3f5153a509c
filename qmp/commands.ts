/**
 * Typed wrappers for the QMP commands hmmv uses. Each checks, once per
 * session, that QEMU offers the command (`query-commands`) and fails with
 * QmpCommandMissingError naming it otherwise, instead of a bare
 * CommandNotFound from deep inside a manager.
 */
import type { ExecuteOptions, QmpClient } from './client.js';
import { QmpCommandMissingError } from './errors.js';
import {
  buildGuestRamMap,
  parseInfoMtreeFlat,
  parseInfoNuma,
  parseGpa2hva,
  parseInfoRamblock,
  type FlatView,
  type Gpa2HvaResult,
  type GuestRamRange,
  type NumaNodeInfo,
  type RamBlockInfo,
} from './hmp-parsers.js';
import type {
  CommandInfo,
  CpuInfoFast,
  DirtyRateInfo,
  Memdev,
  MemoryBackendSpec,
  MemoryDeviceInfo,
  MemoryDeviceSpec,
  MemoryInfo,
  ObjectPropertyInfo,
  StatusInfo,
} from './qapi-types.js';
import { formatVersion, type QmpGreeting, type QmpVersionInfo } from './types.js';

/** What the guest-RAM map needs: the blocks and the flat views they came from. */
export interface GuestRamLayout {
  ramBlocks: RamBlockInfo[];
  flatViews: FlatView[];
  /** Guest-physical RAM ranges of the `memory` address space, sorted by address. */
  ranges: GuestRamRange[];
}

export interface CalcDirtyRateOptions {
  /** Measuring period in seconds (QEMU accepts 1..60). */
  calcTimeSeconds: number;
  /** Pages sampled per GiB (QEMU accepts 128..16384; default 512). */
  samplePages?: number;
}

export class QmpCommands {
  private commandSet: Promise<Set<string>> | undefined;

  constructor(readonly client: QmpClient) {
    // A new session may be a different QEMU binary: detect again.
    client.on('reconnect', () => {
      this.commandSet = undefined;
    });
  }

  // ---- feature detection ----------------------------------------------------

  /** Names of all commands this QEMU offers (cached per session). */
  async availableCommands(options?: ExecuteOptions): Promise<Set<string>> {
    if (!this.commandSet) {
      const pending = this.queryCommands(options).then((list) => new Set(list.map((c) => c.name)));
      this.commandSet = pending;
      pending.catch(() => {
        if (this.commandSet === pending) this.commandSet = undefined;
      });
    }
    return this.commandSet;
  }

  async hasCommand(name: string): Promise<boolean> {
    return (await this.availableCommands()).has(name);
  }

  /** Throws QmpCommandMissingError unless QEMU offers `name`. */
  async requireCommand(name: string, purpose?: string): Promise<void> {
    if (!(await this.hasCommand(name))) {
      throw new QmpCommandMissingError(name, formatVersion(this.client.greeting.version), purpose);
    }
  }

  /** Run a command after checking that QEMU offers it. */
  async run<T>(command: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T> {
    await this.requireCommand(command);
    return this.client.execute<T>(command, args, options);
  }

  get greeting(): QmpGreeting {
    return this.client.greeting;
  }

  // ---- queries ---------------------------------------------------------------

  /** `query-commands` itself is in every QMP server, so it is not feature-checked. */
  queryCommands(options?: ExecuteOptions): Promise<CommandInfo[]> {
    return this.client.execute<CommandInfo[]>('query-commands', undefined, options);
  }

  queryStatus(options?: ExecuteOptions): Promise<StatusInfo> {
    return this.run('query-status', undefined, options);
  }

  queryVersion(options?: ExecuteOptions): Promise<QmpVersionInfo> {
    return this.run('query-version', undefined, options);
  }

  queryMemdev(options?: ExecuteOptions): Promise<Memdev[]> {
    return this.run('query-memdev', undefined, options);
  }

  queryMemoryDevices(options?: ExecuteOptions): Promise<MemoryDeviceInfo[]> {
    return this.run('query-memory-devices', undefined, options);
  }

  queryMemorySizeSummary(options?: ExecuteOptions): Promise<MemoryInfo> {
    return this.run('query-memory-size-summary', undefined, options);
  }

  /** vCPUs with their host thread ids (`thread-id`). */
  queryCpusFast(options?: ExecuteOptions): Promise<CpuInfoFast[]> {
    return this.run('query-cpus-fast', undefined, options);
  }

  /**
   * Guest NUMA nodes: `x-query-numa` where offered (QEMU >= 6.2), otherwise
   * the same text from HMP `info numa`.
   */
  async queryNuma(options?: ExecuteOptions): Promise<NumaNodeInfo[]> {
    if (await this.hasCommand('x-query-numa')) {
      const r = await this.client.execute<{ 'human-readable-text': string }>('x-query-numa', undefined, options);
      return parseInfoNuma(r['human-readable-text']);
    }
    return parseInfoNuma(await this.humanMonitorCommand('info numa', options));
  }

  qomList(path: string, options?: ExecuteOptions): Promise<ObjectPropertyInfo[]> {
    return this.run('qom-list', { path }, options);
  }

  qomGet<T = unknown>(path: string, property: string, options?: ExecuteOptions): Promise<T> {
    return this.run('qom-get', { path, property }, options);
  }

  /** e.g. virtio-mem `requested-size` on `/machine/peripheral/<id>`. */
  async qomSet(path: string, property: string, value: unknown, options?: ExecuteOptions): Promise<void> {
    await this.run('qom-set', { path, property, value }, options);
  }

  // ---- memory backends and devices -------------------------------------------

  /** `object-add` of a memory-backend-ram|file|memfd. */
  async addMemoryBackend(spec: MemoryBackendSpec, options?: ExecuteOptions): Promise<void> {
    if (!Number.isSafeInteger(spec.size) || spec.size <= 0) {
      throw new RangeError(`memory backend '${spec.id}': size must be a positive integer of bytes, got ${spec.size}`);
    }
    await this.run('object-add', { ...spec }, options);
  }

  async objectDel(id: string, options?: ExecuteOptions): Promise<void> {
    await this.run('object-del', { id }, options);
  }

  /** `device_add` of a pc-dimm or virtio-mem-pci. */
  async addMemoryDevice(spec: MemoryDeviceSpec, options?: ExecuteOptions): Promise<void> {
    await this.run('device_add', { ...spec }, options);
  }

  /**
   * `device_del`. For a pc-dimm this only *requests* removal: the guest must
   * eject it (ACPI); DEVICE_DELETED follows when it has. QEMU 7.2 refuses to
   * unplug virtio-mem devices.
   */
  async deviceDel(id: string, options?: ExecuteOptions): Promise<void> {
    await this.run('device_del', { id }, options);
  }

  // ---- run state ---------------------------------------------------------------

  async stop(options?: ExecuteOptions): Promise<void> {
    await this.run('stop', undefined, options);
  }

  async cont(options?: ExecuteOptions): Promise<void> {
    await this.run('cont', undefined, options);
  }

  /** Ask QEMU to exit; a SHUTDOWN event precedes the connection closing. */
  async quit(options?: ExecuteOptions): Promise<void> {
    await this.run('quit', undefined, options);
  }

  // ---- dirty rate ----------------------------------------------------------------

  /**
   * Start a dirty-rate measurement, always in `page-sampling` mode: the
   * `dirty-bitmap` and `dirty-ring` modes crash QEMU 7.2 under TCG.
   * Poll `queryDirtyRate()` until `status` is `measured`.
   */
  async calcDirtyRate(opts: CalcDirtyRateOptions, options?: ExecuteOptions): Promise<void> {
    const { calcTimeSeconds, samplePages } = opts;
    if (!Number.isInteger(calcTimeSeconds) || calcTimeSeconds < 1 || calcTimeSeconds > 60) {
      throw new RangeError(`calcTimeSeconds must be an integer in 1..60, got ${calcTimeSeconds}`);
    }
    if (samplePages !== undefined && (!Number.isInteger(samplePages) || samplePages < 128 || samplePages > 16384)) {
      throw new RangeError(`samplePages must be an integer in 128..16384, got ${samplePages}`);
    }
    const args: Record<string, unknown> = { 'calc-time': calcTimeSeconds, mode: 'page-sampling' };
    if (samplePages !== undefined) args['sample-pages'] = samplePages;
    await this.run('calc-dirty-rate', args, options);
  }

  queryDirtyRate(options?: ExecuteOptions): Promise<DirtyRateInfo> {
    return this.run('query-dirty-rate', undefined, options);
  }

  // ---- HMP ------------------------------------------------------------------------

  /** Raw HMP command through QMP; returns the monitor's text ("\r\n" line ends). */
  humanMonitorCommand(commandLine: string, options?: ExecuteOptions): Promise<string> {
    return this.run('human-monitor-command', { 'command-line': commandLine }, options);
  }

  async infoRamblock(options?: ExecuteOptions): Promise<RamBlockInfo[]> {
    return parseInfoRamblock(await this.humanMonitorCommand('info ramblock', options));
  }

  async infoMtreeFlat(options?: ExecuteOptions): Promise<FlatView[]> {
    return parseInfoMtreeFlat(await this.humanMonitorCommand('info mtree -f', options));
  }

  /** HMP `gpa2hva`: the QEMU-process virtual address of a guest-physical address. */
  async gpaToHva(gpa: number, options?: ExecuteOptions): Promise<Gpa2HvaResult> {
    if (!Number.isSafeInteger(gpa) || gpa < 0) throw new RangeError(`guest-physical address must be a non-negative integer, got ${gpa}`);
    return parseGpa2hva(await this.humanMonitorCommand(`gpa2hva 0x${gpa.toString(16)}`, options));
  }

  /**
   * RAM blocks + flat views → guest-physical address → (block, offset) map.
   * With `hostAddresses`, each range also gets its `hva` in the QEMU process
   * (one `gpa2hva` per range), which is what /proc/<pid>/maps, pagemap and
   * move_pages(2) work with.
   */
  async guestRamLayout(options: ExecuteOptions & { hostAddresses?: boolean } = {}): Promise<GuestRamLayout> {
    const { hostAddresses, ...execute } = options;
    const ramBlocks = await this.infoRamblock(execute);
    const flatViews = await this.infoMtreeFlat(execute);
    const ranges = buildGuestRamMap(flatViews, ramBlocks);
    if (hostAddresses) {
      for (const range of ranges) {
        const where = await this.gpaToHva(range.gpa, execute);
        if (where.kind !== 'ram') {
          throw new Error(`gpa2hva says 0x${range.gpa.toString(16)} (${range.block}) is ${where.kind}, but info mtree -f maps it as ${range.kind}`);
        }
        range.hva = where.hva;
      }
    }
    return { ramBlocks, flatViews, ranges };
  }
}
