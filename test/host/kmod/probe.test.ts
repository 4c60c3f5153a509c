/**
 * The kmod probe: on this machine (no hmmv.ko) `hmmv host check` says the
 * module is missing and how to build and load it with DKMS; devdax devices
 * are classified from a recorded sysfs tree (free, onlined by kmem, claimed).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatKmodProbe, listDaxDevices, probeKmod } from '../../../plugin/host/kmod/probe.js';
import { KmodControl } from '../../../plugin/host/kmod/control.js';
import { repoDir } from '../../guest/testbed.js';

const run = promisify(execFile);

describe('kmod probe and `hmmv host check`', () => {
  it('without the module: not ready, naming DKMS; the control device error says the same', function () {
    if (existsSync('/dev/hmmv/control')) this.test!.title += ' (module loaded here: checks the ready path)';
    const p = probeKmod();
    if (!p.loaded) {
      assert.equal(p.ready, false);
      assert.match(p.problem!, /hmmv\.ko is not loaded \(no \/dev\/hmmv\/control\): .*dkms add \.\/kmod && dkms install hmmv\/1\.0 && modprobe hmmv/);
      assert.throws(() => KmodControl.open(), /hmmv\.ko is not loaded .*DKMS/);
      assert.match(formatKmodProbe(p), /^  module +MISSING +hmmv\.ko is not loaded/m);
    } else {
      assert.equal(p.abiVersion, 1);
    }
  });

  it('`hmmv host check` prints the kmod section after the linux one; --json holds both', async () => {
    const cli = join(repoDir, 'dist/plugin/cli.js');
    const text = await run(process.execPath, [cli, 'host', 'check']).then((r) => r.stdout, (e: { stdout: string }) => e.stdout);
    assert.match(text, /^linux host backend on kernel /m);
    assert.match(text, /^kmod backend \(hmmv\.ko, ABI 1\)$/m);
    const json = await run(process.execPath, [cli, 'host', 'check', '--json']).then((r) => r.stdout, (e: { stdout: string }) => e.stdout);
    const parsed = JSON.parse(json) as { linux: { canRun: boolean }; kmod: { loaded: boolean; daxDevices: unknown[] } };
    assert.equal(typeof parsed.linux.canRun, 'boolean');
    assert.equal(typeof parsed.kmod.loaded, 'boolean');
  });

  it('classifies devdax devices from sysfs: free (device_dax or no driver), kmem (system RAM), claimed by hmmv.ko', () => {
    const sys = mkdtempSync(join(tmpdir(), 'hmmv-sys-'));
    try {
      const dev = (name: string, driver: string | null, size: number, node: number) => {
        const d = join(sys, 'bus/dax/devices', name);
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'size'), `${size}\n`);
        writeFileSync(join(d, 'target_node'), `${node}\n`);
        if (driver) {
          mkdirSync(join(sys, 'bus/dax/drivers', driver), { recursive: true });
          symlinkSync(join(sys, 'bus/dax/drivers', driver), join(d, 'driver'));
        }
      };
      dev('dax0.0', 'device_dax', 256 << 20, 2);
      dev('dax1.0', 'kmem', 512 << 20, 3);
      dev('dax2.0', null, 128 << 20, 2);
      dev('dax3.0', null, 128 << 20, 2);
      const devices = listDaxDevices(sys, '100000000-10fffffff : Persistent Memory\n  100600000-10fffffff : hmmv:dax3.0\n');
      assert.deepEqual(devices.map((d) => [d.name, d.state, d.sizeBytes, d.targetNode]), [
        ['dax0.0', 'free', 256 << 20, 2],
        ['dax1.0', 'system-ram', 512 << 20, 3],
        ['dax2.0', 'free', 128 << 20, 2],
        ['dax3.0', 'hmmv', 128 << 20, 2],
      ]);
      assert.match(devices[1]!.detail, /onlined as system RAM \(kmem\): not usable by hmmv\.ko/);
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });
});
