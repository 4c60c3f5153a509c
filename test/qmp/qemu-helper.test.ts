/** The shared QEMU test helper: starts, reports problems clearly, always cleans up. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { QmpClient } from '../../qmp/client.js';
import { QmpCommands } from '../../qmp/commands.js';
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

  it('builds the NUMA layout it is asked for (memfd node, three vCPUs, TCP QMP)', async () => {
    const qemu = await startQemu({
      numaNodes: [
        { memdev: 'fast', backend: 'memfd', sizeMiB: 64 },
        { memdev: 'slow', backend: 'file', sizeMiB: 32 },
      ],
      cpus: 3,
      qmpTcp: true,
    });
    try {
      const client = await QmpClient.connect({ host: '127.0.0.1', port: qemu.qmpTcpPort! });
      try {
        const qmp = new QmpCommands(client);
        const nodes = await qmp.queryNuma();
        assert.deepEqual(nodes.map((n) => [n.node, n.cpus, n.size / 2 ** 20]), [[0, [0, 2], 64], [1, [1], 32]]);
        const memdevs = await qmp.queryMemdev();
        assert.deepEqual(memdevs.map((m) => m.id).sort(), ['fast', 'slow']);
        assert.equal((await qmp.queryMemorySizeSummary())['base-memory'], 96 * 2 ** 20);
      } finally {
        await client.close();
      }
    } finally {
      await qemu.stop();
    }
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
