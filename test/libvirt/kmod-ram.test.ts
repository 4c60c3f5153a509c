/**
 * Guest RAM on hmmv.ko in the domain XML: `hmmv domain enable --backend kmod`
 * adds the region's memory-backend-file and the -machine memory-backend
 * argument, disable removes them, the hook's check refuses what cannot work
 * (errors name element and attribute), and the metadata accepts backend kmod
 * with a devdax slow tier.
 */
import assert from 'node:assert/strict';
import { commandlineArgs, disableTiering, enableTiering } from '../../plugin/libvirt/domain-edit.js';
import { existsSync } from 'node:fs';
import { runHook } from '../../plugin/libvirt/hook.js';
import { checkKmodRam } from '../../plugin/libvirt/kmod-ram.js';
import { TieringMetadataError, tieringFromDomainXml, tieringFromElementXml, type TieringConfig } from '../../plugin/libvirt/tiering-metadata.js';

const domainXml = (memory = "<memory unit='MiB'>64</memory>", extra = '', name = 'vm') => `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${name}</name>
  ${memory}
  ${extra}
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
  <qemu:commandline><qemu:arg value='-no-user-config'/></qemu:commandline>
</domain>`;

const KMOD: TieringConfig = {
  backend: 'kmod',
  dram: { quotaBytes: 32 * 1024 ** 2, minBytes: 0, maxBytes: 64 * 1024 ** 2, weight: 100 },
  slowTier: { devdax: '/dev/dax0.0' },
  tracking: { windowMs: 500, rounds: 8 },
  migration: { bytesPerSecond: 1024 ** 3 },
  qmp: { socket: '/run/hmmv/qmp/vm.sock' },
  pool: { socket: '/run/hmmv/pool.sock' },
};

const RAM_OBJECT = 'memory-backend-file,id=hmmv-ram,size=67108864,mem-path=/dev/hmmv/vm,share=on';

