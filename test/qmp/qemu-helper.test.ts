/** The shared QEMU test helper: starts, reports problems clearly, always cleans up. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startQemu } from '../helpers/qemu.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test/helpers/qemu', function () {
  this.timeout(60000);

  it('starts QEMU with its QMP socket and stops it by pid, removing its temp dir', async () => {
    const qemu = await startQemu();
    assert.ok(existsSync(qemu.qmpSocketPath));
    assert.ok(existsSync(qemu.backingFiles['nvm0']!));
    assert.ok(alive(qemu.pid));
    assert.ok(qemu.args.includes('-S'));
    await qemu.stop();
    assert.equal(qemu.isRunning(), false);
    assert.equal(alive(qemu.pid), false);
    assert.equal(existsSync(qemu.dir), false);
    await qemu.stop(); // idempotent
  });

  it('says what to install when the QEMU binary is missing', async () => {
    await assert.rejects(startQemu({ binary: 'qemu-system-hmmv-missing' }), (e: unknown) => {
      assert.match(String(e), /qemu-system-hmmv-missing not found/);
      assert.match(String(e), /apt-get install -y --no-install-recommends qemu-system-x86/);
      return true;
    });
  });

  it('reports QEMU\'s own error when it refuses its arguments', async () => {
    await assert.rejects(startQemu({ extraArgs: ['-device', 'no-such-device-hmmv'] }), (e: unknown) => {
      assert.match(String(e), /QEMU exited before its QMP socket was ready/);
      assert.match(String(e), /no-such-device-hmmv/);
      return true;
    });
  });
});
