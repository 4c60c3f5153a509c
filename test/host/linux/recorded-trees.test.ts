/**
 * The probe, topology and DAMON readers against kernel trees recorded on real
 * machines (record-tree.ts): what each kernel offered, read back through
 * KernelFiles(root) exactly as the backend reads a live host.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningKdamonds } from '../../../plugin/host/linux/damon.js';
import { formatProbe, probeHost } from '../../../plugin/host/linux/probe.js';
import { KernelFiles } from '../../../plugin/host/linux/sysfs.js';
import { readTopology } from '../../../plugin/host/linux/topology.js';
import { recordedHost } from './fixtures.js';
import { writeTree } from './record-tree.js';

describe('linux host: recorded kernel trees', () => {
  it('KernelFiles maps kernel paths under its root, reads, writes and lists there', () => {
    const root = mkdtempSync(join(tmpdir(), 'hmmv-kfiles-'));
    try {
      writeTree(root, { '/proc/sys/kernel/osrelease': '6.1.0-test\n', '/boot/config-6.1.0-test': 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x"\n' });
      const files = new KernelFiles(root);
      assert.equal(files.path('/sys/x'), join(root, 'sys/x'));
      assert.equal(files.kernelRelease(), '6.1.0-test');
      assert.deepEqual([...files.kernelConfig('6.1.0-test')!.entries()], [['CONFIG_A', 'y'], ['CONFIG_C', '"x"']]);
      assert.deepEqual(files.listDir('/proc/sys'), ['kernel']);
      assert.equal(files.readText('/nope'), undefined);
      files.writeText('/proc/sys/kernel/osrelease', '6.2');
      assert.equal(files.readAttr('/proc/sys/kernel/osrelease'), '6.2');
      assert.throws(() => files.writeText('/no/such/dir/x', '1'), (err: Error & { code?: string }) => /writing "1" to \/no\/such\/dir\/x failed: ENOENT/.test(err.message) && err.code === 'ENOENT');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  describe('devbox-6.18 (this development machine: one node, DAMON without vaddr, a paddr kdamond of someone else)', () => {
    const { files, live } = recordedHost('devbox-6.18');
    const report = probeHost(files, live);
    const cap = (id: string) => report.capabilities.find((c) => c.id === id)!;

    it('the probe says it cannot run, naming vaddr, soft-dirty and the single node', () => {
      assert.equal(report.kernel, '6.18.44-fc-v669');
      assert.equal(report.canRun, false);
      assert.deepEqual(
        report.capabilities.filter((c) => c.required && !c.present).map((c) => c.id),
        ['damon-vaddr', 'soft-dirty', 'numa-nodes'],
      );
      assert.match(cap('damon-vaddr').detail, /CONFIG_DAMON_VADDR=not set; kdamond 0 running/);
      assert.match(cap('soft-dirty').detail, /^0 of 743 written pages .*CONFIG_MEM_SOFT_DIRTY=not set/);
      assert.equal(cap('move-pages').present, true);
      assert.equal(cap('privileges').present, true);
      assert.match(cap('thp').detail, /transparent huge pages: madvise/);
      assert.match(formatProbe(report), /^not ready: damon-vaddr is missing/m);
    });

    it('topology: one node with all CPUs, one memory tier', () => {
      const topo = readTopology(files);
      assert.deepEqual(topo.nodes.map((n) => [n.id, n.distances, n.cpus.length > 0]), [[0, [10], true]]);
      assert.ok(topo.nodes[0]!.memTotalBytes > topo.nodes[0]!.memFreeBytes);
      assert.deepEqual(topo.memoryTiers.map((t) => [t.name, t.nodes]), [['memory_tier4', [0]]]);
    });

    it('DAMON: kdamond 0 is on, monitoring physical addresses', () => {
      assert.deepEqual(runningKdamonds(files), [0]);
      assert.equal(files.readText('/sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/operations'), 'paddr');
    });
  });
});