describe('kmod backend: guest RAM on hmmv.ko in the domain XML', () => {
  it('enable puts guest RAM on /dev/hmmv/NAME with the right size; idempotent; disable removes it', () => {
    const xml = enableTiering(domainXml(), KMOD);
    assert.deepEqual(commandlineArgs(xml), ['-no-user-config', '-qmp', 'unix:/run/hmmv/qmp/vm.sock,server=on,wait=off', '-object', RAM_OBJECT, '-machine', 'memory-backend=hmmv-ram']);
    assert.deepEqual(tieringFromDomainXml(xml), KMOD);
    assert.equal(enableTiering(xml, KMOD), xml);
    assert.deepEqual(checkKmodRam('vm', xml, commandlineArgs(xml)), { ramBytes: 64 << 20, problems: [] });
    const back = disableTiering(xml);
    assert.deepEqual(commandlineArgs(back), ['-no-user-config']);
    // Switching to another backend drops the RAM arguments too.
    assert.deepEqual(commandlineArgs(enableTiering(xml, { ...KMOD, backend: 'linux', slowTier: { numaNode: 1 } })).filter((a) => a.includes('hmmv-ram')), []);
  });

  it('refuses domains whose RAM cannot be one region, naming the element', () => {
    const refused = (xml: string): string[] => {
      try {
        enableTiering(xml, KMOD);
      } catch (err) {
        assert.ok(err instanceof TieringMetadataError, String(err));
        return err.problems as string[];
      }
      return [];
    };
    assert.match(refused(domainXml("<memory unit='KiB'>65537</memory>")).join('\n'), /^<memory>: 67109888 bytes is not a multiple of 2 MiB/);
    assert.match(refused(domainXml("<memory unit='parsecs'>1</memory>")).join('\n'), /^<memory> attribute unit: unknown unit 'parsecs'/);
    assert.match(refused(domainXml('')).join('\n'), /^<memory>: missing/);
    assert.match(refused(domainXml(undefined, "<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa></cpu>")).join('\n'), /^<cpu>\/<numa>: guest NUMA cells/);
    assert.match(refused(domainXml(undefined, '<memoryBacking><hugepages/></memoryBacking>')).join('\n'), /^<memoryBacking>\/<hugepages>: not with backend='kmod'/);
    assert.match(refused(domainXml(undefined, "<maxMemory slots='2' unit='GiB'>4</maxMemory>")).join('\n'), /^<maxMemory>: memory hotplug/);
  });

  it("the hook's check names a missing or stale RAM argument (e.g. <memory> changed after enable)", () => {
    const xml = enableTiering(domainXml(), KMOD);
    const bigger = xml.replace(/<memory unit=.MiB.>64<\/memory>/, "<memory unit='MiB'>128</memory>");
    const stale = checkKmodRam('vm', bigger, commandlineArgs(bigger));
    assert.equal(stale.problems.length, 1);
    assert.match(stale.problems[0]!, /^<qemu:commandline>: 'memory-backend-file,id=hmmv-ram,size=67108864,.*' does not match this domain \(expected '.*size=134217728,.*': <memory> is 134217728 bytes\) \(run 'hmmv domain enable vm --backend kmod'/);
    const bare = domainXml();
    assert.deepEqual(checkKmodRam('vm', bare, commandlineArgs(bare)).problems.map((p) => p.slice(0, 40)), ['<qemu:commandline>: missing <qemu:arg va', '<qemu:commandline>: missing <qemu:arg va']);
  });

  it("the metadata takes backend='kmod' with a devdax or NUMA-node slow tier, and needs one", () => {
    const el = (attrs: string, slow: string) =>
      `<hmmv:tiering xmlns:hmmv="http://hmmv.dev/xmlns/tiering/1" ${attrs}><hmmv:dram quota="32MiB"/>${slow}<hmmv:qmp socket="/run/hmmv/qmp/vm.sock"/></hmmv:tiering>`;
    assert.deepEqual(tieringFromElementXml(el("backend='kmod'", "<hmmv:slow-tier devdax='/dev/dax1.0'/>")).slowTier, { devdax: '/dev/dax1.0' });
    assert.deepEqual(tieringFromElementXml(el("backend='kmod'", "<hmmv:slow-tier numa-node='1'/>")).slowTier, { numaNode: 1 });
    assert.throws(() => tieringFromElementXml(el("backend='kmod'", '')), /<hmmv:tiering>\/<hmmv:slow-tier>: required when backend='linux' or 'kmod'/);
    assert.throws(() => tieringFromElementXml(el("backend='kmdo'", '')), /<hmmv:tiering> attribute backend: expected 'linux', 'kmod' or 'sim', got "kmdo"/);
  });

  it("the hook's prepare refuses to start the domain when its region cannot be made here, saying why; release is quiet", async () => {
    const name = `hmmv-t-kmodhook-${process.pid}`;
    const xml = enableTiering(domainXml(undefined, '', name), KMOD);
    const dax = await runHook([name, 'prepare', 'begin', '-'], xml);
    if (!existsSync('/sys/bus/dax/devices/dax0.0')) {
      assert.equal(dax.code, 1);
      assert.match(dax.stderr, /<hmmv:slow-tier> attribute devdax: \/dev\/dax0\.0 is not a devdax device on this host/);
    }
    const node = await runHook([name, 'prepare', 'begin', '-'], enableTiering(domainXml(undefined, '', name), { ...KMOD, slowTier: { numaNode: 1 } }));
    if (!existsSync('/dev/hmmv/control')) {
      assert.equal(node.code, 1);
      assert.match(node.stderr, /: hmmv\.ko is not loaded \(no \/dev\/hmmv\/control\): build and load it with DKMS/);
    }
    const stale = await runHook([name, 'prepare', 'begin', '-'], xml.replace(/size=67108864/, 'size=1'));
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /<qemu:commandline>: 'memory-backend-file,id=hmmv-ram,size=1,/);
    const release = await runHook([name, 'release', 'end', '-'], xml);
    assert.equal(release.code, 0);
  });
});
