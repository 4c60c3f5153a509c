/**
 * The linux memory host's public surface, for the per-domain manager:
 * probe the host, find the QEMU process's guest RAM, open the backend.
 * See docs/linux-backend.md.
 */
export { openLinuxHost, LinuxMemoryHost, type LinuxHostOptions, type LinuxHostInfo } from './linux-host.js';
export { findGuestRam, readMaps, type RamMatch, type RamMapping } from './maps.js';
export { probeHost, formatProbe, missingSummary, type ProbeReport, type Capability } from './probe.js';
export { readTopology, checkTierNodes, type Topology, type NumaNode } from './topology.js';
