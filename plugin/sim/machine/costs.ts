/**
 * What managing a VM's memory costs on the simulated host, in CPU time taken
 * from the VM (the tracking and migration work of HMM-V runs on the VM's own
 * cores or stalls them). Rough figures for a 2020-era Xeon; each is a named
 * constant so an experiment can say what it assumed.
 */

/** Test-and-clear of one EPT accessed/dirty bit while walking the tables (a few loads and a locked and). */
export const SCAN_NS_PER_PAGE = 10;

/**
 * After a scan round the cleared bits must be seen by the CPU: an INVEPT on
 * every vCPU and the TLB misses that refill it. Charged per vCPU per round.
 */
export const TLB_FLUSH_NS_PER_VCPU = 5_000;

/**
 * A full 512-entry PML buffer forces a VM exit: the exit and entry (~1.5 us)
 * plus the host folding 512 entries into its log.
 */
export const PML_BUFFER_ENTRIES = 512;
export const PML_FULL_EXIT_NS = 4_000;

/** Draining the log kicks every vCPU out once to flush its partly filled buffer. */
export const PML_KICK_NS_PER_VCPU = 1_500;

/**
 * The final switch of a migrated page: the EPT entry is rewritten (per page)
 * and every vCPU's TLB shot down once per batch (IPIs plus refill). The pages of
 * the batch are inaccessible for the whole switch.
 */
export const SWITCH_NS_PER_PAGE = 100;
export const SWITCH_SHOOTDOWN_NS = 3_000;

/**
 * Bandwidth of the migration copy (one kernel thread's memcpy), bytes per
 * second, when the tiers have room; a loaded tier slows the copy down
 * (TierLoad.copyBytesPerSec).
 */
export const DEFAULT_COPY_BYTES_PER_SEC = 4e9;

/** Copies repeated for pages the guest keeps writing before they are reported Busy. */
export const DEFAULT_MAX_RECOPIES = 2;
