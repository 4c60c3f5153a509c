/**
 * `hmmv manage` on a real QEMU (TCG, started by test/helpers/qemu.ts): connects
 * over QMP, discovers the guest RAM, reports an unavailable backend without
 * touching the guest, and exits cleanly when QEMU goes away or on SIGTERM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { statusPath } from '../../plugin/runtime/paths.js';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';
import { exitOf, readStatus, startManager as start, waitFor } from './manager-process.js';

describe('hmmv manage (real QEMU)', function () {
  this.timeout(90000);
  const domain = `hmmv-t-manage-${process.pid}`;
  let dir: string;
  let qemu: QemuInstance | undefined;
  let manager: ChildProcess | undefined;
  let logOf = (): string => '';

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-manage-'));
    logOf = () => '';
  });
  afterEach(async () => {
    if (manager && manager.exitCode === null && manager.signalCode === null) manager.kill('SIGKILL');
    await qemu?.stop();
    qemu = undefined;
    rmSync(dir, { recursive: true, force: true });
    rmSync(statusPath(domain), { force: true });
  });

  function startManager(socket: string, backend = 'backend="sim"', slowTier = ''): ChildProcess {
    const m = start(dir, domain, socket, { backend, extra: slowTier });
    manager = m.child;
    logOf = m.log;
    return m.child;
  }

  it('discovers the guest RAM over QMP, runs the engine on the sim backend, exits on QMP EOF', async () => {
    qemu = await startQemu({ paused: false });
    const child = startManager(qemu.qmpSocketPath);
    const status = await waitFor('the manager to connect', () => {
      const s = readStatus(domain);
      return s && s.guest ? s : undefined;
    });
    assert.equal(status.qemu?.pid, qemu.pid);
    assert.equal(status.guest?.ramBytes, 256 * 1024 ** 2);
    assert.deepEqual(status.guest?.memdevs.sort(), ['dram0', 'nvm0']);
    assert.equal(status.guest?.vcpus, 2);
    const connected = logOf().split('\n').find((l) => l.includes('"msg":"qmp connected"'));
    const ranges = (JSON.parse(connected!) as { guest: { ranges: { block: string; hva?: string; pathname?: string }[] } }).guest.ranges;
    assert.ok(ranges.some((r) => r.block === 'dram0' && r.hva && r.pathname === ''), `dram0 is anonymous memory in QEMU: ${JSON.stringify(ranges)}`);
    assert.ok(ranges.some((r) => r.block === 'nvm0' && r.pathname === qemu!.backingFiles['nvm0']), `nvm0 is the NVM stand-in file: ${JSON.stringify(ranges)}`);

    // The dry run: the engine loops over a simulated host of the guest's size.
    const running = await waitFor('engine windows in the status', () => {
      const s = readStatus(domain);
      return s?.state === 'running' && (s.engine?.windows ?? 0) >= 2 ? s : undefined;
    });
    assert.ok((running.engine?.rounds ?? 0) >= 2 * 8, JSON.stringify(running.engine));
    assert.match(logOf(), /"backend":"sim","pages":65536,"quotaPages":16384,.*"msg":"engine running"/);

    await qemu.stop();
    qemu = undefined;
    assert.equal(await exitOf(child), 0);
    assert.match(logOf(), /"msg":"(QMP socket closed|guest SHUTDOWN event): stopping"/);
    assert.match(logOf(), /"msg":"engine stopped"/);
    assert.equal(readStatus(domain)?.state, 'stopped');
  });

  it('a backend that cannot open is reported, and the guest is left alone', async () => {
    qemu = await startQemu({ paused: false });
    const child = startManager(qemu.qmpSocketPath, 'backend="linux"', '<hmmv:slow-tier numa-node="1"/>');
    const failed = await waitFor('the backend outcome', () => (readStatus(domain)?.state === 'failed' ? readStatus(domain) : undefined));
    assert.match(failed.error ?? '', /tiering not started \(the guest runs unmanaged\): backend 'linux' is unavailable/);
    assert.equal(failed.guest?.ramBytes, 256 * 1024 ** 2, 'discovery still happened');
    // QEMU still runs (state R or S, not stopped or a zombie).
    assert.match(readFileSync(`/proc/${qemu.pid}/stat`, 'utf8'), /\) [RS] /);
    const lines = logOf().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: number });
    assert.ok(lines.some((l) => l.level >= 50 && /backend 'linux' is unavailable/.test(l.msg)));
    assert.equal(child.exitCode, null, 'the manager stays until the domain stops, so the failure shows in hmmv status');
    child.kill('SIGTERM');
    assert.equal(await exitOf(child), 0);
    assert.equal(readStatus(domain)?.state, 'failed', 'the failure stays visible after exit');
  });

  it('stops cleanly on SIGTERM', async () => {
    qemu = await startQemu();
    const child = startManager(qemu.qmpSocketPath);
    await waitFor('the manager to connect', () => readStatus(domain)?.guest);
    child.kill('SIGTERM');
    assert.equal(await exitOf(child), 0);
    assert.match(logOf(), /"msg":"manager stopped"/);
  });

  it('a socket that is not there yet: keeps retrying (connecting) until stopped', async () => {
    const child = startManager(path.join(dir, 'nothing-here.sock'));
    // 30 s of retries is the default; SIGTERM ends the wait early and cleanly.
    await waitFor('the connecting state', () => (readStatus(domain)?.state === 'connecting' ? true : undefined));
    child.kill('SIGTERM');
    assert.equal(await exitOf(child), 0);
    assert.match(logOf(), /signal: stopping/);
  });
});
