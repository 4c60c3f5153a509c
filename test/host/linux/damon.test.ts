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
import { DamonVaddrMonitor, defaultDamonAttrs, MIN_PAGES_PER_REGION, regionBoundsFor, runningKdamonds } from '../../../plugin/host/linux/damon.js';
import { processStart, readRecords, readSlots } from '../../../plugin/host/linux/damon-registry.js';
import { KernelFiles, readKernelConfig } from '../../../plugin/host/linux/sysfs.js';
import { recordedHost } from './fixtures.js';

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
