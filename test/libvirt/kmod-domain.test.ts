/**
 * Against the real libvirtd (9.0) and QEMU (7.2): `hmmv domain enable NAME
 * --backend kmod --devdax /dev/daxX.Y` writes guest RAM on the domain's
 * hmmv.ko region into the definition, libvirt keeps it across dumpxml and
 * redefine, and QEMU really takes that backend as the machine's RAM (shown
 * with a plain file standing in for /dev/hmmv/NAME: this machine has no
 * module; libvirt's own pc.ram object is left unmapped). disable takes it
 * all out again.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { commandlineArgs } from '../../plugin/libvirt/domain-edit.js';
import { tieringFromDomainXml } from '../../plugin/libvirt/tiering-metadata.js';
import { defineDomain, domainXml, hmmv, removeDomain, requireLibvirtd, uniqueName, virsh } from '../helpers/libvirt.js';

async function dumpxml(name: string): Promise<string> {
  const r = await virsh(['dumpxml', '--inactive', name]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('libvirt: backend kmod puts guest RAM on an hmmv.ko region', function () {
  this.timeout(120000);
  const names: string[] = [];
  before(requireLibvirtd);
  after(async () => {
    for (const n of names) await removeDomain(n);
  });

  it('enable --backend kmod --devdax writes the region as memory-backend-file hmmv-ram; disable removes it', async () => {
    const name = uniqueName('kmod');
    names.push(name);
    await defineDomain(domainXml(name));
    const r = await hmmv(['domain', 'enable', name, '--dram', '32MiB', '--backend', 'kmod', '--devdax', '/dev/dax0.0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`note: guest RAM is hmmv\\.ko's region /dev/hmmv/${name} `));
    const xml = await dumpxml(name);
    assert.equal(tieringFromDomainXml(xml)?.backend, 'kmod');
    const args = commandlineArgs(xml);
    assert.deepEqual(args.slice(-4), ['-object', `memory-backend-file,id=hmmv-ram,size=${64 << 20},mem-path=/dev/hmmv/${name},share=on`, '-machine', 'memory-backend=hmmv-ram']);
    const again = await hmmv(['domain', 'enable', name, '--backend', 'kmod']);
    assert.match(again.stdout, /no change to domain/);
    const off = await hmmv(['domain', 'disable', name]);
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(commandlineArgs(await dumpxml(name)).filter((a) => a.includes('hmmv-ram')), []);
  });

  it('QEMU takes the hmmv-ram backend as the guest-physical RAM (info mtree -f), libvirt\'s own pc.ram unmapped', async () => {
    const name = uniqueName('kmodram');
    names.push(name);
    const file = `/tmp/${name}.ram`;
    const extra = `<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
      <qemu:arg value='-object'/><qemu:arg value='memory-backend-file,id=hmmv-ram,size=${64 << 20},mem-path=${file},share=on'/>
      <qemu:arg value='-machine'/><qemu:arg value='memory-backend=hmmv-ram'/></qemu:commandline>`;
    await defineDomain(domainXml(name, extra));
    try {
      const start = await virsh(['start', name]);
      assert.equal(start.code, 0, start.stderr);
      // Every guest-physical RAM range is hmmv-ram; libvirt's pc.ram object stays, unmapped (address space only).
      const flat = await virsh(['qemu-monitor-command', '--hmp', name, 'info mtree -f']);
      assert.equal(flat.code, 0, flat.stderr);
      const system = flat.stdout.replace(/\r/g, '').split('FlatView #').find((v) => v.includes('Root memory region: system')) ?? '';
      const ram = system.split('\n').filter((l) => /\(prio \d+, ram\)/.test(l));
      assert.ok(ram.length > 0 && ram.every((l) => /: hmmv-ram( @[0-9a-f]+)?$/.test(l)), system);
      assert.match(ram[0]!, /^\s*0000000000000000-/);
      assert.doesNotMatch(system, /pc\.ram/);
    } finally {
      await virsh(['destroy', name]);
      rmSync(file, { force: true });
    }
  });
});
