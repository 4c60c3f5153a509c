import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { PoolClient } from '../../plugin/pool/client.js';
import { reportFromWindow } from '../../plugin/pool/report.js';
import { packageRoot } from '../../plugin/pool/wire.js';
import type { PoolDaemon } from '../../plugin/pool/daemon.js';
import { startPoolDaemon } from '../../plugin/pool/daemon.js';
import type { InProcessPool } from '../../plugin/pool/in-process.js';
import { hmmvPoolPolicy } from '../../plugin/sim/policies/hmmv-pool.js';
import { SimMachine } from '../../plugin/sim/machine/machine.js';
import { tierPreset } from '../../plugin/sim/machine/tiers.js';
import { makeWorkload } from '../../plugin/sim/workloads/index.js';
import { launchChromium } from './browser.js';
import { daemonOptions } from './helpers.js';
import { startDaemon, tempDir, until } from './helpers.js';
import { syntheticWindow } from './synthetic-vm.js';

describe('pool dashboard in headless Chromium', function () {
  let browser: Browser | undefined;
  let daemon: PoolDaemon | undefined;
  let simDaemon: PoolDaemon | undefined;
  let simRun: Promise<unknown> | undefined;
  const clients: PoolClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  const tmp = tempDir();

  after(async () => {
    timers.forEach(clearInterval);
    for (const c of clients) await c.close();
    await browser?.close();
    await daemon?.close();
    await simRun?.catch(() => undefined);
    await simDaemon?.close();
    tmp.cleanup();
  });

  it('loads, shows the VMs of a running host, follows a hot set that moves, and writes a screenshot', async () => {
    const token = 'dashboard-test-token-0123456789';
    daemon = await startDaemon(join(tmp.dir, 'pool.sock'), {
      poolPages: 16_000,
      tcp: { host: '127.0.0.1', port: 0, token },
      autoTick: true,
      intervalMs: 200,
      hysteresisPages: 50,
    });
    const port = new URL(daemon.tcpAddress!.url).port;

    // Four VMs; "db"'s hot set grows while "batch"'s shrinks once `phase` flips.
    let phase = 0;
    const vms = [
      { name: 'web', pages: 8000, hot: () => 2500 },
      { name: 'db', pages: 8000, hot: () => (phase ? 7000 : 1500) },
      { name: 'batch', pages: 8000, hot: () => (phase ? 1000 : 6000) },
      { name: 'cache', pages: 8000, hot: () => 3000 },
    ];
    for (const vm of vms) {
      const c = new PoolClient({
        endpoint: daemon.tcpAddress!,
        hello: { domain: vm.name, pageCount: vm.pages, pageSizeBytes: 4096, staticQuotaPages: 4000, migrationPagesPerSec: 10_000 },
        apply: () => {},
      });
      clients.push(c);
      c.start();
      timers.push(setInterval(() => c.report(reportFromWindow(syntheticWindow(vm.pages, vm.hot(), c.quotaPages, 500))), 100));
    }
    await until(() => daemon!.core.state(Date.now()).vms.filter((v) => v.reports > 0).length === 4, 'four VMs reporting');

    browser ??= await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const denied = await page.goto(`http://127.0.0.1:${port}/`);
    assert.equal(denied?.status(), 401, 'the dashboard needs the token on TCP');

    const resp = await page.goto(`http://127.0.0.1:${port}/?token=${token}`);
    assert.equal(resp?.status(), 200);
    await page.waitForSelector('[data-testid=link].up', { timeout: 20_000 });
    await page.locator('[data-testid=vm]').nth(3).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('[data-testid=vm]').count(), 4);
    const names = await page.$$eval('[data-testid=vm]', (els) => els.map((e) => e.getAttribute('data-domain')));
    assert.deepEqual(names, ['batch', 'cache', 'db', 'web']);
    const share = (domain: string): Promise<string> =>
      page.$eval(`[data-domain="${domain}"] [data-field=share]`, (e) => e.textContent ?? '');
    assert.match(await share('db'), /^\d+\.\d% \(/);
    assert.equal(await page.locator('[data-domain=db] svg.hist rect').count(), 3, 'histogram drawn with its three occupied buckets');

    // Move the hot sets and watch the quota follow on the page.
    const dbBefore = parseFloat(await share('db'));
    phase = 1;
    await page.waitForFunction(
      `parseFloat(document.querySelector('[data-domain="db"] [data-field=share]')?.textContent ?? '0') > ${dbBefore + 10}`,
      undefined,
      { timeout: 30_000 },
    );
    const dbAfter = parseFloat(await share('db'));
    const batchAfter = parseFloat(await share('batch'));
    assert.ok(dbAfter > batchAfter, `db ${dbAfter}% should now have more DRAM than batch ${batchAfter}%`);
    const updates = Number(await page.textContent('[data-testid=updates]'));
    assert.ok(updates > 3, `page updated ${updates} times`);

    await screenshot(page, 'pool-dashboard.png');
    await page.close();
  });

  it('shows the VMs of a running simulated host with the pool in-process, updating live', async () => {
    // Four VMs on the simulated machine; vm1's hot set grows while vm2's shrinks.
    const pages = 8192;
    const resize = (from: number, to: number, seed: number) =>
      makeWorkload({ kind: 'resize', pageCount: pages, seed, params: { hotFraction: from, hotFractionAfter: to, phaseOps: 1_500_000 } });
    const workloads = [makeWorkload({ kind: 'kv-zipf', pageCount: pages, seed: 1 }), resize(0.1, 0.7, 2), resize(0.7, 0.1, 3), makeWorkload({ kind: 'gups', pageCount: pages, seed: 4 })];
    let gotPool: (p: InProcessPool) => void = () => {};
    const poolReady = new Promise<InProcessPool>((r) => (gotPool = r));
    const policy = hmmvPoolPolicy({ engine: { roundIntervalNs: 5e6 }, onPool: gotPool, onState: () => simDaemon?.publishState() });
    const machine = new SimMachine(
      {
        preset: tierPreset('optane'),
        dramPages: 4 * 2048,
        nvmPages: 4 * 8192,
        trafficScale: 8,
        vms: workloads.map((workload, i) => ({ name: `sim-vm${i}`, workload, pageCount: pages, vcpus: 1, dramQuotaPages: 2048 })),
      },
      policy,
    );
    simRun = machine.run(3e9, undefined, 10e6);
    const pool = await poolReady;
    const token = 'sim-dashboard-token-0123456789';
    simDaemon = await startPoolDaemon({
      ...daemonOptions(join(tmp.dir, 'sim.sock')),
      tcp: { host: '127.0.0.1', port: 0, token },
      core: pool.core,
      clock: machine.clock,
    });
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${new URL(simDaemon.tcpAddress!.url).port}/?token=${token}`);
    await page.locator('[data-testid=vm]').nth(3).waitFor({ timeout: 30_000 });
    const names = await page.$$eval('[data-testid=vm]', (els) => els.map((e) => e.getAttribute('data-domain')));
    assert.deepEqual(names, ['sim-vm0', 'sim-vm1', 'sim-vm2', 'sim-vm3']);
    const shares = (): Promise<string[]> => page.$$eval('[data-field=share]', (els) => els.map((e) => e.textContent ?? ''));
    const first = await shares();
    const firstUpdates = Number(await page.textContent('[data-testid=updates]'));
    await page.waitForFunction(`Number(document.querySelector('[data-testid=updates]').textContent) > ${firstUpdates + 3}`, undefined, { timeout: 60_000 });
    await page.waitForFunction(
      `JSON.stringify([...document.querySelectorAll('[data-field=share]')].map((e) => e.textContent)) !== ${JSON.stringify(JSON.stringify(first))}`,
      undefined,
      { timeout: 60_000 },
    );
    assert.equal(await page.locator('[data-testid=vm] svg.hist').count(), 4, 'a histogram per VM');
    await screenshot(page, 'pool-dashboard-sim.png');
    await simRun;
  });
});

/** Writes a screenshot for people to look at (out/ is not committed). */
async function screenshot(page: import('playwright-core').Page, name: string): Promise<void> {
  const outDir = join(packageRoot(), 'out');
  mkdirSync(outDir, { recursive: true });
  const shot = join(outDir, name);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`      screenshot: ${shot}`);
}
