/**
 * The hook with the real libvirtd and QEMU: a domain with tiering metadata
 * gets a manager connected over its own QMP socket while it runs; the manager
 * goes with the domain; a libvirtd restart re-attaches; invalid metadata stops
 * `virsh start` with our message; other domains are untouched; nothing hangs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { TIERING_NS } from '../../plugin/libvirt/tiering-metadata.js';
import { logPath, pidfilePath, statusPath } from '../../plugin/runtime/paths.js';
import { processStartTime, readPidfile } from '../../plugin/runtime/pidfile.js';
import type { DomainStatusRow } from '../../plugin/runtime/status-file.js';
import {
  defineDomain,
  domainXml,
  hmmv,
  qemuPidOf,
  qemuProcessesFor,
  removeDomain,
  requireLibvirtd,
  restartLibvirtd,
  uniqueName,
  virsh,
  waitFor,
} from '../helpers/libvirt.js';

/** `virsh start` must come back: a hook that leaves its pipes open would freeze libvirtd here. */
const START_BOUND_MS = 90000;

async function start(name: string) {
  const r = await virsh(['start', name], START_BOUND_MS);
  assert.equal(r.timedOut, false, `virsh start ${name} hung for ${START_BOUND_MS} ms (hook holding libvirtd?)`);
  return r;
}

async function statusOf(name: string): Promise<DomainStatusRow | undefined> {
  const r = await hmmv(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as DomainStatusRow[]).find((row) => row.domain === name);
}

/** Waits until the manager of `name` runs and has talked to QEMU over QMP. */
async function waitConnected(name: string): Promise<DomainStatusRow> {
  return waitFor(
    `the manager of ${name} to connect over QMP`,
    async () => {
      const row = await statusOf(name);
      return row?.managerAlive && row.qemu?.pid !== undefined ? row : undefined;
    },
    60000,
  );
}

async function enabledDomain(stem: string): Promise<string> {
  const name = uniqueName(stem);
  await defineDomain(domainXml(name));
  // A pool socket of its own (no daemon there): the manager runs on its static quota, whatever runs on the default socket.
  const r = await hmmv(['domain', 'enable', name, '--dram', '32MiB', '--pool-socket', `/run/hmmv/test-no-pool-${process.pid}.sock`]);
  assert.equal(r.code, 0, r.stderr);
  return name;
}

function killManagerOf(name: string): void {
  const rec = readPidfile(pidfilePath(name));
  if (rec && processStartTime(rec.pid) === rec.startTime) process.kill(rec.pid, 'SIGKILL');
}

