import assert from 'node:assert/strict';
import { guestRamBytes } from '../../plugin/manager/guest-discovery.js';

const MiB = 1024 * 1024;
const block = (name: string, size: number) => ({ name, pageSize: 4096, offset: 0, used: size, total: size });

describe('manager/guest-discovery: the guest RAM size', () => {
  it('counts only the backends mapped into guest memory: a kmod domain\'s unmapped pc.ram is not guest RAM', () => {
    const memdevs = [{ id: 'pc.ram', size: 48 * MiB }, { id: 'hmmv-ram', size: 48 * MiB }];
    // info ramblock lists libvirt's never-registered pc.ram with an empty name; only hmmv-ram is mapped.
    const blocks = [block('', 48 * MiB), block('hmmv-ram', 48 * MiB), block('pc.bios', 256 * 1024)];
    const ranges = [{ block: 'hmmv-ram' }, { block: 'pc.bios' }];
    assert.equal(guestRamBytes(memdevs, blocks, ranges), 48 * MiB);
  });

  it('adds every mapped backend of a NUMA guest, and pieces of one backend count once', () => {
    const memdevs = [{ id: 'ram-node0', size: 64 * MiB }, { id: 'ram-node1', size: 32 * MiB }];
    const ranges = [{ block: 'ram-node0' }, { block: 'ram-node0' }, { block: 'ram-node1' }];
    assert.equal(guestRamBytes(memdevs, [], ranges), 96 * MiB);
  });

  it('without a layout (QEMU would not say) counts every backend, and without backends takes the main RAM block', () => {
    assert.equal(guestRamBytes([{ id: 'pc.ram', size: 8 * MiB }, { size: 4 * MiB }], [], []), 12 * MiB);
    assert.equal(guestRamBytes([], [block('pc.bios', 1 * MiB), block('pc.ram', 16 * MiB)], [{ block: 'pc.ram' }]), 16 * MiB);
    assert.equal(guestRamBytes([], [], []), 0);
  });
});
