/**
 * The dashboard's history charts in the real Chromium (playwright-core,
 * /usr/bin/chromium): DRAM share per VM, page migrations per VM and DRAM hit
 * ratio per VM over time, each with axes, ticks and units. Once with pool
 * clients whose hot sets move, once with the managers of real libvirt
 * domains (a private libvirtd, two-hosts.ts, so the machine's libvirtd is
 * not touched). Screenshots in out/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PoolClient } from '../../plugin/pool/client.js';
import { defaultCoreConfig } from '../../plugin/pool/core.js';
import { startPoolDaemon, type PoolDaemon } from '../../plugin/pool/daemon.js';
import { reportFromWindow } from '../../plugin/pool/report.js';
import { packageRoot } from '../../plugin/pool/wire.js';
import { CLI, run, uniqueName, waitFor } from '../helpers/libvirt.js';
import { launchChromium } from '../pool/browser.js';
import { syntheticWindow } from '../pool/synthetic-vm.js';
import { counterGuestImage, startTestHost, type TestHost } from './two-hosts.js';

const TOKEN = 'history-dashboard-token-0123456789';

async function daemonAt(socketPath: string, poolPages: number): Promise<PoolDaemon> {
  return startPoolDaemon({
    ...defaultCoreConfig(poolPages),
    socketPath,
    tcp: { host: '127.0.0.1', port: 0, token: TOKEN },
    intervalMs: 200,
    settleMs: 0,
    hysteresisPages: 0,
    maxMessageBytes: 256 * 1024,
    rateLimit: { messagesPerSec: 50, burst: 50 },
  });
}

interface ChartView {
  title: string;
  xLabel: string;
  yLabel: string;
  xTicks: string[];
  yTicks: string[];
  series: { name: string; count: number; points: [number, number][] }[];
}

/** What a chart shows, read from the page's SVG. */
function chart(page: Page, id: string): Promise<ChartView> {
  return page.$eval(`[data-testid=chart-${id}]`, (svg) => ({
    title: svg.querySelector('.chart-title')?.textContent ?? '',
    xLabel: svg.querySelector('[data-label=x]')?.textContent ?? '',
    yLabel: svg.querySelector('[data-label=y]')?.textContent ?? '',
    xTicks: [...svg.querySelectorAll('.x-tick')].map((t) => t.textContent ?? ''),
    yTicks: [...svg.querySelectorAll('.y-tick')].map((t) => t.textContent ?? ''),
    series: [...svg.querySelectorAll('polyline')].map((l) => ({
      name: l.getAttribute('data-series') ?? '',
      count: Number(l.getAttribute('data-count')),
      points: (l.getAttribute('points') ?? '').split(' ').map((p: string) => p.split(',').map(Number) as [number, number]),
    })),
  }));
}

async function screenshot(page: Page, name: string): Promise<void> {
  const dir = path.join(packageRoot(), 'out');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, name), fullPage: true });
  console.log(`      screenshot: ${path.join(dir, name)}`);
}

const minPoints = (id: string, n: number) =>
  `(() => { const l = [...document.querySelectorAll('[data-testid=chart-${id}] polyline')]; return l.length > 0 && l.every((p) => Number(p.getAttribute('data-count')) >= ${n}); })()`;

