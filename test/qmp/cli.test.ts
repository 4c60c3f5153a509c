/** `hmmv qmp ...` run as a real process against a real QEMU. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../plugin/cli.js');

function hmmv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('hmmv qmp (CLI)', function () {
  this.timeout(60000);
  let qemu: QemuInstance;
  before(async () => {
    qemu = await startQemu();
  });
  after(async () => {
    await qemu?.stop();
  });

  it('info prints version, memdevs, NUMA nodes and vCPU threads as JSON', async () => {
    const r = await hmmv('qmp', 'info', '--socket', qemu.qmpSocketPath);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(info.version.qemu.major, 7);
    assert.equal(info.status.status, 'prelaunch');
    assert.deepEqual(info.memdevs.map((m: { id: string }) => m.id).sort(), ['dram0', 'nvm0']);
    assert.equal(info.numa.length, 2);
    assert.equal(info.cpus.length, 2);
  });

  it('ram-map prints the guest RAM ranges', async () => {
    const r = await hmmv('qmp', 'ram-map', '-s', qemu.qmpSocketPath);
    assert.equal(r.code, 0, r.stderr);
    const map = JSON.parse(r.stdout);
    assert.ok(map.ranges.some((x: { block: string; gpa: number }) => x.block === 'nvm0' && x.gpa === 0x8000000));
    assert.ok(map.ranges.every((x: { hva?: number }) => typeof x.hva === 'number' && x.hva > 0), 'every range has its host address');
  });

  it('run passes arguments and reports QMP errors and bad input clearly', async () => {
    const ok = await hmmv('qmp', 'run', '-s', qemu.qmpSocketPath, 'qom-get', '{"path":"/objects/dram0","property":"size"}');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout), 128 * 1024 * 1024);
    const bad = await hmmv('qmp', 'run', '-s', qemu.qmpSocketPath, 'qom-get', '{path:');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /arguments for 'qom-get' are not valid JSON/);
    const missing = await hmmv('qmp', 'run', '-s', qemu.qmpSocketPath, 'x-hmmv-nothing');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not offer the QMP command 'x-hmmv-nothing'/);
    const qmpError = await hmmv('qmp', 'run', '-s', qemu.qmpSocketPath, 'qom-get', '{"path":"/nope","property":"x"}');
    assert.equal(qmpError.code, 1);
    assert.match(qmpError.stderr, /DeviceNotFound/);
    const noSocket = await hmmv('qmp', 'info');
    assert.equal(noSocket.code, 1);
    assert.match(noSocket.stderr, /missing --socket/);
  });
});
