/**
 * Live migration of an hmmv-managed domain between two libvirtd instances on
 * this machine (two-hosts.ts: own mount namespaces, runtime/state/config
 * dirs, host UUIDs and hooks), over loopback with libvirt's own migration
 * protocol (virsh migrate --live, libvirt's migration cookies, QEMU's
 * migration stream). Each host has its own DRAM pool daemon. Backend `sim`:
 * the managers run their engines on a simulated host of the guest's size.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPoolDaemon, type PoolDaemon } from '../../plugin/pool/daemon.js';
import { defaultCoreConfig } from '../../plugin/pool/core.js';
import type { ManagerStatus } from '../../plugin/runtime/status-file.js';
import { CLI, run, uniqueName, waitFor } from '../helpers/libvirt.js';
import { counterGuestImage, readCounter, startTestHost, type TestHost } from './two-hosts.js';

const POOL_PAGES = 65_536; // 256 MiB of 4 KiB pages on each host

async function startPool(host: TestHost): Promise<PoolDaemon> {
  return startPoolDaemon({
    ...defaultCoreConfig(POOL_PAGES),
    socketPath: host.outside('/run/hmmv/pool.sock'),
    intervalMs: 200,
    settleMs: 0,
    graceMs: 60_000, // long: DRAM that comes back at once came back because the manager said goodbye
    hysteresisPages: 0,
    maxMessageBytes: 256 * 1024,
    rateLimit: { messagesPerSec: 50, burst: 50 },
  });
}

function statusOn(host: TestHost, domain: string): ManagerStatus | undefined {
  try {
    return JSON.parse(readFileSync(host.outside(`/run/hmmv/${domain}.status.json`), 'utf8')) as ManagerStatus;
  } catch {
    return undefined;
  }
}

const alive = (pid: number | undefined) => pid !== undefined && existsSync(`/proc/${pid}`);
const logOn = (host: TestHost, domain: string) => {
  try {
    return readFileSync(host.outside(`/var/log/hmmv/${domain}.log`), 'utf8');
  } catch {
    return '';
  }
};
const poolVm = (pool: PoolDaemon, domain: string) => pool.core.state(Date.now()).vms.find((v) => v.domain === domain);

describe('live migration between two libvirt hosts (real libvirtd, QEMU, migration protocol)', function () {
  this.timeout(600_000);
  let base: string;
  let a: TestHost | undefined;
  let b: TestHost | undefined;
  let poolA: PoolDaemon | undefined;
  let poolB: PoolDaemon | undefined;
  const name = uniqueName('mig');

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'hmmv-mig-'));
    [a, b] = await Promise.all([startTestHost(base, 'a', 49620), startTestHost(base, 'b', 49630)]);
    [poolA, poolB] = await Promise.all([startPool(a), startPool(b)]);
    const kernel = path.join(base, 'counter-guest.bin');
    writeFileSync(kernel, counterGuestImage());
    const xml = path.join(base, 'domain.xml');
    writeFileSync(
      xml,
      `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${kernel}</kernel></os>
  <on_poweroff>destroy</on_poweroff><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`,
    );
    const d = await a.virsh(['define', xml]);
    assert.equal(d.code, 0, d.stderr);
    const e = await run(process.execPath, [CLI, 'domain', 'enable', name, '--dram', '32MiB', '--backend', 'sim'], { timeoutMs: 60_000, env: { LIBVIRT_DEFAULT_URI: a.uri } });
    assert.equal(e.code, 0, e.stderr);
  });

  after(async () => {
    for (const h of [a, b]) {
      await h?.virsh(['destroy', name], 30_000);
      await h?.virsh(['undefine', name], 30_000);
    }
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([poolA?.close(), poolB?.close()]);
    rmSync(base, { recursive: true, force: true });
  });

  it('the hosts are distinct libvirts', async () => {
    const uuidOf = async (h: TestHost) => /<uuid>([^<]+)<\/uuid>/.exec((await h.virsh(['sysinfo'])).stdout)?.[1] ?? (await h.virsh(['capabilities'])).stdout.match(/<uuid>([^<]+)<\/uuid>/)?.[1];
    assert.equal(await uuidOf(a!), a!.uuid);
    assert.equal(await uuidOf(b!), b!.uuid);
    assert.notEqual(a!.uuid, b!.uuid);
  });

  it('migrates a running managed domain: manager and pool follow it, the guest runs throughout', async () => {
    const s = await a!.virsh(['start', name]);
    assert.equal(s.code, 0, s.stderr);
    const onA = await waitFor('the manager on host a to run', () => statusOn(a!, name)?.state === 'running' && statusOn(a!, name), 60_000);
    await waitFor('host a\'s pool to have the domain', () => poolVm(poolA!, name)?.connected, 30_000);
    const c0 = await readCounter(a!, name);
    const c1 = await waitFor('the guest to count on host a', async () => {
      const c = await readCounter(a!, name);
      return c !== undefined && c0 !== undefined && c > c0 && c;
    });

    const m = await run('virsh', ['-c', a!.uri, 'migrate', '--live', '--verbose', name, b!.uri, '--migrateuri', b!.migrateUri, '--listen-address', '127.0.0.1'], { timeoutMs: 300_000 });
    assert.equal(m.code, 0, `virsh migrate: ${m.stderr}${m.stdout}`);

    // The guest runs on b, with its memory (the counter went on from where it was) ...
    assert.equal((await b!.virsh(['domstate', name])).stdout.trim(), 'running');
    assert.notEqual((await a!.virsh(['domstate', name])).stdout.trim(), 'running');
    const c2 = await readCounter(b!, name);
    assert.ok(c2 !== undefined && c2 > c1, `counter on b ${c2} > last on a ${c1}`);
    await waitFor('the guest to count on host b', async () => ((await readCounter(b!, name)) ?? 0n) > c2!);

    // ... its manager runs on b, joined b's pool ...
    const onB = await waitFor('the manager on host b to run', () => statusOn(b!, name)?.state === 'running' && statusOn(b!, name), 60_000);
    assert.equal(onB.migration?.direction, 'incoming');
    assert.equal(onB.migration?.status, 'completed');
    await waitFor('host b\'s pool to have the domain', () => poolVm(poolB!, name)?.connected, 30_000);
    // The manager starts at libvirt's `started` on b: while QEMU still receives the guest (it waits for it) or just after.
    assert.match(logOn(b!, name), /(arrived by live migration|incoming live migration completed): the guest runs here/);

    // ... and a's manager stopped (migrated), paused its page moves during the migration, and gave a's pool its DRAM back at once.
    await waitFor('the manager on host a to exit', () => !alive(onA.pid), 30_000);
    const logA = logOn(a!, name);
    assert.match(logA, /outgoing live migration (setup|active): page migrations paused/);
    assert.match(logA, /"reason":"migrated"[^\n]*"msg":"manager stopped"/);
    assert.equal(existsSync(a!.outside(`/run/hmmv/${name}.pid`)), false);
    await waitFor('host a\'s pool to release the domain\'s DRAM', () => !poolVm(poolA!, name) || poolVm(poolA!, name)!.quotaPages === 0, 10_000);
  });

  it('a destination that cannot honour the metadata refuses: the domain stays on its source with its manager', async () => {
    // b -> a while a has no pool daemon.
    await poolA!.close();
    poolA = undefined;
    const before = statusOn(b!, name)!;
    const c0 = (await readCounter(b!, name))!;
    const m = await run('virsh', ['-c', b!.uri, 'migrate', '--live', name, a!.uri, '--migrateuri', a!.migrateUri, '--listen-address', '127.0.0.1'], { timeoutMs: 300_000 });
    assert.notEqual(m.code, 0, 'the migration is refused');
    assert.match(m.stderr, /hmmv: refusing the incoming migration of '[^']+': this host cannot honour its tiering metadata: the DRAM pool daemon does not answer on \/run\/hmmv\/pool\.sock/);
    assert.equal((await b!.virsh(['domstate', name])).stdout.trim(), 'running');
    assert.ok(alive(before.pid), 'the manager on b still runs');
    assert.equal(statusOn(b!, name)?.pid, before.pid);
    await waitFor('the guest to go on counting on b', async () => ((await readCounter(b!, name)) ?? 0n) > c0);
    assert.notEqual((await a!.virsh(['domstate', name])).stdout.trim(), 'running');
  });

  it('a migration that fails once running resumes the source manager\'s page moves', async () => {
    poolA = await startPool(a!);
    // Slow enough to be caught in flight: 1 MiB/s for the guest's 32 MiB of written pages.
    assert.equal((await b!.virsh(['migrate-setspeed', name, '1'])).code, 0);
    const migrating = run('virsh', ['-c', b!.uri, 'migrate', '--live', name, a!.uri, '--migrateuri', a!.migrateUri, '--listen-address', '127.0.0.1'], { timeoutMs: 300_000 });
    await waitFor('the source manager to pause for the migration', () => /page migrations paused/.test(logOn(b!, name)), 60_000);
    // `hmmv status` on the source (its namespace: nsenter) shows the migration in flight.
    const st = await run('nsenter', ['-t', String(b!.pid), '-m', '--', process.execPath, CLI, 'status', '--json']);
    const row = (JSON.parse(st.stdout) as { domain: string; migration?: { direction: string; status: string } }[]).find((r) => r.domain === name);
    assert.equal(row?.migration?.direction, 'outgoing', logOn(b!, name));
    assert.match(row?.migration?.status ?? '', /^(setup|active|device|pre-switchover)$/);
    const table = await run('nsenter', ['-t', String(b!.pid), '-m', '--', process.execPath, CLI, 'status']);
    assert.match(table.stdout, new RegExp(`^${name} +running \\(migrating out\\)`, 'm'));
    const abort = await b!.virsh(['domjobabort', name]);
    assert.equal(abort.code, 0, abort.stderr);
    const m = await migrating;
    assert.notEqual(m.code, 0, 'the migration was cancelled');
    await waitFor('the source manager to resume', () => /outgoing live migration (cancelled|failed): page migrations resumed/.test(logOn(b!, name)), 30_000);
    assert.equal((await b!.virsh(['domstate', name])).stdout.trim(), 'running');
    assert.equal(statusOn(b!, name)?.state, 'running');
  });
});
