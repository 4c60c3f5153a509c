/**
 * Against the real libvirtd: tiering metadata survives define -> dumpxml ->
 * redefine; `hmmv domain enable|disable|show` edit a defined domain.
 */
import assert from 'node:assert/strict';
import { commandlineQmpSockets } from '../../plugin/libvirt/domain-edit.js';
import { TIERING_NS, tieringFromDomainXml } from '../../plugin/libvirt/tiering-metadata.js';
import { defineDomain, domainXml, hmmv, removeDomain, requireLibvirtd, uniqueName, virsh } from '../helpers/libvirt.js';

const METADATA = `<metadata>
    <hmmv:tiering xmlns:hmmv="${TIERING_NS}" backend="linux">
      <hmmv:dram quota="2GiB" min="512MiB" max="4GiB" weight="250"/>
      <hmmv:slow-tier numa-node="1"/>
      <hmmv:tracking window-ms="200" rounds="8"/>
      <hmmv:migration bytes-per-second="128MiB"/>
      <hmmv:qmp socket="/run/hmmv/qmp/roundtrip.sock"/>
      <hmmv:pool socket="/run/hmmv/pool-b.sock"/>
    </hmmv:tiering>
  </metadata>`;

async function dumpxml(name: string, ...flags: string[]): Promise<string> {
  const r = await virsh(['dumpxml', ...flags, name]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('libvirt: tiering metadata in real domains', function () {
  this.timeout(120000);
  const names: string[] = [];
  before(requireLibvirtd);
  after(async () => {
    for (const n of names) await removeDomain(n);
  });

  it('survives virsh define -> dumpxml -> redefine unchanged', async () => {
    const name = uniqueName('rt');
    names.push(name);
    await defineDomain(domainXml(name, METADATA));
    const first = await dumpxml(name);
    const parsed = tieringFromDomainXml(first);
    assert.deepEqual(parsed, {
      backend: 'linux',
      dram: { quotaBytes: 2 * 1024 ** 3, minBytes: 512 * 1024 ** 2, maxBytes: 4 * 1024 ** 3, weight: 250 },
      slowTier: { numaNode: 1 },
      tracking: { windowMs: 200, rounds: 8 },
      migration: { bytesPerSecond: 128 * 1024 ** 2 },
      qmp: { socket: '/run/hmmv/qmp/roundtrip.sock' },
      pool: { socket: '/run/hmmv/pool-b.sock' },
    });
    await defineDomain(first);
    const second = await dumpxml(name);
    assert.equal(second, first);
    // virsh metadata reads the element back by our namespace URI.
    const meta = await virsh(['metadata', name, TIERING_NS]);
    assert.equal(meta.code, 0, meta.stderr);
    assert.match(meta.stdout, /<tiering backend="linux">/);
  });

  it('domain enable adds metadata + QMP socket; show prints it; enable again is a no-op; disable removes both', async () => {
    const name = uniqueName('en');
    names.push(name);
    await defineDomain(domainXml(name));

    const en = await hmmv(['domain', 'enable', name, '--dram', '32MiB', '--dram-max', '48MiB', '--weight', '5', '--rate', '64MiB']);
    assert.equal(en.code, 0, en.stderr);
    assert.match(en.stdout, /enabled hmmv tiering/);
    assert.match(en.stdout, /tainted/);
    const xml = await dumpxml(name, '--inactive');
    const config = tieringFromDomainXml(xml);
    assert.equal(config?.dram.quotaBytes, 32 * 1024 ** 2);
    assert.equal(config?.dram.maxBytes, 48 * 1024 ** 2);
    assert.equal(config?.dram.weight, 5);
    assert.equal(config?.backend, 'sim');
    assert.deepEqual(commandlineQmpSockets(xml), [`/run/hmmv/qmp/${name}.sock`]);

    const show = await hmmv(['domain', 'show', name, '--json']);
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual((JSON.parse(show.stdout) as { config: unknown }).config, config);

    const again = await hmmv(['domain', 'enable', name]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /no change/);
    assert.equal(await dumpxml(name, '--inactive'), xml);

    const upd = await hmmv(['domain', 'enable', name, '--nvm-node', '1', '--backend', 'linux']);
    assert.equal(upd.code, 0, upd.stderr);
    assert.deepEqual(tieringFromDomainXml(await dumpxml(name, '--inactive'))?.slowTier, { numaNode: 1 });
    assert.equal(config?.pool.socket, '/run/hmmv/pool.sock', 'the default pool daemon');
    const pool = await hmmv(['domain', 'enable', name, '--pool-socket', '/run/hmmv/pool-b.sock']);
    assert.equal(pool.code, 0, pool.stderr);
    assert.deepEqual(tieringFromDomainXml(await dumpxml(name, '--inactive'))?.pool, { socket: '/run/hmmv/pool-b.sock' });
    const badPool = await hmmv(['domain', 'enable', name, '--pool-socket', 'relative.sock']);
    assert.equal(badPool.code, 1);
    assert.match(badPool.stderr, /--pool-socket: expected an absolute unix socket path/);

    const dis = await hmmv(['domain', 'disable', name]);
    assert.equal(dis.code, 0, dis.stderr);
    const off = await dumpxml(name, '--inactive');
    assert.equal(tieringFromDomainXml(off), undefined);
    assert.deepEqual(commandlineQmpSockets(off), []);
    assert.doesNotMatch(off, /hmmv\.dev|\/run\/hmmv|qemu:commandline/);
    const dis2 = await hmmv(['domain', 'disable', name]);
    assert.match(dis2.stdout, /no change/);
  });

  it('enable refuses bad options naming the flag, and a missing domain naming it', async () => {
    const name = uniqueName('bad');
    names.push(name);
    await defineDomain(domainXml(name));
    const noQuota = await hmmv(['domain', 'enable', name]);
    assert.equal(noQuota.code, 1);
    assert.match(noQuota.stderr, /--dram: required when enabling/);
    const bad = await hmmv(['domain', 'enable', name, '--dram', '2 parsecs', '--backend', 'kvm', '--rounds', '0']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--dram: unknown unit 'parsecs'/);
    assert.match(bad.stderr, /--backend: expected 'linux', 'kmod' or 'sim', got 'kvm'/);
    const linux = await hmmv(['domain', 'enable', name, '--dram', '1GiB', '--backend', 'linux']);
    assert.match(linux.stderr, /--nvm-node\/--devdax: required when backend='linux'/);
    assert.equal(tieringFromDomainXml(await dumpxml(name, '--inactive')), undefined, 'a refused enable must not change the domain');
    const missing = await hmmv(['domain', 'show', 'hmmv-no-such-domain']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no domain named 'hmmv-no-such-domain'/);
  });

  it('a running domain: --live is refused, the persistent change applies at next start', async () => {
    const name = uniqueName('live');
    names.push(name);
    await defineDomain(domainXml(name));
    const start = await virsh(['start', name]);
    assert.equal(start.code, 0, start.stderr);
    const live = await hmmv(['domain', 'enable', name, '--dram', '32MiB', '--live']);
    assert.equal(live.code, 1);
    assert.match(live.stderr, /is running: libvirt cannot apply this to a running domain/);
    const persistent = await hmmv(['domain', 'enable', name, '--dram', '32MiB']);
    assert.equal(persistent.code, 0, persistent.stderr);
    assert.match(persistent.stdout, /takes effect at its next start/);
    assert.equal(tieringFromDomainXml(await dumpxml(name)), undefined, 'the running definition is unchanged');
    assert.equal(tieringFromDomainXml(await dumpxml(name, '--inactive'))?.dram.quotaBytes, 32 * 1024 ** 2);
  });
});

