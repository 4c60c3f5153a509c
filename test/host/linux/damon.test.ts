/**
 * DAMON on this machine and on recorded trees: the monitor claims a kdamond
 * of its own and refuses, naming why, when none is free (this development
 * machine runs someone else's paddr kdamond and lacks CONFIG_DAMON_VADDR) or
 * DAMON sysfs is missing. The registry lives in a temporary directory here,
 * never in this machine's /run/hmmv. Monitoring itself, two managers at once
 * and the SIGKILL reclaim are proven in the 6.12 guest (testbed.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DamonBusyError, DamonVaddrMonitor, defaultDamonAttrs, MIN_PAGES_PER_REGION, regionBoundsFor, runningKdamonds } from '../../../plugin/host/linux/damon.js';
import { DAMON_ADMIN, processStart, readRecords, readSlots, withDamonLock } from '../../../plugin/host/linux/damon-registry.js';
import { KernelFiles, readKernelConfig } from '../../../plugin/host/linux/sysfs.js';
import { recordedHost } from './fixtures.js';
import { writeTree } from './record-tree.js';

describe('linux host: DAMON monitor set-up', () => {
  let runDir = '';
  beforeEach(() => (runDir = mkdtempSync(join(tmpdir(), 'hmmv-damon-'))));
  afterEach(() => rmSync(runDir, { recursive: true, force: true }));

  it('on this machine: starts only where vaddr is built in and a kdamond is free, and otherwise says which', async () => {
    const vaddr = readKernelConfig(release())?.get('CONFIG_DAMON_VADDR') === 'y';
    const foreign = readSlots().filter((s) => s.running || s.configured);
    let monitor: DamonVaddrMonitor | undefined;
    try {
      monitor = await DamonVaddrMonitor.start(process.pid, {}, { runDir });
    } catch (err) {
      const message = (err as Error).message;
      if (foreign.length > 0 && runningKdamonds().length > 0) assert.match(message, /DAMON: no free kdamond among \d+ \(kdamond \d+: not hmmv's \(on, \w+ operations/);
      else assert.match(message, /CONFIG_DAMON_VADDR|CONFIG_DAMON_SYSFS/);
      assert.deepEqual(readRecords(runDir), [], 'no claim left behind');
      return;
    } finally {
      await monitor?.stop();
    }
    assert.ok(vaddr, 'started although vaddr is missing');
  });

  it('names the kernel options when DAMON sysfs is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'hmmv-nodamon-'));
    try {
      await assert.rejects(DamonVaddrMonitor.start(1, {}, { files: new KernelFiles(empty), runDir }), /DAMON sysfs interface missing .*CONFIG_DAMON_SYSFS and CONFIG_DAMON_VADDR/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('reads kdamond slots from a recorded tree: the dev box has one, running paddr, not configured by hmmv', () => {
    const { files } = recordedHost('devbox-6.18');
    const slots = readSlots(files);
    assert.deepEqual(slots.map((s) => [s.index, s.running, s.configured, s.operations]), [[0, true, true, 'paddr']]);
  });

  it('knows a process by its pid and start time (a reused pid has another)', () => {
    const mine = processStart(process.pid);
    assert.ok(Number.isInteger(mine) && mine! > 0);
    assert.equal(processStart(process.pid), mine);
    assert.equal(processStart(999_999_999), undefined);
  });

  it('bounds the regions by the guest size: the defaults from 500 MiB up, one region per 32 pages at most below, min <= max always', () => {
    assert.deepEqual(regionBoundsFor(128000), { minRegions: defaultDamonAttrs.minRegions, maxRegions: defaultDamonAttrs.maxRegions });
    assert.deepEqual(regionBoundsFor(32768), { minRegions: 102, maxRegions: 1024 }); // 128 MiB
    assert.deepEqual(regionBoundsFor(16 << 20), { minRegions: 200, maxRegions: 4000 });
    assert.deepEqual(regionBoundsFor(12288), { minRegions: 38, maxRegions: 384 }); // the 48 MiB nested guests of the test bed
    for (let pages = 1; pages < 100000; pages = Math.ceil(pages * 1.3)) {
      const b = regionBoundsFor(pages);
      assert.ok(b.minRegions >= 3 && b.minRegions <= b.maxRegions && b.maxRegions <= 4000, `${pages}: ${JSON.stringify(b)}`);
      if (pages >= 30 * MIN_PAGES_PER_REGION) assert.ok(b.maxRegions <= pages / MIN_PAGES_PER_REGION, `${pages}: ${JSON.stringify(b)}`);
    }
  });
});

/** A kdamond slot laid out as DAMON's 6.12 sysfs has it, in a plain directory, with `regions` as the scheme's tried regions. */
function damonTree(regions: { start: number; end: number; nrAccesses: number; age: number }[]): Record<string, string> {
  const k = `${DAMON_ADMIN}/kdamonds/0`;
  const ctx = `${k}/contexts/0`;
  const mon = `${ctx}/monitoring_attrs`;
  const s = `${ctx}/schemes/0`;
  const tree: Record<string, string> = {
    [`${DAMON_ADMIN}/kdamonds/nr_kdamonds`]: '1\n',
    [`${k}/state`]: 'off\n',
    [`${k}/contexts/nr_contexts`]: '0\n',
    [`${ctx}/avail_operations`]: 'vaddr\nfvaddr\npaddr\n',
    [`${ctx}/operations`]: 'vaddr\n',
    [`${ctx}/targets/nr_targets`]: '0\n',
    [`${ctx}/targets/0/pid_target`]: '0\n',
    [`${ctx}/schemes/nr_schemes`]: '0\n',
    [`${s}/action`]: 'stat\n',
  };
  for (const f of ['intervals/sample_us', 'intervals/aggr_us', 'intervals/update_us', 'nr_regions/max', 'nr_regions/min']) tree[`${mon}/${f}`] = '0\n';
  for (const key of ['sz', 'nr_accesses', 'age']) for (const end of ['min', 'max']) tree[`${s}/access_pattern/${key}/${end}`] = '0\n';
  regions.forEach((r, i) => {
    const d = `${s}/tried_regions/${i}`;
    Object.assign(tree, { [`${d}/start`]: `${r.start}\n`, [`${d}/end`]: `${r.end}\n`, [`${d}/nr_accesses`]: `${r.nrAccesses}\n`, [`${d}/age`]: `${r.age}\n` });
  });
  return tree;
}

