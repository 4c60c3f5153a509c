/**
 * The whole chain on an emulated Optane host. One boot of the TCG test bed as
 * an Optane host (QEMU NVDIMM/NFIT -> nd_pmem -> devdax -> daxctl system-ram:
 * a memory-only NUMA node in the lower memory tier; a second NVDIMM left as
 * devdax), with libvirtd inside; in it, test/e2e-host/in-host.ts does what an
 * operator does (hmmv hooks install, the pool daemon, virsh define, hmmv
 * domain enable --backend linux, virsh start of nested TCG domains running
 * the tiny guest) and watches from outside hmmv. Each `it` asserts on what it
 * reported; the measurements go to out/e2e-host.json. What this cannot prove
 * (KVM's EPT accessed bits, PML, a 2-socket Optane host) is in
 * docs/emulated-optane.md.
 */
import assert from 'node:assert/strict';
import { bootGuest, type GuestRun } from '../guest/testbed.js';
import { e2eHostBootOptions, resultOf, writeE2eHostJson, type Result } from './e2e-report.js';

describe('emulated-Optane host: libvirt, nested guests, hmmv moving their memory', function () {
  let guest: GuestRun;

  before(async function () {
    this.timeout(50 * 60_000); // bounded: first run downloads the kernel and builds the layers
    const t0 = Date.now();
    guest = await bootGuest(e2eHostBootOptions(45 * 60_000));
    writeE2eHostJson(guest, (Date.now() - t0) / 1000);
  });

  const result = (check: string): Result => resultOf(guest, check);
  const fault = (name: string): Result => {
    const f = result(`fault-${name}`);
    assert.equal(f.passed, true, JSON.stringify(f, null, 1));
    return f;
  };

  it('NVDIMM -> devdax -> system-ram gives a memory-only NUMA node; the second NVDIMM stays a devdax device', () => {
    const setup = result('nvdimm-setup');
    assert.equal(setup.ok, true, setup.error);
    const [ram, dax] = setup.devices as Result[];
    assert.equal(ram!.mode, 'system-ram');
    assert.ok(ram!.nodeMemTotalKiB > 0, JSON.stringify(ram));
    assert.equal(dax!.mode, 'devdax');
    assert.match(dax!.path, /^\/dev\/dax\d+\.\d+$/);
    const nodes = result('topology').topology.nodes as { id: number; cpus: number[]; memTotalBytes: number }[];
    const slow = nodes.find((n) => n.id === ram!.node)!;
    assert.deepEqual(slow.cpus, [], 'the NVDIMM node has no CPUs');
    assert.equal(slow.memTotalBytes, ram!.nodeMemTotalKiB * 1024);
  });

  it("the guest kernel puts the NVDIMM's node in a lower memory tier (QEMU's ACPI HMAT)", () => {
    const topo = result('topology').topology as { memoryTiers: { rank: number; nodes: number[] }[] };
    const node = (result('nvdimm-setup').devices as Result[])[0]!.node as number;
    const rankOf = (n: number) => topo.memoryTiers.find((t) => t.nodes.includes(n))?.rank;
    assert.ok(rankOf(node)! > rankOf(0)!, JSON.stringify(topo.memoryTiers));
  });

  it('libvirtd runs inside; `hmmv host check` says ready', () => {
    const lv = result('libvirtd-setup');
    assert.equal(lv.ok, true, lv.error);
    const check = result('host-check');
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    assert.match(check.stdout, /^ready: /m);
  });

  it('`hmmv hooks install --reload` installs the hook; the pool daemon answers', () => {
    const hook = result('hooks-install');
    assert.equal(hook.hookPresent, true);
    assert.match(hook.stdout, /sent SIGHUP to libvirtd/);
    assert.equal(result('pool-up').status.type, 'state');
  });

  it('virsh define + hmmv domain enable (each its own pool bounds) + virsh start of two domains: the hook starts a manager for each, which runs the engine on the linux backend', () => {
    const enabled = result('domain-enable').domains as Result[];
    assert.deepEqual(enabled.map((e) => e.name), ['tiny-a', 'tiny-b']);
    for (const e of enabled) assert.match(e.show, /backend="linux"/, e.name);
    assert.match(enabled[0]!.show, /<hmmv:dram quota="12MiB" min="10MiB" max="12MiB"/);
    assert.match(enabled[1]!.show, /<hmmv:dram quota="16MiB" min="14MiB" max="24MiB"/);
    const started = result('domain-started').domains as Result[];
    for (const s of started) {
      assert.equal(s.manager.state, 'running', `${s.name}: ${s.manager.error}`);
      assert.equal(s.manager.backend, 'linux');
      assert.ok(s.manager.qemu?.pid > 0, s.name);
    }
    assert.notEqual(started[0]!.manager.pid, started[1]!.manager.pid, 'one manager per domain');
  });

  it('each hot region ends on node 0 and each domain within the quota the pool gave it; the cold regions leave DRAM (tiny-b starts on the slow node)', () => {
    const c = result('converged');
    const domains = c.domains as Result[];
    assert.equal(domains.length, 2);
    assert.deepEqual(c.quotaSources, ['pool', 'pool'], 'both quotas come from the pool');
    for (const d of domains) {
      const why = JSON.stringify(d);
      assert.ok(d.secondsToConverge !== undefined, `not converged: ${why}`);
      assert.ok(d.hotPages.dram >= 0.99 * (d.hotPages.dram + d.hotPages.nvm), why);
      assert.ok(d.ramPages.dram <= d.quotaPages, why);
      const cold = d.coldPages.dram + d.coldPages.nvm;
      assert.ok(d.coldPages.dram <= d.quotaPages - d.hotPages.dram, why);
      assert.ok(d.coldPages.nvm >= cold - d.quotaPages, why);
    }
    const [a, b] = domains as [Result, Result];
    assert.ok(a.quotaPages < b.quotaPages, `different bounds, different quotas: ${a.quotaPages} vs ${b.quotaPages}`);
    assert.ok(a.quotaPages + b.quotaPages <= c.pool.pages, `the pool hands out no more than it has: ${JSON.stringify(c.pool)}`);
    assert.equal(b.startOn, 'nvm');
    assert.ok(b.ramPagesAtStart.nvm > 0.9 * (b.ramPagesAtStart.dram + b.ramPagesAtStart.nvm), `tiny-b's RAM started on the slow node: ${JSON.stringify(b.ramPagesAtStart)}`);
    assert.ok(b.pagesMoved >= b.hotPages.dram, `tiny-b's hot region was promoted by its manager: ${JSON.stringify(b)}`);
  });

  it('the guests ran throughout and every content check passed', () => {
    const c = result('converged');
    for (const [i, d] of (c.domains as Result[]).entries()) {
      const con = c.consoles[i];
      assert.equal(d.guestRunningAtEnd, true, d.name);
      assert.ok(d.contentChecks.passed >= 1, d.name);
      assert.equal(d.contentChecks.failed, 0, `${d.name}: ${JSON.stringify(con.badLines)}`);
      assert.deepEqual([con.guestTotals.hotBad, con.guestTotals.coldBad], [0, 0], d.name);
    }
  });

  it('a flipped word in guest RAM fails the next content check (the checks are live)', () => {
    const r = result('content-check-detects');
    assert.equal(r.corrupted.coldBad, 1, JSON.stringify(r));
    assert.equal(r.restored.coldBad, 0);
    assert.equal(r.restored.hotBad, 0);
  });

  it('`hmmv status` shows both domains with their quotas from the pool', () => {
    const s = result('status-two');
    for (const name of ['tiny-a', 'tiny-b']) {
      const row = (s.json as Result[]).find((r) => r.domain === name);
      assert.ok(row, `${name} missing from:\n${s.text}`);
      assert.equal(row.state, 'running', name);
      assert.ok(row.quota.pages > 0, JSON.stringify(row.quota));
      assert.equal(row.quota.source, 'pool', name);
      assert.match(s.text, new RegExp(`^${name}\\s+running\\s.*\\bpool\\b`, 'm'));
    }
  });

  it('fault: the manager SIGKILLed mid-migration leaves the guest running with its memory intact, and `hmmv status` says so', () => {
    const f = fault('manager-sigkill-mid-migration');
    assert.match(f.status.error, /gone/);
  });

  it('fault: libvirtd restarted with both domains running: the reconnect hook leaves their live managers attached, which keep managing', () => {
    fault('libvirtd-restart-reconnect');
  });

  it('fault: the pool daemon killed: both managers carry on with their static quotas, and rejoin when it is back', () => {
    fault('pool-daemon-killed');
  });

  it("fault: bad metadata: virsh start fails with hmmv's message, and no QEMU is left", () => {
    const f = fault('bad-metadata');
    assert.match(f.startStderr, /quota/);
  });

  it('virsh destroy stops the manager, leaves no pidfile, and the pool gives its DRAM to the other domain', () => {
    const f = fault('virsh-destroy');
    assert.ok(f.otherQuotaAfter > f.otherQuotaBefore, JSON.stringify(f));
    assert.deepEqual((f.poolVms as Result[]).map((v) => v.domain), ['tiny-b']);
  });

  it('numa_balancing=2 baseline on the same host: how much of each hot region reaches node 0, and when, is recorded', () => {
    const b = result('baseline');
    assert.equal(b.settings.numaBalancing, '2');
    assert.equal(b.settings.demotionEnabled, 'true');
    for (const d of b.domains as Result[]) {
      assert.equal(d.guestRunningAtEnd, true, d.name);
      assert.equal(d.contentChecks.failed, 0, d.name);
    }
    // The kernel's pace under TCG varies from run to run: recorded (out/e2e-host.json), not asserted.
    console.log(`      numa_balancing=2: ${(b.domains as Result[]).map((d) => `${d.name} (starts on ${d.startOn}) hot on node 0 at end ${d.hotPages.dram}/${d.hotPages.dram + d.hotPages.nvm}, 99% after ${d.secondsToConverge ?? '-'} s`).join('; ')}`);
  });

  it('the in-guest program ran to the end', () => {
    result('done');
    assert.equal(guest.exitCode, 0);
    console.log(`      boot ${guest.bootSeconds.toFixed(1)} s, host ready ${guest.setupSeconds.toFixed(1)} s, whole run ${guest.totalSeconds.toFixed(1)} s; in-guest program ${result('done').seconds} s`);
  });
});
