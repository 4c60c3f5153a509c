/**
 * Typed commands against real QEMU 7.2 (TCG): two NUMA nodes (dram0 on
 * memory-backend-ram, nvm0 on memory-backend-file), hot-added DIMMs and
 * virtio-mem, run state, dirty rate, feature detection.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { QmpClient } from '../../qmp/client.js';
import { QmpCommands } from '../../qmp/commands.js';
import { QmpCommandMissingError, QmpError } from '../../qmp/errors.js';
import { lookupGuestRam } from '../../qmp/hmp-parsers.js';
import type { DirtyRateInfo, PCDIMMDeviceInfo, VirtioMEMDeviceInfo } from '../../qmp/qapi-types.js';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';

const MiB = 1024 * 1024;

/** The commands hmmv relies on (the list). */
const NEEDED = [
  'query-status', 'query-version', 'query-commands', 'query-memdev', 'query-memory-devices',
  'query-memory-size-summary', 'query-cpus-fast', 'x-query-numa', 'qom-list', 'qom-get', 'qom-set',
  'object-add', 'object-del', 'device_add', 'device_del', 'stop', 'cont', 'quit',
  'calc-dirty-rate', 'query-dirty-rate', 'human-monitor-command',
];

describe('qmp/commands against real QEMU', function () {
  this.timeout(60000);
  let qemu: QemuInstance;
  let client: QmpClient;
  let qmp: QmpCommands;

  before(async () => {
    // A hotpluggable PCIe root port for virtio-mem (pcie.0 itself is not).
    qemu = await startQemu({ extraArgs: ['-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1'] });
    client = await QmpClient.connect({ path: qemu.qmpSocketPath });
    qmp = new QmpCommands(client);
  });
  after(async () => {
    await client?.close();
    await qemu?.stop();
  });

  it('feature-detects every command hmmv needs', async () => {
    const available = await qmp.availableCommands();
    for (const name of NEEDED) assert.ok(available.has(name), `QEMU lacks ${name}`);
    assert.equal((await qmp.queryCommands()).length, available.size);
  });

  it('fails clearly, naming the command and QEMU version, when a command is missing', async () => {
    await assert.rejects(qmp.requireCommand('x-hmmv-tier-pages', 'move pages between tiers'), (e: unknown) => {
      assert.ok(e instanceof QmpCommandMissingError, String(e));
      assert.equal(e.command, 'x-hmmv-tier-pages');
      assert.match(e.message, /QEMU 7\.2\.\d+ .*'x-hmmv-tier-pages'.*move pages between tiers/);
      return true;
    });
    await assert.rejects(qmp.run('x-hmmv-tier-pages'), QmpCommandMissingError);
  });

  it('query-status and query-version', async () => {
    assert.deepEqual(await qmp.queryStatus(), { status: 'prelaunch', singlestep: false, running: false });
    const version = await qmp.queryVersion();
    assert.deepEqual(version, client.greeting.version);
    assert.equal(version.qemu.major, 7);
    assert.equal(version.qemu.minor, 2);
  });

  it('query-memdev lists both NUMA backends with their sizes and sharing', async () => {
    const memdevs = await qmp.queryMemdev();
    const byId = new Map(memdevs.map((m) => [m.id, m]));
    assert.equal(byId.get('dram0')?.size, 128 * MiB);
    assert.equal(byId.get('dram0')?.share, false);
    assert.equal(byId.get('nvm0')?.size, 128 * MiB);
    assert.equal(byId.get('nvm0')?.share, true);
    assert.equal(byId.get('nvm0')?.policy, 'default');
    assert.deepEqual(byId.get('nvm0')?.['host-nodes'], []);
  });

  it('query-cpus-fast gives each vCPU its host thread, on its NUMA node', async () => {
    const cpus = await qmp.queryCpusFast();
    assert.equal(cpus.length, 2);
    cpus.forEach((cpu, i) => {
      assert.equal(cpu['cpu-index'], i);
      assert.equal(cpu.target, 'x86_64');
      assert.equal(cpu.props?.['node-id'], i);
      // The thread id is a real thread of this QEMU process.
      assert.ok(existsSync(`/proc/${qemu.pid}/task/${cpu['thread-id']}`), `no thread ${cpu['thread-id']} in QEMU ${qemu.pid}`);
      const comm = readFileSync(`/proc/${qemu.pid}/task/${cpu['thread-id']}/comm`, 'utf8').trim();
      assert.match(comm, /CPU/);
    });
  });

  it('x-query-numa is parsed into nodes', async () => {
    const nodes = await qmp.queryNuma();
    assert.deepEqual(nodes, [
      { node: 0, cpus: [0], size: 128 * MiB, plugged: 0 },
      { node: 1, cpus: [1], size: 128 * MiB, plugged: 0 },
    ]);
  });

  it('qom-list and qom-get read the backends', async () => {
    const objects = await qmp.qomList('/objects');
    const types = Object.fromEntries(objects.map((o) => [o.name, o.type]));
    assert.equal(types['dram0'], 'child<memory-backend-ram>');
    assert.equal(types['nvm0'], 'child<memory-backend-file>');
    assert.equal(await qmp.qomGet('/objects/nvm0', 'mem-path'), qemu.backingFiles['nvm0']);
    assert.equal(await qmp.qomGet<number>('/objects/dram0', 'size'), 128 * MiB);
  });

  it('stop and cont change the run state and emit STOP/RESUME', async () => {
    const resumed = client.waitForEvent('RESUME', { timeoutMs: 10000 });
    await qmp.cont();
    await resumed;
    assert.equal((await qmp.queryStatus()).status, 'running');
    const stopped = client.waitForEvent('STOP', { timeoutMs: 10000 });
    await qmp.stop();
    await stopped;
    assert.deepEqual(await qmp.queryStatus(), { status: 'paused', singlestep: false, running: false });
  });

  it('measures the dirty rate in page-sampling mode', async () => {
    assert.equal((await qmp.queryDirtyRate()).status === 'measuring', false);
    await qmp.calcDirtyRate({ calcTimeSeconds: 1, samplePages: 256 });
    let info: DirtyRateInfo = await qmp.queryDirtyRate();
    assert.equal(info.mode, 'page-sampling');
    for (let i = 0; i < 100 && info.status !== 'measured'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      info = await qmp.queryDirtyRate();
    }
    assert.equal(info.status, 'measured');
    // QEMU records the time it actually measured for: more than asked on a busy host.
    assert.ok(info['calc-time'] >= 1, `calc-time ${info['calc-time']}`);
    assert.equal(info['sample-pages'], 256);
    assert.equal(typeof info['dirty-rate'], 'number');
    assert.ok(info['dirty-rate']! >= 0);
  });

  it('refuses bad dirty-rate arguments before sending them', async () => {
    await assert.rejects(qmp.calcDirtyRate({ calcTimeSeconds: 0 }), /calcTimeSeconds must be an integer in 1\.\.60, got 0/);
    await assert.rejects(qmp.calcDirtyRate({ calcTimeSeconds: 1, samplePages: 64 }), /samplePages .* got 64/);
    assert.notEqual((await qmp.queryStatus()).status, 'internal-error');
  });

  it('adds and deletes a plain RAM backend', async () => {
    await qmp.addMemoryBackend({ 'qom-type': 'memory-backend-ram', id: 'scratch', size: 8 * MiB });
    assert.ok((await qmp.queryMemdev()).some((m) => m.id === 'scratch' && m.size === 8 * MiB));
    await qmp.objectDel('scratch');
    assert.ok(!(await qmp.queryMemdev()).some((m) => m.id === 'scratch'));
    await assert.rejects(
      qmp.addMemoryBackend({ 'qom-type': 'memory-backend-ram', id: 'bad', size: -1 }),
      /memory backend 'bad': size must be a positive integer/,
    );
    await assert.rejects(qmp.objectDel('scratch'), (e: unknown) => e instanceof QmpError && /scratch/.test(e.desc));
  });

  it('hot-adds a file backend + pc-dimm: seen in query-memory-devices and in the guest RAM map', async () => {
    const file = path.join(qemu.dir, 'nvm1.img');
    await qmp.addMemoryBackend({ 'qom-type': 'memory-backend-file', id: 'nvm1', size: 128 * MiB, 'mem-path': file, share: true });
    await qmp.addMemoryDevice({ driver: 'pc-dimm', id: 'dimm1', memdev: 'nvm1', node: 1 });

    const devices = await qmp.queryMemoryDevices();
    const dimm = devices.find((d) => d.type === 'dimm' && d.data.id === 'dimm1');
    assert.ok(dimm, JSON.stringify(devices));
    const data = dimm.data as PCDIMMDeviceInfo;
    assert.equal(data.memdev, '/objects/nvm1');
    assert.equal(data.size, 128 * MiB);
    assert.equal(data.node, 1);
    assert.equal(data.hotplugged, true);
    assert.equal(data.hotpluggable, true);
    assert.equal(data.addr, 4 * 1024 * MiB, 'first DIMM goes to the device-memory region at 4 GiB');

    assert.deepEqual(await qmp.queryMemorySizeSummary(), { 'base-memory': 256 * MiB, 'plugged-memory': 128 * MiB });
    const nodes = await qmp.queryNuma();
    assert.equal(nodes[1]!.plugged, 128 * MiB);
    assert.equal(nodes[1]!.size, 256 * MiB);

    const layout = await qmp.guestRamLayout();
    const block = layout.ramBlocks.find((b) => b.name === 'nvm1');
    assert.ok(block, layout.ramBlocks.map((b) => b.name).join(','));
    assert.equal(block.used, 128 * MiB);
    const hit = lookupGuestRam(layout.ranges, data.addr + 5 * MiB);
    assert.deepEqual(hit, { gpa: data.addr, size: 128 * MiB, block: 'nvm1', blockOffset: 0, kind: 'ram' });
    // The boot RAM: dram0 below the 1 MiB legacy hole and above it, nvm0 right after.
    const dram = lookupGuestRam(layout.ranges, 64 * MiB);
    assert.equal(dram?.block, 'dram0');
    assert.equal(dram!.blockOffset + (64 * MiB - dram!.gpa), 64 * MiB, 'identity offset within dram0');
    assert.equal(lookupGuestRam(layout.ranges, 128 * MiB)?.block, 'nvm0');
    assert.equal(lookupGuestRam(layout.ranges, 128 * MiB)?.blockOffset, 0);
    assert.equal(lookupGuestRam(layout.ranges, 0xfec00000), undefined, 'IOAPIC MMIO is not RAM');

    // The backend is in use: QEMU refuses to delete it (and keeps running).
    await assert.rejects(qmp.objectDel('nvm1'), (e: unknown) => e instanceof QmpError && /in use/.test(e.desc));
    // Without a guest to eject it, device_del is only a request: the DIMM stays.
    await qmp.deviceDel('dimm1');
    assert.ok((await qmp.queryMemoryDevices()).some((d) => d.data.id === 'dimm1'));
  });

  it('hot-adds virtio-mem on a memfd backend and resizes its request', async () => {
    await qmp.addMemoryBackend({ 'qom-type': 'memory-backend-memfd', id: 'vmem0', size: 128 * MiB });
    await qmp.addMemoryDevice({ driver: 'virtio-mem-pci', id: 'vm0', memdev: 'vmem0', node: 0, 'requested-size': 0, bus: 'rp0' });
    let vm = (await qmp.queryMemoryDevices()).find((d) => d.type === 'virtio-mem');
    assert.ok(vm);
    const data = vm.data as VirtioMEMDeviceInfo;
    assert.equal(data.id, 'vm0');
    assert.equal(data['max-size'], 128 * MiB);
    assert.equal(data['requested-size'], 0);
    assert.equal(data.size, 0);
    assert.equal(data.node, 0);
    assert.ok(data['block-size'] >= 2 * MiB);

    await qmp.qomSet('/machine/peripheral/vm0', 'requested-size', 64 * MiB);
    vm = (await qmp.queryMemoryDevices()).find((d) => d.type === 'virtio-mem');
    assert.equal((vm!.data as VirtioMEMDeviceInfo)['requested-size'], 64 * MiB);

    // Its RAM block is named after the device path; the map still resolves it.
    const layout = await qmp.guestRamLayout();
    const hit = lookupGuestRam(layout.ranges, data.memaddr);
    assert.ok(hit?.block.endsWith('/vmem0'), JSON.stringify(hit));

    await assert.rejects(qmp.deviceDel('vm0'), (e: unknown) => {
      assert.ok(e instanceof QmpError);
      assert.equal(e.errorClass, 'GenericError');
      assert.match(e.desc, /cannot be unplugged/);
      return true;
    });
  });

  it('passes device_add errors through with QEMU\'s class, and QEMU keeps running', async () => {
    await assert.rejects(
      qmp.addMemoryDevice({ driver: 'pc-dimm', id: 'dimm-x', memdev: 'no-such-backend' }),
      (e: unknown) => e instanceof QmpError && e.command === 'device_add' && /no-such-backend/.test(e.desc),
    );
    assert.ok(['paused', 'prelaunch', 'running'].includes((await qmp.queryStatus()).status));
  });

  it('quit emits SHUTDOWN and QEMU exits', async () => {
    const shutdown = client.waitForEvent('SHUTDOWN', { timeoutMs: 10000 });
    await qmp.quit();
    assert.equal((await shutdown).data['reason'], 'host-qmp-quit');
    const { code } = await qemu.exited;
    assert.equal(code, 0);
  });
});