describe('linux host: DAMON snapshots on a recorded layout', () => {
  let root = '';
  let runDir = '';
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hmmv-damon-tree-'));
    runDir = mkdtempSync(join(tmpdir(), 'hmmv-damon-run-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  });

  it("reads a region's age only when it is idle; another manager holding the request lock past the wait is a busy snapshot, not a failure", async () => {
    writeTree(root, damonTree([
      { start: 0x2000, end: 0x4000, nrAccesses: 0, age: 9 },
      { start: 0x1000, end: 0x2000, nrAccesses: 3, age: 7 },
    ]));
    const registry = { files: new KernelFiles(root), runDir, slots: 1, requestLockTimeoutMs: 200 };
    const monitor = await DamonVaddrMonitor.start(process.pid, {}, registry);
    try {
      assert.deepEqual(await monitor.snapshot(), [
        { start: 0x1000n, end: 0x2000n, nrAccesses: 3, age: 0 },
        { start: 0x2000n, end: 0x4000n, nrAccesses: 0, age: 9 },
      ]);
      // another manager's request in flight (flock on its own open file, even in this process)
      let release = (): void => undefined;
      const held = withDamonLock(runDir, 1000, () => new Promise<void>((r) => (release = r)), 'request.lock');
      await assert.rejects(monitor.snapshot(), (e: Error) => e instanceof DamonBusyError && /held .*request\.lock for over 200 ms/.test(e.message));
      release();
      await held;
      assert.equal((await monitor.snapshot()).length, 2, 'the next snapshot, with the lock free, answers');
      assert.equal(monitor.snapshotTotals.snapshots, 2);
    } finally {
      await monitor.stop();
    }
  });
});