describe('pool dashboard history in headless Chromium', function () {
  this.timeout(300_000);
  let browser: Browser | undefined;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await browser?.close();
  });

  it('charts DRAM share, migrations and DRAM hit ratio per VM over time, with axes and units', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'hmmv-hist-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    const daemon = await daemonAt(path.join(tmp, 'pool.sock'), 16_000);
    cleanups.push(() => daemon.close());
    let phase = 0;
    const vms = [
      { name: 'web', hot: () => 2500 },
      { name: 'db', hot: () => (phase ? 7000 : 1500) },
      { name: 'batch', hot: () => (phase ? 1000 : 6000) },
    ];
    for (const vm of vms) {
      const c = new PoolClient({
        endpoint: daemon.tcpAddress!,
        hello: { domain: vm.name, pageCount: 8000, pageSizeBytes: 4096, staticQuotaPages: 4000, migrationPagesPerSec: 10_000 },
        apply: () => {},
      });
      c.start();
      const timer = setInterval(() => c.report(reportFromWindow(syntheticWindow(8000, vm.hot(), c.quotaPages, phase ? 3000 : 200))), 100);
      cleanups.push(() => (clearInterval(timer), c.close()));
    }
    browser ??= await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`http://127.0.0.1:${new URL(daemon.tcpAddress!.url).port}/?token=${TOKEN}`);
    await page.waitForFunction(minPoints('share', 4), undefined, { timeout: 60_000 });
    phase = 1;
    await page.waitForFunction(minPoints('share', 9), undefined, { timeout: 60_000 });

    const share = await chart(page, 'share');
    assert.equal(share.title, 'DRAM share per VM (% of the pool)');
    assert.equal(share.xLabel, 'time (seconds ago)');
    assert.equal(share.yLabel, '% of the pool');
    assert.deepEqual(share.yTicks, ['0', '20', '40', '60', '80', '100']);
    assert.equal(share.xTicks[0], 'now');
    assert.ok(share.xTicks.slice(1).every((t) => /^-\d+$/.test(t)), share.xTicks.join(','));
    assert.deepEqual(share.series.map((s) => s.name).sort(), ['batch', 'db', 'web']);
    // y grows downwards in SVG: db's share rose after the phase change, batch's fell.
    const db = share.series.find((s) => s.name === 'db')!.points;
    const batch = share.series.find((s) => s.name === 'batch')!.points;
    assert.ok(db.at(-1)![1] < db[0]![1], `db's line goes up: ${JSON.stringify(db)}`);
    assert.ok(batch.at(-1)![1] > batch[0]![1], `batch's line goes down: ${JSON.stringify(batch)}`);
    for (const s of share.series) for (let i = 1; i < s.points.length; i++) assert.ok(s.points[i]![0] > s.points[i - 1]![0], 'time runs left to right');

    const migr = await chart(page, 'migrations');
    assert.equal(migr.yLabel, 'pages/s');
    assert.equal(migr.series.length, 3);
    assert.ok(migr.yTicks.length >= 3 && migr.yTicks.includes('0'), migr.yTicks.join(','));
    const hit = await chart(page, 'hit');
    assert.equal(hit.yLabel, '% of accesses');
    assert.equal(hit.series.length, 3, 'the synthetic VMs have accesses: a hit-ratio line each');
    assert.ok(hit.series.every((s) => s.points.every(([, y]) => y >= 26 && y <= 182)), 'hit ratios inside the plot area');
    assert.equal(await page.locator('[data-testid=histogram] [data-label=x]').count(), 3, 'the temperature histograms have axes too');
    await screenshot(page, 'pool-dashboard-history.png');
    await page.close();
  });

  it('shows the managers of real libvirt domains, with their history', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'hmmv-hist-lv-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const host: TestHost = await startTestHost(base, 'h', 49640);
    cleanups.push(() => host.stop());
    const daemon = await daemonAt(host.outside('/run/hmmv/pool.sock'), 32_768);
    cleanups.push(() => daemon.close());
    const kernel = path.join(base, 'guest.bin');
    writeFileSync(kernel, counterGuestImage());
    const names = [uniqueName('dash1'), uniqueName('dash2')];
    for (const [i, name] of names.entries()) {
      const xml = path.join(base, `${name}.xml`);
      writeFileSync(
        xml,
        `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type><kernel>${kernel}</kernel></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`,
      );
      assert.equal((await host.virsh(['define', xml])).code, 0);
      const e = await run(process.execPath, [CLI, 'domain', 'enable', name, '--dram', i === 0 ? '48MiB' : '16MiB', '--dram-min', '8MiB', '--backend', 'sim'], {
        env: { LIBVIRT_DEFAULT_URI: host.uri },
      });
      assert.equal(e.code, 0, e.stderr);
      const s = await host.virsh(['start', name]);
      assert.equal(s.code, 0, s.stderr);
      cleanups.push(() => host.virsh(['destroy', name], 30_000));
    }
    await waitFor('both managers in the pool', () => names.every((n) => daemon.core.state(Date.now()).vms.find((v) => v.domain === n)?.connected), 90_000);

    browser ??= await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`http://127.0.0.1:${new URL(daemon.tcpAddress!.url).port}/?token=${TOKEN}`);
    await page.waitForFunction(minPoints('share', 5), undefined, { timeout: 60_000 });
    const cards = await page.$$eval('[data-testid=vm]', (els) => els.map((e) => e.getAttribute('data-domain')));
    assert.deepEqual(cards.sort(), [...names].sort());
    const share = await chart(page, 'share');
    assert.deepEqual(share.series.map((s) => s.name).sort(), [...names].sort());
    assert.ok(share.series.every((s) => s.count >= 5));
    const migr = await chart(page, 'migrations');
    assert.equal(migr.series.length, 2);
    assert.deepEqual(new Set(migr.yTicks).size, migr.yTicks.length, `distinct y ticks even for flat data: ${migr.yTicks.join(',')}`);
    // The sim backend's dry run reports no guest accesses: no hit ratio to draw, and the chart says so.
    assert.equal(await page.locator('[data-testid=chart-hit] .no-data').count(), 1);
    await screenshot(page, 'pool-dashboard-libvirt.png');
    await page.close();
  });
});
