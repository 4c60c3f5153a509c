/**
 * Drives a policy by hand for the baselines' tests: sim hosts on one tier load
 * and a virtual clock, no VM runner (the tests play the guest's accesses).
 */
import { ACCESSED, SimHost } from '../../../plugin/sim/machine/sim-host.js';
import { TierLoad } from '../../../plugin/sim/machine/tier-load.js';
import { tierPreset } from '../../../plugin/sim/machine/tiers.js';
import { VirtualClock } from '../../../plugin/sim/machine/virtual-clock.js';
import type { Policy, PolicyVm, PolicyVmReport, RunningPolicy } from '../../../plugin/sim/machine/policy.js';

export interface Harness {
  readonly clock: VirtualClock;
  readonly load: TierLoad;
  readonly hosts: SimHost[];
  readonly running: RunningPolicy;
  readonly stop: () => Promise<readonly PolicyVmReport[]>;
}

/** VMs of `pageCount` pages each, every page backed at once (DRAM first while `firstTouchDram` lasts per VM). */
export async function startHarness(
  policy: Policy,
  opts: { vms: number; pageCount: number; dramPages: number; nvmPages: number; firstTouchDram: number; vcpus?: number },
): Promise<Harness> {
  const clock = new VirtualClock();
  const load = new TierLoad(tierPreset('optane'), policy.hostDramPages(opts.dramPages, opts.vms * opts.pageCount), opts.nvmPages);
  const hosts: SimHost[] = [];
  const vms: PolicyVm[] = [];
  for (let i = 0; i < opts.vms; i++) {
    const host = new SimHost({ name: `vm${i}`, pageCount: opts.pageCount, vcpuCount: opts.vcpus ?? 1, firstTouchDramPages: opts.firstTouchDram }, load, clock);
    for (let p = 0; p < opts.pageCount; p++) host.allocateOnTouch(p);
    hosts.push(host);
    vms.push({ name: host.name, host, pageCount: opts.pageCount, dramQuotaPages: Math.floor(opts.dramPages / opts.vms) });
  }
  const abort = new AbortController();
  const running = policy.start({ clock, vms, load, signal: abort.signal });
  await clock.settle();
  return {
    clock,
    load,
    hosts,
    running,
    stop: async () => {
      abort.abort(new Error('test finished'));
      await clock.settle();
      return running.stop();
    },
  };
}

/** One guest access as the VM runner makes it (through the hook when the page is watched); `lines` is its line descriptor. */
export function guestAccess(host: SimHost, page: number, nowNs: number, write = false, lines = 0): number {
  const word = page >>> 5;
  const bit = 1 << (page & 31);
  const hook = host.accessHook;
  const t = hook && (hook.watched === null || (hook.watched[word]! & bit) !== 0) ? hook.access(page, lines, write, nowNs) : host.tier[page]!;
  host.pageBits[(word << 2) | ACCESSED]! |= bit;
  return t;
}
