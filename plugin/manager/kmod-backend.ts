/**
 * The `kmod` backend for a real domain: the domain's guest RAM is an hmmv.ko
 * region (/dev/hmmv/NAME, created by the hook's prepare, mapped by QEMU as
 * memory-backend-file `hmmv-ram`). The manager attaches to that region and
 * checks that this domain's QEMU maps it and that it is the guest RAM QEMU
 * reports; the engine then drives it through the module's ioctls.
 */
import { KMOD_RAM_ID, KmodMemoryHost, regionNameFor } from '../host/kmod/index.js';
import { registerBackend } from './backend.js';

export function registerKmodBackend(): void {
  registerBackend('kmod', async ({ domain, guest }) => {
    if (guest.qemuPid === undefined) throw new Error('the QEMU process is unknown (no vCPU thread id over QMP)');
    const block = guest.ramBlocks.find((b) => b.name === KMOD_RAM_ID || b.name.endsWith(`/${KMOD_RAM_ID}`));
    if (!block) {
      throw new Error(`QEMU has no RAM block '${KMOD_RAM_ID}': the domain's RAM is not on hmmv.ko (run 'hmmv domain enable ${domain} --backend kmod --devdax /dev/daxX.Y' and restart it)`);
    }
    const host = KmodMemoryHost.open({ region: regionNameFor(domain), vcpuCount: Math.max(1, guest.vcpus.length), expectMapperPid: guest.qemuPid });
    if (host.pageCount * host.pageSizeBytes !== block.used) {
      await host.close();
      throw new Error(`region '${regionNameFor(domain)}' holds ${host.pageCount * host.pageSizeBytes} bytes but QEMU's RAM block '${KMOD_RAM_ID}' is ${block.used} bytes`);
    }
    return host;
  });
}
