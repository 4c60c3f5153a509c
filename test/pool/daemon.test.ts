import assert from 'node:assert/strict';
import { request } from 'node:http';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PoolDaemon } from '../../plugin/pool/daemon.js';
import { PoolClient } from '../../plugin/pool/client.js';
import { VirtualClock } from '../../plugin/sim/machine/virtual-clock.js';
import { Peer, hello, messagesHandled, report, startDaemon, tempDir, until } from './helpers.js';

/** GET over the daemon's Unix socket or TCP port. */
function httpGet(target: { socketPath: string } | { port: number }, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...('socketPath' in target ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }), path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('pool daemon (virtual clock, real sockets)', function () {
  let tmp: ReturnType<typeof tempDir>;
  let sock: string;
  // Pool time (grace, settle, backoff, fallback, rate limits) runs on this clock: tests move it, nobody sleeps against it.
  let clock: VirtualClock;
  const now = (): number => clock.now() / 1e6;
  const advanceMs = (ms: number): Promise<void> => clock.advanceTo(clock.now() + ms * 1e6);
  /** Waits for `cond` while moving the clock on in small steps (reconnect backoffs run on it). */
  const untilAdvancing = async (cond: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 2000 && !cond(); i++) {
      await advanceMs(25);
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(cond, what, 0);
  };
  const daemons: PoolDaemon[] = [];
  const peers: Peer[] = [];
  const clients: PoolClient[] = [];
  const open = async (): Promise<Peer> => {
    const p = await Peer.open({ socketPath: sock });
    peers.push(p);
    return p;
  };
  const daemon = async (over: Parameters<typeof startDaemon>[1] = {}): Promise<PoolDaemon> => {
    const d = await startDaemon(sock, { clock, ...over });
    daemons.push(d);
    return d;
  };

  beforeEach(() => {
    tmp = tempDir();
    sock = join(tmp.dir, 'pool.sock');
    clock = new VirtualClock(1e12);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const p of peers.splice(0)) p.terminate();
    for (const d of daemons.splice(0)) await d.close();
    tmp.cleanup();
  });

  it('listens on a Unix socket only its owner may use, and refuses to start twice', async () => {
    await daemon();
    assert.equal(statSync(sock).mode & 0o777, 0o600);
    await assert.rejects(startDaemon(sock), /another pool daemon is listening/);
  });

  it("leaves the process's umask as it was, even when two daemons start at once", async () => {
    const before = process.umask();
    const other = join(tmp.dir, 'other.sock');
    const started = await Promise.all([startDaemon(sock, { clock }), startDaemon(other, { clock })]);
    daemons.push(...started);
    assert.equal(process.umask(), before, 'umask after both daemons listen');
    for (const path of [sock, other]) assert.equal(statSync(path).mode & 0o777, 0o600, path);
    // A file made now gets the process's own mask, not the socket's 0177.
    const file = join(tmp.dir, 'after');
    writeFileSync(file, '', { mode: 0o755 });
    assert.equal(statSync(file).mode & 0o777, 0o755 & ~before);
  });

  it('replaces a stale socket file left by a dead daemon', async () => {
    writeFileSync(sock, '');
    await daemon();
    const p = await open();
    assert.equal((await p.ask({ type: 'status' }, 'state')).vms.length, 0);
  });

  it('answers hello with the quota the manager runs on when it fits', async () => {
    await daemon();
    const a = await open();
    const w = await a.ask(hello('a'), 'welcome');
    assert.deepEqual(w, { type: 'welcome', protocol: 1, poolPages: 10_000, policy: 'utility', quotaPages: 2500, graceMs: 10_000 });
    const b = await open();
    assert.equal((await b.ask(hello('b', { currentQuotaPages: 9000 }), 'welcome')).quotaPages, 7500, 'only what is free');
  });

  it('replies to garbage, schema-invalid and oversized messages with an error and stays usable', async () => {
    const d = await daemon();
    const a = await open();
    await a.ask(hello('a'), 'welcome');
    a.send(report(0, 1000)); // a good report gets no reply
    await until(() => d.core.state(now()).vms[0]?.reports === 1, 'the report');
    let e = await a.ask('{"type": "report", oops', 'error');
    assert.equal(e.code, 'bad-json');
    e = await a.ask('\u0000\u0001binary garbage', 'error');
    assert.equal(e.code, 'bad-json');
    e = await a.ask({ ...report(1, 1000), hotSetPages: -5 }, 'error');
    assert.equal(e.code, 'invalid');
    assert.match(e.message, /"report" message field hotSetPages must be >= 0/);
    e = await a.ask({ ...report(2, 1000), color: 'blue' }, 'error');
    assert.match(e.message, /unknown field "color"/);
    e = await a.ask({ type: 'teleport' }, 'error');
    assert.match(e.message, /"type" "teleport"/);
    e = await a.ask({ ...report(3, 1000), histogram: new Array(40_000).fill(123456) }, 'error');
    assert.equal(e.code, 'too-large');
    e = await a.ask(hello('a2'), 'error');
    assert.equal(e.code, 'already-joined');
    // Nothing was lost: the connection, the VM and its last good report are all there.
    const s = await a.ask({ type: 'status' }, 'state');
    assert.equal(s.vms.length, 1);
    assert.equal(s.vms[0]!.hotSetPages, 1000);
    assert.equal(s.vms[0]!.reports, 1);
    assert.equal(a.closed, false);
    const metrics = await d.metrics.registry.getSingleMetricAsString('hmmv_pool_messages_rejected_total');
    assert.match(metrics, /code="invalid"} 3/);
    assert.equal(a.invalid.length, 0, `daemon sent messages its own schema refuses: ${a.invalid.join('; ')}`);
  });

  it('refuses reports before hello', async () => {
    await daemon();
    const p = await open();
    const e = await p.ask(report(0, 10), 'error');
    assert.equal(e.code, 'not-joined');
  });

  it('rate-limits a flooding client without disturbing the others', async () => {
    const d = await daemon({ rateLimit: { messagesPerSec: 20, burst: 20 } });
    const flooder = await open();
    const calm = await open();
    await flooder.ask(hello('flood'), 'welcome');
    await calm.ask(hello('calm'), 'welcome');
    const before = await messagesHandled(d);
    for (let i = 0; i < 2000; i++) flooder.send(report(i, 100 + i));
    const e = await flooder.next('error', 0);
    assert.equal(e.code, 'rate-limited');
    const errors = () => flooder.messages.filter((m) => m.type === 'error').length;
    assert.ok(errors() < 10, `a flood got ${errors()} error replies: the replies must not flood back`);
    // The calm client is served meanwhile.
    calm.send(report(0, 3000));
    const s = await calm.ask({ type: 'status' }, 'state');
    assert.equal(s.vms.find((v) => v.domain === 'calm')!.hotSetPages, 3000);
    // The flooder's VM is intact, and once the bucket refills (one second of the pool's clock) it is served again.
    await until(async () => (await messagesHandled(d)) >= before + 2000 + 2, 'the daemon to take the whole flood');
    await advanceMs(1000);
    const s2 = await flooder.ask({ type: 'status' }, 'state');
    const f = s2.vms.find((v) => v.domain === 'flood')!;
    assert.ok(f.connected && f.reports >= 1 && f.reports < 2000, `flooder state: ${JSON.stringify(f)}`);
    assert.equal(s2.allocatedPages, 5000);
    d.tick();
    assert.ok(d.core.allocatedPages() <= 10_000);
  });

  it('keeps a vanished manager\'s DRAM for the grace period, then gives it to the others', async () => {
    const d = await daemon({ graceMs: 400 });
    const a = await open();
    const b = await open();
    await a.ask(hello('a', { currentQuotaPages: 5000 }), 'welcome');
    await b.ask(hello('b', { currentQuotaPages: 5000 }), 'welcome');
    a.send(report(0, 4000));
    b.send(report(0, 8000, 100));
    await until(() => d.core.state(now()).vms.every((v) => v.reports === 1), 'both reports');
    a.terminate();
    await until(() => d.core.state(now()).vms.some((v) => !v.connected), 'the daemon to see a go');
    await advanceMs(399);
    d.tick();
    const held = d.core.state(now());
    assert.equal(held.vms.find((v) => v.domain === 'a')!.quotaPages, 5000, 'DRAM kept during the grace period');
    assert.equal(held.vms.find((v) => v.domain === 'a')!.graceLeftMs, 1);
    assert.equal(held.vms.find((v) => v.domain === 'b')!.quotaPages, 5000);
    await advanceMs(1);
    const from = b.messages.length;
    d.tick();
    const q = await b.next('quota', from);
    assert.equal(q.quotaPages, 8000, 'b takes the freed DRAM up to its size');
    assert.deepEqual(d.core.domains, ['b']);
  });

  it('a restarted manager takes over its domain within the grace period, and its reports count', async () => {
    const d = await daemon({ graceMs: 60_000 });
    const first = await open();
    await first.ask(hello('a', { currentQuotaPages: 3000 }), 'welcome');
    first.send(report(5, 1000));
    await until(() => d.core.state(now()).vms[0]?.hotSetPages === 1000, 'first report');
    // The new manager connects while the old connection still looks alive: the old one is told and closed.
    const second = await open();
    const w = await second.ask(hello('a', { currentQuotaPages: 1000 }), 'welcome');
    assert.equal(w.quotaPages, 3000, 'the domain keeps its quota');
    const e = await first.next('error', 0);
    assert.equal(e.code, 'replaced');
    await until(() => first.closed, 'the old connection to close');
    second.send(report(0, 2222)); // sequence numbers start again
    await until(() => d.core.state(now()).vms[0]?.hotSetPages === 2222, 'the new manager\'s report to count');
    assert.equal(d.core.state(now()).vms[0]!.connected, true);
  });

  it('reallocates every intervalMs of its clock, not before', async () => {
    const d = await daemon({ autoTick: true, intervalMs: 1000 });
    const a = await open();
    const b = await open();
    await a.ask(hello('a', { currentQuotaPages: 5000 }), 'welcome');
    await b.ask(hello('b', { currentQuotaPages: 5000 }), 'welcome');
    a.send(report(0, 7000, 500));
    b.send(report(0, 500, 10));
    await until(() => d.core.state(now()).vms.every((v) => v.reports === 1), 'both reports');
    await advanceMs(999);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(d.core.currentEpoch, 0, 'no reallocation before the interval');
    assert.equal(a.messages.filter((m) => m.type === 'quota').length, 0);
    await advanceMs(1);
    const q = await a.next('quota', 0);
    assert.ok(q.quotaPages > 5000, `a grows: ${q.quotaPages}`);
  });

  it('frees the DRAM of a manager that says bye at once', async () => {
    const d = await daemon();
    const a = await open();
    await a.ask(hello('a', { currentQuotaPages: 6000 }), 'welcome');
    a.send({ type: 'bye' });
    await until(() => d.core.domains.length === 0, 'a to leave');
    assert.equal(d.core.allocatedPages(), 0);
  });

  it('managers follow the utility policy; the hotter VM gets the DRAM', async () => {
    const d = await daemon();
    const quotas = new Map<string, number>();
    for (const [name, hot, rate] of [['cool', 1000, 10], ['hot', 7000, 500]] as const) {
      const c = new PoolClient({
        endpoint: { socketPath: sock },
        hello: { domain: name, pageCount: 8000, pageSizeBytes: 4096, staticQuotaPages: 5000, migrationPagesPerSec: 1e6 },
        apply: (q) => quotas.set(name, q),
        clock,
      });
      clients.push(c);
      c.start();
      await until(() => c.connected, `${name} to join`);
      c.report({ ...report(0, hot, rate) });
    }
    await until(() => d.core.state(now()).vms.every((v) => v.reports === 1), 'reports');
    d.tick();
    // Targets 7000/3000: hot's 7000 pages at 500/s, then cool's 1000 at 10/s and the 0.5/s pages it
    // already holds (moving a 0.5/s page costs more copies than it gains: the move cost, policies.ts).
    await until(() => quotas.get('hot') === 7000 && quotas.get('cool') === 3000, 'quotas 7000/3000').catch((err: Error) => {
      throw new Error(`${err.message}, got ${JSON.stringify([...quotas])}`);
    });
    assert.deepEqual(d.core.state(now()).vms.map((v) => v.targetPages), [3000, 7000]);
    assert.ok(d.core.allocatedPages() <= 10_000);
  });

  it('bounds each quota change by what the migrators move in one interval', async () => {
    const d = await daemon({ intervalMs: 1000 });
    const a = await open();
    const b = await open();
    await a.ask(hello('a', { currentQuotaPages: 5000, migrationPagesPerSec: 500 }), 'welcome');
    await b.ask(hello('b', { currentQuotaPages: 5000, migrationPagesPerSec: 500 }), 'welcome');
    a.send(report(0, 8000, 1000, { dramPages: 5000 }));
    b.send(report(0, 100, 1, { dramPages: 4000 }));
    await until(() => d.core.state(now()).vms.every((v) => v.reports === 1), 'reports');
    d.tick();
    const s = d.core.state(now());
    // b shrinks by one step (500); a may only grow into what b no longer holds in DRAM (b holds 4500 after its step).
    assert.deepEqual(s.vms.map((v) => [v.domain, v.quotaPages, v.targetPages]), [['a', 5500, 8000], ['b', 4500, 2000]]);
  });

  it('managers reconnect after a daemon restart and the daemon rebuilds its state from them', async function () {
    let d = await daemon({ settleMs: 0 });
    const quotas = new Map<string, number>();
    const mk = (name: string, hot: number, rate: number): PoolClient => {
      const c = new PoolClient({
        endpoint: { socketPath: sock },
        hello: { domain: name, pageCount: 8000, pageSizeBytes: 4096, staticQuotaPages: 5000, migrationPagesPerSec: 1e6 },
        apply: (q) => quotas.set(name, q),
        clock,
        initialBackoffMs: 50,
        maxBackoffMs: 200,
        fallbackAfterMs: 30_000,
      });
      clients.push(c);
      c.start();
      c.report(report(0, hot, rate));
      return c;
    };
    const a = mk('a', 7000, 500);
    const b = mk('b', 1000, 10);
    await until(() => a.connected && b.connected && d.core.state(now()).vms.every((v) => v.reports >= 1), 'both to join and report');
    d.tick();
    // a gets its hot pages; b keeps its 10/s pages and the 0.5/s ones it holds (not worth moving).
    await until(() => quotas.get('a') === 7000 && quotas.get('b') === 3000, 'first allocation').catch((err: Error) => {
      throw new Error(`${err.message}, got ${JSON.stringify([...quotas])}`);
    });
    await d.close();
    daemons.splice(daemons.indexOf(d), 1);
    await until(() => !a.connected && !b.connected, 'clients to notice');
    // A new daemon that holds quotas for a while after start, so nobody moves before all are back.
    d = await daemon({ settleMs: 60_000 });
    await untilAdvancing(() => a.connected && b.connected, 'reconnects (backoff on the pool clock)');
    await until(() => d.core.state(now()).vms.every((v) => v.reports >= 1), 'reports after reconnect');
    const s = d.core.state(now());
    assert.deepEqual(s.vms.map((v) => [v.domain, v.quotaPages]), [['a', 7000], ['b', 3000]], 'state rebuilt from the managers');
    assert.deepEqual([...quotas].sort(), [['a', 7000], ['b', 3000]], 'the managers kept their quotas through the restart');
    assert.ok(a.connects >= 2 && b.connects >= 2);
  });

  it('a manager without a daemon falls back to its static quota', async () => {
    const d = await daemon();
    let applied = -1;
    const c = new PoolClient({
      endpoint: { socketPath: sock },
      hello: { domain: 'a', pageCount: 8000, pageSizeBytes: 4096, staticQuotaPages: 2000, migrationPagesPerSec: 1e6 },
      apply: (q) => (applied = q),
      clock,
      initialBackoffMs: 50,
      fallbackAfterMs: 300,
    });
    clients.push(c);
    c.start();
    c.report(report(0, 7000, 100));
    await until(() => c.connected && d.core.state(now()).vms[0]?.reports === 1, 'join');
    d.tick();
    await until(() => applied === 8000, 'the pool quota (all of the VM)');
    await d.close();
    daemons.splice(0);
    await until(() => !c.connected, 'the client to notice');
    await advanceMs(299);
    assert.equal(applied, 8000, 'the pool quota holds within the fallback delay');
    await advanceMs(1);
    assert.equal(applied, 2000, 'the static quota once the fallback delay is over');
    assert.equal(c.quotaPages, 2000);
  });

  it('serves Prometheus metrics named per convention', async () => {
    await daemon();
    const a = await open();
    await a.ask(hello('vm-1'), 'welcome');
    a.send(report(0, 1234));
    let body = '';
    for (let i = 0; i < 200 && !body.includes('hmmv_vm_hot_set_bytes{domain="vm-1"} 5054464'); i++) {
      body = (await httpGet({ socketPath: sock }, '/metrics')).body;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(body, /hmmv_vm_hot_set_bytes\{domain="vm-1"\} 5054464/);
    assert.match(body, /# TYPE hmmv_vm_dram_quota_bytes gauge/);
    assert.match(body, /hmmv_vm_dram_quota_bytes\{domain="vm-1"\} 10240000/);
    assert.match(body, /hmmv_pool_size_bytes 40960000/);
    assert.match(body, /hmmv_vm_estimated_slowdown_ratio\{domain="vm-1"\} 1/);
  });

  it('on TCP it listens on loopback only and wants the token', async () => {
    await assert.rejects(startDaemon(sock, { tcp: { host: '0.0.0.0', port: 0, token: 'x'.repeat(32) } }), /loopback/);
    const token = 'secret-token-0123456789';
    const d = await daemon({ tcp: { host: '127.0.0.1', port: 0, token } });
    const tcp = d.tcpAddress!;
    const port = Number(new URL(tcp.url).port);
    assert.equal((await httpGet({ port }, '/metrics')).status, 401);
    assert.equal((await httpGet({ port }, '/metrics', { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
    assert.equal((await httpGet({ port }, '/metrics', { authorization: `Bearer ${token}` })).status, 200);
    await assert.rejects(Peer.open({ url: tcp.url, token }, {}), /401/);
    const p = await Peer.open(tcp);
    peers.push(p);
    assert.equal((await p.ask(hello('t'), 'welcome')).quotaPages, 2500);
    // The Unix socket serves beside it, without a token (its 0600 mode is the check).
    assert.equal((await httpGet({ socketPath: sock }, '/metrics')).status, 200);
    assert.equal(statSync(sock).mode & 0o777, 0o600);
  });
});
