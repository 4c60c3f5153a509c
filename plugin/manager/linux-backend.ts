/**
 * The `linux` backend for a real domain: the QEMU process found over QMP, its
 * guest RAM ranges (gpa2hva host addresses), DRAM on the host's NUMA nodes
 * with CPUs, the slow tier on the metadata's NUMA node, a kdamond of its own
 * (recorded under /run/hmmv/damon). openLinuxHost probes
 * the host first and refuses, naming what is missing; the manager then leaves
 * the guest alone.
 */
import path from 'node:path';
import { openLinuxHost, readTopology } from '../host/linux/index.js';
import { RUN_DIR } from '../runtime/paths.js';
import { registerBackend } from './backend.js';

export function registerLinuxBackend(): void {
  registerBackend('linux', async ({ config, guest }) => {
    if (guest.qemuPid === undefined) throw new Error('the QEMU process is unknown (no vCPU thread id over QMP)');
    if (!config.slowTier || !('numaNode' in config.slowTier)) {
      throw new Error("the linux backend needs the slow tier as a NUMA node (<hmmv:slow-tier numa-node='N'/>); online a devdax device with `daxctl reconfigure-device --mode=system-ram` first");
    }
    if (guest.ranges.length === 0) throw new Error(`the guest RAM layout is unknown: ${guest.layoutError ?? 'QEMU did not report it'}`);
    const missing = guest.ranges.find((r) => r.hva === undefined);
    if (missing) throw new Error(`guest RAM range ${missing.block}@0x${missing.gpa.toString(16)} has no host address (gpa2hva)`);
    const nvm = config.slowTier.numaNode;
    const dramNodes = readTopology()
      .nodes.filter((n) => n.id !== nvm && n.cpus.length > 0 && n.memTotalBytes > 0)
      .map((n) => n.id);
    return openLinuxHost({
      pid: guest.qemuPid,
      ram: guest.ranges.map((r) => ({ name: `${r.block}@0x${r.gpa.toString(16)}`, start: BigInt(r.hva!), lengthBytes: r.size })),
      dramNodes,
      nvmNodes: [nvm],
      vcpuCount: Math.max(1, guest.vcpus.length),
      // Each manager claims a kdamond of its own; claims are recorded (and locked) here.
      damonRegistry: { runDir: path.join(RUN_DIR, 'damon') },
    });
  });
}
