/**
 * The kmod memory host's public surface (hmmv.ko, kmod/): the control device,
 * the memory host on one region, the probe, and the region naming shared by
 * the hook and the manager. See docs/kmod.md and docs/kmod-abi.md.
 */
export { KmodMemoryHost, type KmodHostOptions } from './kmod-host.js';
export { KmodControl, KmodError, HOW_TO_LOAD, type RegionSpec, type RegionInfo, type SourceInfo } from './control.js';
export { probeKmod, formatKmodProbe, listDaxDevices, type KmodProbe, type DaxDevice } from './probe.js';
export { KMOD_RAM_ID, regionNameFor, regionPathFor } from './region-name.js';
