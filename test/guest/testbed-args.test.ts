/**
 * The test bed's QEMU command line for each kind of guest (no boot): the
 * first test bed's two nodes, and the emulated-Optane host with NVDIMMs on a
 * memory-only node, a distance for every pair of nodes (QEMU refuses less), an
 * HMAT entry for every slow node, and the set-up steps asked for on the
 * kernel command line.
 */
import assert from 'node:assert/strict';
import { layersFor, nvdimmNode, qemuArgs, type BootOptions } from './testbed.js';

const values = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));

describe('test bed: QEMU arguments', () => {
  it('the first test bed: node 0 RAM with the CPUs, node 1 a memory-backend-file, both in the HMAT, no layers', () => {
    const opts: BootOptions = { scenario: 'all', timeoutMs: 1 };
    const args = qemuArgs(opts, '/c/initrd', '/w');
    assert.deepEqual(values(args, '-machine'), ['pc,accel=tcg,hmat=on']);
    assert.deepEqual(values(args, '-m'), ['768M']);
    const numa = values(args, '-numa');
    assert.ok(numa.includes('node,nodeid=0,memdev=dram,cpus=0-1,initiator=0'));
    assert.ok(numa.includes('node,nodeid=1,memdev=nvm,initiator=0'));
    assert.deepEqual(numa.filter((n) => n.startsWith('dist')), ['dist,src=0,dst=1,val=30']);
    assert.equal(numa.filter((n) => n.startsWith('hmat-lb')).length, 4);
    assert.match(values(args, '-append')[0]!, /^console=ttyS0 .*hmmv\.scenario=all$/);
    assert.deepEqual(layersFor(opts), []);
  });

  it('the emulated-Optane host: NVDIMMs on a memory-only node, every node pair with a distance, HMAT for it, set-up steps on the command line', () => {
    const opts: BootOptions = {
      scenario: 'all', program: 'dist/x.js', timeoutMs: 1, dramMiB: 1024, nvmMiB: 0, libvirtd: true,
      nvdimms: [{ sizeMiB: 512, mode: 'system-ram' }, { sizeMiB: 256, mode: 'devdax' }],
    };
    const args = qemuArgs(opts, '/c/initrd', '/w');
    assert.equal(nvdimmNode(opts), 1);
    assert.deepEqual(values(args, '-machine'), ['pc,accel=tcg,hmat=on,nvdimm=on']);
    assert.deepEqual(values(args, '-m'), ['1024M,slots=2,maxmem=1792M']);
    const numa = values(args, '-numa');
    assert.ok(numa.includes('node,nodeid=1,initiator=0'), 'the NVDIMM node starts without memory');
    assert.deepEqual(numa.filter((n) => n.startsWith('dist')), ['dist,src=0,dst=1,val=30']);
    assert.ok(numa.includes('hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=300'));
    assert.deepEqual(values(args, '-device'), ['nvdimm,memdev=nvdimm0,id=nvdimm0,node=1', 'nvdimm,memdev=nvdimm1,id=nvdimm1,node=1']);
    assert.ok(values(args, '-object').includes('memory-backend-file,id=nvdimm1,share=on,mem-path=/w/nvdimm1.img,size=256M'));
    assert.match(values(args, '-append')[0]!, / hmmv\.program=dist\/x\.js hmmv\.nvdimm=system-ram,devdax hmmv\.libvirtd=1$/);
    assert.deepEqual(layersFor(opts), ['optane', 'libvirt']);
  });

  it('both slow nodes together: three nodes, three distances, HMAT entries for nodes 1 and 2', () => {
    const opts: BootOptions = { scenario: 's', timeoutMs: 1, nvdimms: [{ sizeMiB: 256, mode: 'devdax' }], layers: ['kmod'] };
    const numa = values(qemuArgs(opts, '/i', '/w'), '-numa');
    assert.equal(nvdimmNode(opts), 2);
    assert.deepEqual(numa.filter((n) => n.startsWith('dist')), ['dist,src=0,dst=1,val=30', 'dist,src=0,dst=2,val=30', 'dist,src=1,dst=2,val=20']);
    for (const t of [1, 2]) assert.ok(numa.includes(`hmat-lb,initiator=0,target=${t},hierarchy=memory,data-type=access-bandwidth,bandwidth=4G`));
    assert.deepEqual(layersFor(opts), ['optane', 'kmod']);
  });
});
