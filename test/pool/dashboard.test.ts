import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { PoolClient } from '../../plugin/pool/client.js';
import { reportFromWindow } from '../../plugin/pool/report.js';
import { packageRoot } from '../../plugin/pool/wire.js';
import type { PoolDaemon } from '../../plugin/pool/daemon.js';
import { launchChromium } from './browser.js';
import { startDaemon, tempDir, until } from './helpers.js';
import { syntheticWindow } from './synthetic-vm.js';

describe('pool dashboard in headless Chromium', function () {
  let browser: Browser | undefined;
  let daemon: PoolDaemon | undefined;
  const clients: PoolClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  const tmp = tempDir();

  after(async () => {
    timers.forEach(clearInterval);
    for (const c of clients) await c.close();
    await browser?.close();
    await daemon?.close();
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
    assert.ok('url' in daemon.address);
    const port = new URL(daemon.address.url).port;

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
        endpoint: daemon.address,
        hello: { domain: vm.name, pageCount: vm.pages, pageSizeBytes: 4096, staticQuotaPages: 4000, migrationPagesPerSec: 10_000 },
        apply: () => {},
      });
      clients.push(c);
      c.start();
      timers.push(setInterval(() => c.report(reportFromWindow(syntheticWindow(vm.pages, vm.hot(), c.quotaPages, 500))), 100));
    }
    await until(() => daemon!.core.state(Date.now()).vms.filter((v) => v.reports > 0).length === 4, 'four VMs reporting');

    browser = await launchChromium();
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

    const outDir = join(packageRoot(), 'out');
    mkdirSync(outDir, { recursive: true });
    const shot = join(outDir, 'pool-dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`      screenshot: ${shot}`);
  });
});
