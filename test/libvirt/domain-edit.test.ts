import assert from 'node:assert/strict';
import { commandlineQmpSockets, disableTiering, enableTiering } from '../../plugin/libvirt/domain-edit.js';
import { tieringFromDomainXml, type TieringConfig } from '../../plugin/libvirt/tiering-metadata.js';

const DOMAIN = `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>vm</name>
  <uuid>4b0e1d6e-6c55-4a4c-9a57-3e1f0f4b7a11</uuid>
  <metadata><app:info xmlns:app="urn:someone-else">kept</app:info></metadata>
  <memory unit='MiB'>64</memory>
  <!-- a comment the user wrote -->
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
  <qemu:commandline><qemu:arg value='-no-user-config'/></qemu:commandline>
</domain>`;

const CONFIG: TieringConfig = {
  backend: 'sim',
  dram: { quotaBytes: 32 * 1024 ** 2, minBytes: 0, maxBytes: 64 * 1024 ** 2, weight: 100 },
  tracking: { windowMs: 500, rounds: 8 },
  migration: { bytesPerSecond: 1024 ** 3 },
  qmp: { socket: '/run/hmmv/qmp/vm.sock' },
  pool: { socket: '/run/hmmv/pool.sock' },
};

describe('domain XML edits', () => {
  it('enable adds the metadata and the QMP socket, keeping everything else', () => {
    const xml = enableTiering(DOMAIN, CONFIG);
    assert.deepEqual(tieringFromDomainXml(xml), CONFIG);
    assert.deepEqual(commandlineQmpSockets(xml), ['/run/hmmv/qmp/vm.sock']);
    assert.match(xml, /<app:info xmlns:app="urn:someone-else">kept<\/app:info>/);
    assert.match(xml, /a comment the user wrote/);
    assert.match(xml, /<qemu:arg value="-no-user-config"\/>/);
  });

  it('enable is idempotent and replaces an older config', () => {
    const once = enableTiering(DOMAIN, CONFIG);
    assert.equal(enableTiering(once, CONFIG), once);
    const changed = enableTiering(once, { ...CONFIG, qmp: { socket: '/run/hmmv/qmp/other.sock' } });
    assert.deepEqual(commandlineQmpSockets(changed), ['/run/hmmv/qmp/other.sock']);
    assert.equal(tieringFromDomainXml(changed)?.qmp.socket, '/run/hmmv/qmp/other.sock');
  });

  it('enable binds the qemu namespace when the domain has none', () => {
    const xml = enableTiering("<domain type='qemu'><name>vm</name></domain>", CONFIG);
    assert.match(xml, /xmlns:qemu="http:\/\/libvirt.org\/schemas\/domain\/qemu\/1.0"/);
    assert.deepEqual(commandlineQmpSockets(xml), ['/run/hmmv/qmp/vm.sock']);
  });

  it('disable removes exactly what enable added, and is idempotent', () => {
    const off = disableTiering(enableTiering(DOMAIN, CONFIG));
    assert.equal(tieringFromDomainXml(off), undefined);
    assert.deepEqual(commandlineQmpSockets(off), []);
    assert.match(off, /kept/);
    assert.match(off, /-no-user-config/);
    assert.equal(disableTiering(off), off);
    const bare = disableTiering(enableTiering("<domain type='qemu'><name>vm</name></domain>", CONFIG));
    assert.doesNotMatch(bare, /metadata|qemu:|xmlns/);
  });
});
