/**
 * How much memory a simulated machine will take, before anything is
 * allocated, so that a run too large for this computer is refused with a
 * clear message instead of dying part-way (a 128 GiB VM is 32 Mi pages; its
 * per-page state alone is hundreds of MiB under some policies).
 *
 * The estimate adds, per VM, the sim host's state (SIM_HOST_BYTES_PER_PAGE
 * per page plus its PML buffers and dirty log), the workload's own
 * (Workload.stateBytes), and the policy's (Policy.memoryBytes), plus a fixed
 * allowance for Node.js itself. Each part is an upper bound of what the code
 * allocates (typed arrays, counted from their sizes), not a measurement.
 */
import { freemem } from 'node:os';
import { PML_BUFFER_ENTRIES } from './costs.js';
import type { MachineShape, Policy } from './policy.js';
import type { Workload } from '../workloads/workload.js';

/** Per page: tier (1 B), content version (4 B), accessed, dirty, in-flight, on-NVM and drain bitmaps (5 bits). */
export const SIM_HOST_BYTES_PER_PAGE = 5.625;
/** The host's dirty log holds 64 PML buffers per vCPU (sim-host.ts), 4 bytes an entry, plus the buffers themselves. */
export const SIM_HOST_BYTES_PER_VCPU = 65 * PML_BUFFER_ENTRIES * 4;
/** Node.js, the V8 heap and the code: what a run needs besides its typed arrays. */
export const RUNTIME_BYTES = 256 * 2 ** 20;

export interface MemoryPart {
  readonly what: string;
  readonly bytes: number;
}

export interface MemoryEstimate {
  readonly bytes: number;
  readonly parts: readonly MemoryPart[];
}

export interface EstimatedVm {
  readonly name: string;
  readonly pageCount: number;
  readonly vcpus: number;
  readonly workload: Workload;
}

export function estimateMachineMemory(vms: readonly EstimatedVm[], dramPages: number, nvmPages: number, policy: Policy): MemoryEstimate {
  const parts: MemoryPart[] = [{ what: 'Node.js runtime', bytes: RUNTIME_BYTES }];
  for (const vm of vms) {
    parts.push({ what: `VM ${vm.name} (${gib(vm.pageCount * 4096)}): sim host state`, bytes: vm.pageCount * SIM_HOST_BYTES_PER_PAGE + vm.vcpus * SIM_HOST_BYTES_PER_VCPU });
    const w = vm.workload.stateBytes ?? 0;
    if (w > 0) parts.push({ what: `VM ${vm.name}: workload ${vm.workload.name}`, bytes: w });
  }
  const shape: MachineShape = {
    dramPages,
    nvmPages,
    vms: vms.map((vm) => ({ pageCount: vm.pageCount, vcpus: vm.vcpus, cpuNsPerOp: vm.workload.cpuNsPerOp, accessesPerOp: vm.workload.accessesPerOp })),
  };
  const p = policy.memoryBytes?.(shape) ?? 0;
  if (p > 0) parts.push({ what: `policy ${policy.name}`, bytes: p });
  return { bytes: parts.reduce((s, x) => s + x.bytes, 0), parts };
}

/** Memory this computer has for a run now: what the OS reports available (Linux: MemAvailable). */
export function availableMemoryBytes(): number {
  return freemem();
}

/**
 * Throws if `estimate` exceeds `limitBytes`, naming the run, the total, the
 * largest parts and what to do.
 */
export function checkMemory(estimate: MemoryEstimate, limitBytes: number, run: string): void {
  if (estimate.bytes <= limitBytes) return;
  const largest = [...estimate.parts].sort((a, b) => b.bytes - a.bytes).slice(0, 4);
  throw new Error(
    `${run} needs about ${gib(estimate.bytes)} of memory, more than the ${gib(limitBytes)} available` +
      ` (largest parts: ${largest.map((p) => `${p.what} ${gib(p.bytes)}`).join('; ')});` +
      ' run smaller or fewer VMs, another policy, or raise the limit with --memory-limit MiB',
  );
}

export function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}
