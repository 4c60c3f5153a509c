import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { incomingMarkerPath } from '../../plugin/runtime/paths.js';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runHook } from '../../plugin/libvirt/hook.js';
import { incomingMigrationProblems, parseNodeList, realHostProbe, type HostProbe } from '../../plugin/libvirt/migrate-check.js';
import { TIERING_NS } from '../../plugin/libvirt/namespace.js';
import { QEMU_NS } from '../../plugin/libvirt/domain-edit.js';
import { tieringFromDomainXml } from '../../plugin/libvirt/tiering-metadata.js';

const domainXml = (tier: string, backend = 'linux') => `<domain type='qemu' xmlns:qemu='${QEMU_NS}'><name>vm</name>
  <metadata><hmmv:tiering xmlns:hmmv='${TIERING_NS}' backend='${backend}'><hmmv:dram quota='1GiB'/>${tier}<hmmv:qmp socket='/run/hmmv/qmp/vm.sock'/></hmmv:tiering></metadata>
  <qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:/run/hmmv/qmp/vm.sock,server=on,wait=off'/></qemu:commandline></domain>`;

const probe = (over: Partial<HostProbe> = {}): HostProbe => ({
  nodesWithMemory: () => new Set([0, 1]),
  devdaxProblem: () => undefined,
  poolProblem: async () => undefined,
  ...over,
});

describe("the hook's migrate step (destination of a live migration)", () => {
  it('accepts what this host can honour, and leaves the manager-to-be a marker', async () => {
    const name = `hmmv-t-migchk-${process.pid}`;
    const r = await runHook([name, 'migrate', 'begin', '-'], domainXml("<hmmv:slow-tier numa-node='1'/>").replace('<name>vm</name>', `<name>${name}</name>`), probe());
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(incomingMarkerPath(name)));
    rmSync(incomingMarkerPath(name));
  });

  it('refuses a missing slow-tier node, a missing devdax, an absent pool, naming each', async () => {
    const node = await runHook(['vm', 'migrate', 'begin', '-'], domainXml("<hmmv:slow-tier numa-node='2'/>"), probe());
    assert.equal(node.code, 1);
    assert.match(node.stderr, /^hmmv: refusing the incoming migration of 'vm': this host cannot honour its tiering metadata: the slow tier is NUMA node 2, which this host does not have with memory \(nodes with memory: 0,1\)\n$/);
    const dax = await runHook(['vm', 'migrate', 'begin', '-'], domainXml("<hmmv:slow-tier devdax='/dev/dax9.9'/>"), probe({ devdaxProblem: () => 'does not exist' }));
    assert.match(dax.stderr, /the slow tier is \/dev\/dax9\.9, which does not exist on this host/);
    const both = await runHook(['vm', 'migrate', 'begin', '-'], domainXml("<hmmv:slow-tier numa-node='5'/>"), probe({ poolProblem: async () => 'no such socket' }));
    assert.match(both.stderr, /NUMA node 5[^]*; the DRAM pool daemon does not answer on \/run\/hmmv\/pool\.sock \(no such socket\): start it/);
  });

  it('refuses invalid metadata; a sim domain needs no slow tier; a domain without hmmv passes', async () => {
    const bad = await runHook(['vm', 'migrate', 'begin', '-'], domainXml("<hmmv:slow-tier numa-node='x'/>"), probe());
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /refusing the incoming migration of 'vm': invalid hmmv tiering metadata/);
    const sim = await runHook(['vm', 'migrate', 'begin', '-'], domainXml("<hmmv:slow-tier numa-node='7'/>", 'sim'), probe({ nodesWithMemory: () => new Set([0]) }));
    assert.equal(sim.code, 0, sim.stderr);
    assert.equal((await runHook(['vm', 'migrate', 'begin', '-'], "<domain type='qemu'><name>vm</name></domain>", probe({ poolProblem: async () => 'x' }))).code, 0);
  });

  it('probes the real host: sysfs node list, a character device, a listening socket', async () => {
    assert.deepEqual([...parseNodeList('0-2,4\n')], [0, 1, 2, 4]);
    assert.throws(() => parseNodeList('zero'), /not a node list/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-migchk-'));
    try {
      writeFileSync(path.join(dir, 'has_memory'), '0\n');
      const real = realHostProbe(dir);
      assert.deepEqual([...real.nodesWithMemory()!], [0]);
      assert.equal(real.devdaxProblem('/dev/null'), undefined);
      assert.equal(real.devdaxProblem(path.join(dir, 'has_memory')), 'is not a character device');
      assert.equal(real.devdaxProblem('/dev/dax-none'), 'does not exist');
      const sock = path.join(dir, 'pool.sock');
      assert.equal(await real.poolProblem(sock, 500), 'no such socket');
      const server = net.createServer((c) => c.destroy()).listen(sock);
      await new Promise((r) => server.once('listening', r));
      assert.equal(await real.poolProblem(sock, 500), undefined);
      server.close();
      const config = tieringFromDomainXml(domainXml("<hmmv:slow-tier numa-node='1'/>"))!;
      assert.deepEqual(await incomingMigrationProblems({ ...config, pool: { socket: sock } }, real), [
        'the slow tier is NUMA node 1, which this host does not have with memory (nodes with memory: 0)',
        `the DRAM pool daemon does not answer on ${sock} (no such socket): start it (systemctl start hmmv-pool)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
