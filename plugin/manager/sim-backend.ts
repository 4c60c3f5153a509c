/**
 * The `sim` backend for a real domain: a dry run. The manager gets a simulated
 * memory host sized like the guest RAM it found over QMP (DRAM = the quota, the
 * rest NVM, Optane-like tiers) and runs the real engine on it on the wall
 * clock. Nothing in the simulated host touches the guest; it shows the loop,
 * its status and its logs working for that domain before the linux backend is
 * trusted with it.
 */
import { PAGE_SIZE_BYTES, SimHost } from '../sim/machine/sim-host.js';
import { TierLoad } from '../sim/machine/tier-load.js';
import { tierPreset } from '../sim/machine/tiers.js';
import { wallClock } from '../util/clock.js';
import { registerBackend } from './backend.js';

export function registerSimBackend(): void {
  registerBackend('sim', async ({ domain, config, guest }) => {
    const pageCount = Math.ceil(guest.ramBytes / PAGE_SIZE_BYTES);
    if (pageCount <= 0) throw new Error(`the guest RAM size over QMP is ${guest.ramBytes} bytes: nothing to simulate`);
    const dramPages = Math.min(pageCount, Math.floor(config.dram.quotaBytes / PAGE_SIZE_BYTES));
    // DRAM as large as the pool may make the quota (the domain's max); first touch stays within the static quota.
    const dramCapacity = Math.min(pageCount, Math.max(dramPages, Math.floor(config.dram.maxBytes / PAGE_SIZE_BYTES)));
    const load = new TierLoad(tierPreset('optane'), dramCapacity, pageCount);
    return new SimHost({ name: domain, pageCount, vcpuCount: Math.max(1, guest.vcpus.length), firstTouchDramPages: dramPages }, load, wallClock);
  });
}