describe('libvirt hook lifecycle (real libvirtd + QEMU)', function () {
  this.timeout(240000);
  const names: string[] = [];

  before(async () => {
    await requireLibvirtd();
    const r = await hmmv(['hooks', 'install', '--reload']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hooks\/qemu\.d\/hmmv/);
    // libvirtd handles SIGHUP asynchronously; an idle round-trip lets it finish.
    await new Promise((res) => setTimeout(res, 2000));
    await virsh(['version']);
  });

  after(async () => {
    for (const n of names) {
      await removeDomain(n);
      killManagerOf(n);
      rmSync(logPath(n), { force: true });
    }
    await hmmv(['hooks', 'uninstall', '--reload']);
  });

  it('start launches a manager connected over QMP; destroy stops it and leaves no pidfile', async () => {
    const name = await enabledDomain('life');
    names.push(name);
    const r = await start(name);
    assert.equal(r.code, 0, r.stderr);

    const row = await waitConnected(name);
    assert.equal(row.qemu?.pid, qemuPidOf(name), 'the manager found the QEMU process of this domain');
    assert.equal(row.guest?.ramBytes, 64 * 1024 ** 2);
    assert.equal(row.guest?.vcpus, 1);
    assert.equal(row.backend, 'sim');
    // backend 'sim' is a dry run: the engine loops on a simulated host of the guest's size.
    const running = await waitFor('the engine to run', async () => {
      const r = await statusOf(name);
      return r?.state === 'running' ? r : undefined;
    });
    assert.equal(running.error, undefined);
    const log = readFileSync(logPath(name), 'utf8');
    assert.match(log, /"msg":"qmp connected"/);
    assert.equal((await virsh(['domstate', name])).stdout.trim(), 'running', 'the guest keeps running');
    const text = await hmmv(['status']);
    assert.match(text.stdout, new RegExp(`^${name}\\s+running\\s+${row.pid}\\s+sim\\s+${row.qemu!.pid}\\s+64MiB/1vcpu\\s+32\\.0MiB\\s+static\\s`, 'm'));

    const managerPid = row.pid!;
    const d = await virsh(['destroy', name], 60000);
    assert.equal(d.code, 0, d.stderr);
    await waitFor('the manager to exit', () => !existsSync(`/proc/${managerPid}`), 30000);
    assert.equal(existsSync(pidfilePath(name)), false, 'pidfile removed');
    assert.equal(existsSync(statusPath(name)), false, 'status removed');
    assert.equal(await statusOf(name), undefined);
  });

  it('a libvirtd restart keeps a live manager and re-launches a dead one (reconnect)', async () => {
    const name = await enabledDomain('recon');
    names.push(name);
    assert.equal((await start(name)).code, 0);
    const first = await waitConnected(name);

    await restartLibvirtd();
    await new Promise((res) => setTimeout(res, 1000));
    const kept = await waitConnected(name);
    assert.equal(kept.pid, first.pid, 'reconnect leaves a running manager alone');

    killManagerOf(name);
    await waitFor('the killed manager to be gone', () => !existsSync(`/proc/${first.pid}`), 10000);
    await restartLibvirtd();
    const again = await waitFor(
      'a new manager after reconnect',
      async () => {
        const row = await statusOf(name);
        return row?.managerAlive && row.pid !== first.pid && row.qemu?.pid !== undefined ? row : undefined;
      },
      60000,
    );
    assert.equal(again.qemu?.pid, qemuPidOf(name), 'the new manager re-attached to the same QEMU');
    assert.equal((readFileSync(logPath(name), 'utf8').match(/"msg":"qmp connected"/g) ?? []).length, 2);
  });

  it('invalid metadata makes virsh start fail with our message, and no QEMU is left', async () => {
    const name = uniqueName('bad');
    names.push(name);
    const bad = `<metadata><hmmv:tiering xmlns:hmmv="${TIERING_NS}" backend="sim"><hmmv:dram quota="a lot"/><hmmv:qmp socket="/run/hmmv/qmp/${name}.sock"/></hmmv:tiering></metadata>`;
    await defineDomain(domainXml(name, bad));
    const r = await start(name);
    assert.notEqual(r.code, 0, 'virsh start must fail');
    assert.match(r.stderr, new RegExp(`hmmv: domain '${name}': invalid hmmv tiering metadata`));
    assert.match(r.stderr, /<hmmv:dram> attribute quota: expected a size like 2GiB/);
    assert.deepEqual(qemuProcessesFor(name), [], 'no QEMU left running');
    assert.equal((await virsh(['domstate', name])).stdout.trim(), 'shut off');
    assert.equal(existsSync(pidfilePath(name)), false);
  });

  it('metadata whose QMP socket is not passed to QEMU is refused at prepare, naming the fix', async () => {
    const name = uniqueName('nosock');
    names.push(name);
    const meta = `<metadata><hmmv:tiering xmlns:hmmv="${TIERING_NS}" backend="sim"><hmmv:dram quota="32MiB"/><hmmv:qmp socket="/run/hmmv/qmp/${name}.sock"/></hmmv:tiering></metadata>`;
    await defineDomain(domainXml(name, meta));
    const r = await start(name);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is not passed to QEMU.*hmmv domain enable/s);
    assert.deepEqual(qemuProcessesFor(name), []);
  });

  it('a domain without hmmv metadata is untouched', async () => {
    const name = uniqueName('plain');
    names.push(name);
    await defineDomain(domainXml(name));
    const r = await start(name);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await virsh(['domstate', name])).stdout.trim(), 'running');
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal(existsSync(pidfilePath(name)), false);
    assert.equal(existsSync(statusPath(name)), false);
    assert.equal(existsSync(logPath(name)), false);
    assert.equal(await statusOf(name), undefined);
    const d = await virsh(['destroy', name], 60000);
    assert.equal(d.code, 0, d.stderr);
  });
});
