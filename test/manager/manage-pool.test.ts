/**
 * `hmmv manage` in the DRAM pool, on a real QEMU (sim backend): it joins the
 * daemon named in its metadata, reports windows, applies the pushed quota and
 * shows it in its status with the source; it clamps a quota outside the
 * domain's bounds; without a daemon it runs on the static quota and joins
 * when one appears; it keeps its quota while the daemon restarts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { createServer } from 'node:http';
import type { PoolDaemon } from '../../plugin/pool/daemon.js';
import { statusPath } from '../../plugin/runtime/paths.js';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';
import { startDaemon } from '../pool/helpers.js';
import { exitOf, readStatus, startManager, waitFor, type ManagerProcess } from './manager-process.js';

const MiB = 1024 ** 2;
const pages = (mib: number) => (mib * MiB) / 4096;

describe('hmmv manage in the DRAM pool (real QEMU, sim backend)', function () {
  this.timeout(90000);
  const domain = `hmmv-t-mpool-${process.pid}`;
  let dir: string;
  let qemu: QemuInstance | undefined;
  let manager: ManagerProcess | undefined;
  const daemons: PoolDaemon[] = [];
  const quota = () => readStatus(domain)?.tiering?.quota;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-mpool-'));
    qemu = await startQemu({ paused: false });
  });
  afterEach(async () => {
    if (manager && manager.child.exitCode === null && manager.child.signalCode === null) manager.child.kill('SIGKILL');
    manager = undefined;
    for (const d of daemons.splice(0)) await d.close();
    await qemu?.stop();
    qemu = undefined;
    rmSync(dir, { recursive: true, force: true });
    rmSync(statusPath(domain), { force: true });
  });

  it('joins the daemon, reports windows, runs on the pushed quota within its bounds; keeps it through a daemon restart', async () => {
    const sock = path.join(dir, 'pool.sock');
    const opts = { poolPages: pages(256), settleMs: 0, graceMs: 60_000 };
    daemons.push(await startDaemon(sock, opts));
    manager = startManager(dir, domain, qemu!.qmpSocketPath, { dram: 'quota="64MiB" min="16MiB" max="96MiB" weight="300"', extra: '<hmmv:tracking window-ms="100" rounds="4"/>' });
    const d = daemons[0]!;
    await waitFor('two window reports at the daemon', () => (d.core.state(Date.now()).vms[0]?.reports ?? 0) >= 2, 30000);
    const joined = d.core.state(Date.now()).vms[0]!;
    assert.equal(joined.domain, domain);
    assert.equal(joined.pageCount, pages(256), 'the guest RAM in pages');
    assert.equal(joined.staticQuotaPages, pages(64));
    assert.equal(joined.quotaPages, pages(64), 'joins on what it runs on');
    // The guest is idle (no workload in a dry run): utility spreads the pool evenly as headroom, capped at the max.
    d.tick();
    await waitFor('the pushed quota in the status file', () => quota()?.pages === pages(96) && quota()?.source === 'pool');
    const st = readStatus(domain)!.tiering!;
    assert.deepEqual(st.bounds, { minPages: pages(16), maxPages: pages(96), weight: 300 });
    assert.equal(st.pool.connected, true);
    assert.ok(st.window && st.window.dramPages + st.window.nvmPages === pages(256), JSON.stringify(st.window));

    // The daemon goes away and comes back: the manager keeps its quota meanwhile and rejoins with it.
    await d.close();
    daemons.splice(0);
    await waitFor('the manager to notice', () => readStatus(domain)?.tiering?.pool.connected === false);
    assert.equal(quota()?.pages, pages(96), 'quota kept while the daemon is away (within its grace period)');
    const again = await startDaemon(sock, { ...opts, settleMs: 60_000 });
    daemons.push(again);
    await waitFor('the rejoin', () => again.core.state(Date.now()).vms[0]?.connected === true && readStatus(domain)?.tiering?.pool.connected === true);
    assert.equal(again.core.quotaOf(domain), pages(96), 'the new daemon rebuilt the quota from the manager');
    assert.match(manager.log(), /pool daemon at .* is not answering: keeping quota 24576 pages/);

    manager.child.kill('SIGTERM');
    assert.equal(await exitOf(manager.child), 0);
    await waitFor('the goodbye to free the DRAM', () => again.core.domains.length === 0, 5000);
  });

  it('without a daemon runs on the static quota, and joins one that starts later', async () => {
    const sock = path.join(dir, 'later.sock');
    manager = startManager(dir, domain, qemu!.qmpSocketPath, { dram: 'quota="32MiB" max="64MiB"', poolSocket: sock, extra: '<hmmv:tracking window-ms="100" rounds="4"/>' });
    await waitFor('the engine on the static quota', () => readStatus(domain)?.state === 'running' && quota()?.source === 'static');
    assert.equal(quota()?.pages, pages(32));
    assert.equal(readStatus(domain)!.tiering!.pool.connected, false);
    await waitFor('the outage logged once', () => /is not answering/.test(manager!.log()));
    const d = await startDaemon(sock, { poolPages: pages(48), settleMs: 0 });
    daemons.push(d);
    await waitFor('the join after the backoff', () => (d.core.state(Date.now()).vms[0]?.reports ?? 0) >= 1, 30000);
    d.tick();
    await waitFor('the pool quota', () => quota()?.source === 'pool' && quota()!.pages === pages(48)).catch((e: Error) => {
      throw new Error(`${e.message}: status ${JSON.stringify(quota())}, daemon ${JSON.stringify(d.core.state(Date.now()).vms.map((v) => [v.quotaPages, v.targetPages]))}`);
    });
    assert.equal((manager.log().match(/is not answering/g) ?? []).length, 1, 'one line per outage, not one per retry');
  });

  it('clamps a quota outside the domain bounds from a daemon that ignores them, and says so', async () => {
    // A daemon that welcomes with more than the max, then pushes less than the min.
    const sock = path.join(dir, 'liar.sock');
    const server = createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as { type: string };
        if (m.type !== 'hello') return;
        ws.send(JSON.stringify({ type: 'welcome', protocol: 1, poolPages: pages(1024), policy: 'utility', quotaPages: pages(200) }));
        setTimeout(() => ws.send(JSON.stringify({ type: 'quota', quotaPages: 1, epoch: 1 })), 1500);
      });
    });
    await new Promise<void>((r) => server.listen(sock, () => r()));
    try {
      manager = startManager(dir, domain, qemu!.qmpSocketPath, { dram: 'quota="32MiB" min="8MiB" max="48MiB"', poolSocket: sock });
      await waitFor('the clamped welcome quota', () => quota()?.source === 'clamped' && quota()!.requestedPages === pages(200));
      assert.equal(quota()!.pages, pages(48), 'capped at the max');
      await waitFor('the clamped push', () => quota()?.requestedPages === 1);
      assert.equal(quota()!.pages, pages(8), 'raised to the min');
      assert.match(manager.log(), /the pool asked for 1 pages, outside this domain's bounds: applying 2048/);
    } finally {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
