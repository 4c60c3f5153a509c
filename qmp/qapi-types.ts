/**
 * QAPI-shaped result and argument types for the commands hmmv uses, checked
 * against `query-qmp-schema` of QEMU 7.2 (Debian 1:7.2+dfsg-7+deb12u18).
 * Member names are QEMU's own (kebab-case), so results are used as returned.
 */

export type RunState =
  | 'debug' | 'inmigrate' | 'internal-error' | 'io-error' | 'paused' | 'postmigrate' | 'prelaunch'
  | 'finish-migrate' | 'restore-vm' | 'running' | 'save-vm' | 'shutdown' | 'suspended' | 'watchdog'
  | 'guest-panicked' | 'colo';

/** `query-status` → StatusInfo. */
export interface StatusInfo {
  running: boolean;
  singlestep: boolean;
  status: RunState;
}

/** `query-commands` → CommandInfo[]. */
export interface CommandInfo {
  name: string;
}

export type HostMemPolicy = 'default' | 'preferred' | 'bind' | 'interleave';

/** `query-memdev` → Memdev[]. */
export interface Memdev {
  id?: string;
  size: number;
  merge: boolean;
  dump: boolean;
  prealloc: boolean;
  share: boolean;
  reserve?: boolean;
  'host-nodes': number[];
  policy: HostMemPolicy;
}

/** PCDIMMDeviceInfo (`dimm` and `nvdimm`). */
export interface PCDIMMDeviceInfo {
  id?: string;
  addr: number;
  size: number;
  slot: number;
  node: number;
  /** QOM path of the backend, e.g. `/objects/nvm1`. */
  memdev: string;
  hotplugged: boolean;
  hotpluggable: boolean;
}

export interface VirtioMEMDeviceInfo {
  id?: string;
  memaddr: number;
  'requested-size': number;
  size: number;
  'max-size': number;
  'block-size': number;
  node: number;
  memdev: string;
}

export interface VirtioPMEMDeviceInfo {
  id?: string;
  memaddr: number;
  size: number;
  memdev: string;
}

export interface SgxEPCDeviceInfo {
  id?: string;
  memaddr: number;
  size: number;
  node: number;
  memdev: string;
}

/** `query-memory-devices` → MemoryDeviceInfo[] (a union tagged by `type`). */
export type MemoryDeviceInfo =
  | { type: 'dimm'; data: PCDIMMDeviceInfo }
  | { type: 'nvdimm'; data: PCDIMMDeviceInfo }
  | { type: 'virtio-pmem'; data: VirtioPMEMDeviceInfo }
  | { type: 'virtio-mem'; data: VirtioMEMDeviceInfo }
  | { type: 'sgx-epc'; data: SgxEPCDeviceInfo };

/** `query-memory-size-summary` → MemoryInfo. */
export interface MemoryInfo {
  'base-memory': number;
  'plugged-memory'?: number;
}

export interface CpuInstanceProperties {
  'node-id'?: number;
  'socket-id'?: number;
  'die-id'?: number;
  'cluster-id'?: number;
  'core-id'?: number;
  'thread-id'?: number;
}

/** `query-cpus-fast` → CpuInfoFast[]. `thread-id` is the host thread of the vCPU. */
export interface CpuInfoFast {
  'cpu-index': number;
  'qom-path': string;
  'thread-id': number;
  props?: CpuInstanceProperties;
  target: string;
}

/** `qom-list` → ObjectPropertyInfo[]. */
export interface ObjectPropertyInfo {
  name: string;
  /** e.g. `child<memory-backend-file>`, `link<memory-backend>`, `int`, `string`. */
  type: string;
  description?: string;
  'default-value'?: unknown;
}

export type DirtyRateStatus = 'unstarted' | 'measuring' | 'measured';
export type DirtyRateMeasureMode = 'page-sampling' | 'dirty-ring' | 'dirty-bitmap';

/** `query-dirty-rate` → DirtyRateInfo. `dirty-rate` is MB/s, present once measured. */
export interface DirtyRateInfo {
  'dirty-rate'?: number;
  status: DirtyRateStatus;
  'start-time': number;
  'calc-time': number;
  'sample-pages': number;
  mode: DirtyRateMeasureMode;
  'vcpu-dirty-rate'?: { id: number; 'dirty-rate': number }[];
}

/** Properties common to every memory backend (`object-add`). */
export interface MemoryBackendCommon {
  id: string;
  /** Bytes. */
  size: number;
  merge?: boolean;
  dump?: boolean;
  'host-nodes'?: number[];
  policy?: HostMemPolicy;
  prealloc?: boolean;
  'prealloc-threads'?: number;
  share?: boolean;
  reserve?: boolean;
}

export type MemoryBackendSpec =
  | ({ 'qom-type': 'memory-backend-ram' } & MemoryBackendCommon)
  | ({
      'qom-type': 'memory-backend-file';
      'mem-path': string;
      align?: number;
      pmem?: boolean;
      readonly?: boolean;
      'discard-data'?: boolean;
    } & MemoryBackendCommon)
  | ({ 'qom-type': 'memory-backend-memfd'; hugetlb?: boolean; hugetlbsize?: number; seal?: boolean } & MemoryBackendCommon);

/** `device_add` for the memory devices hmmv plugs. */
export type MemoryDeviceSpec =
  | { driver: 'pc-dimm'; id: string; memdev: string; node?: number; slot?: number; addr?: number }
  | {
      driver: 'virtio-mem-pci';
      id: string;
      memdev: string;
      node?: number;
      'requested-size'?: number;
      'block-size'?: number;
      /** A hotpluggable PCIe port (q35 root bus `pcie.0` is not hotpluggable). */
      bus?: string;
      addr?: string;
    };
