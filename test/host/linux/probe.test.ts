/**
 * The capability probe on the machine the tests run on. This development
 * machine (and CI) has one NUMA node, no soft-dirty and no page_idle: the probe
 * must say so, `hmmv host check` must print it, and the backend must refuse to
 * start naming what is missing. Expectations come from independent reads of
 * sysfs and the kernel config, so the suite also holds on a host that has it all.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openLinuxHost } from '../../../plugin/host/linux/linux-host.js';
import { probeHost } from '../../../plugin/host/linux/probe.js';
import { parseNodeList, readKernelConfig, readText } from '../../../plugin/host/linux/sysfs.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../../plugin/cli.js', import.meta.url));

describe('linux host: capability probe on this machine', () => {
  const report = probeHost();
  const cap = (id: string) => {
    const c = report.capabilities.find((x) => x.id === id);
    assert.ok(c, `probe has no entry for ${id}`);
    return c;
  };

  it('reports each interface the backend uses', () => {
    const ids = report.capabilities.map((c) => c.id);
    for (const id of ['damon-vaddr', 'page-idle', 'soft-dirty', 'move-pages', 'numa-nodes', 'thp', 'privileges']) assert.ok(ids.includes(id as never), `missing ${id}`);
    assert.equal(report.kernel, release());
  });

  it('counts NUMA nodes as sysfs does, and names daxctl when there is only one', () => {
    const nodes = parseNodeList(readText('/sys/devices/system/node/online') ?? '');
    const c = cap('numa-nodes');
    assert.equal(c.present, nodes.length >= 2, c.detail);
    if (nodes.length < 2) assert.match(c.remedy ?? '', /daxctl reconfigure-device --mode=system-ram/);
  });

  it('sees soft-dirty exactly when the kernel was built with it', () => {
    const config = readKernelConfig(release());
    const c = cap('soft-dirty');
    if (config) assert.equal(c.present, config.get('CONFIG_MEM_SOFT_DIRTY') === 'y', c.detail);
    if (!c.present) assert.match(c.remedy ?? '', /CONFIG_MEM_SOFT_DIRTY/);
  });

  it('sees page_idle exactly when its sysfs bitmap exists', () => {
    const c = cap('page-idle');
    assert.equal(c.present, existsSync('/sys/kernel/mm/page_idle/bitmap'));
    if (!c.present) assert.match(c.remedy ?? '', /CONFIG_IDLE_PAGE_TRACKING/);
  });

  it('finds move_pages working through koffi (the query form, on this process)', () => {
    const c = cap('move-pages');
    assert.equal(c.present, true, c.detail);
    assert.match(c.detail, /node \d+/);
  });

  it('`hmmv host check` prints one line per interface and exits 1 exactly when something required is missing', async () => {
    let stdout = '';
    let code = 0;
    try {
      ({ stdout } = await run(process.execPath, [cli, 'host', 'check']));
    } catch (err) {
      const e = err as { code: number; stdout: string };
      code = e.code;
      stdout = e.stdout;
    }
    for (const c of report.capabilities) assert.match(stdout, new RegExp(`^  ${c.id} +(present|MISSING|missing) `, 'm'));
    assert.equal(code, report.canRun ? 0 : 1, stdout);
    for (const c of report.capabilities.filter((x) => x.required && !x.present)) {
      assert.match(stdout, new RegExp(`${c.id} +MISSING`), `${c.id} should print as MISSING`);
      assert.ok(stdout.includes(c.remedy!), `the remedy for ${c.id} is printed`);
    }
  });

  it('the backend refuses to start here with an error naming every missing interface', async () => {
    const missing = report.capabilities.filter((c) => c.required && !c.present);
    const opening = openLinuxHost({ pid: process.pid, ram: [{ name: 'x', start: 0x10000n, lengthBytes: 4096 }], dramNodes: [0], nvmNodes: [1], probe: report });
    if (missing.length === 0) {
      // A host with everything: the backend gets past the probe (and then fails on the fake mapping or nodes).
      await assert.rejects(opening, (err: Error) => !/cannot run on this host/.test(err.message));
      return;
    }
    await assert.rejects(opening, (err: Error) => {
      assert.match(err.message, /linux host backend cannot run on this host/);
      for (const c of missing) assert.ok(err.message.includes(c.id) && err.message.includes(c.remedy!), `message names ${c.id}: ${err.message}`);
      return true;
    });
  });
});
