/**
 * Finding guest RAM in a real QEMU process: a memory-backend-file (matched by
 * path, as libvirt's /var/lib/libvirt/qemu/ram/... files), a memfd and an
 * anonymous backend (matched by size).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findGuestRam, readMaps } from '../../../plugin/host/linux/maps.js';

const MiB = 1 << 20;

describe('linux host: guest RAM in /proc/PID/maps of a real QEMU', function () {
  let qemu: ChildProcess | undefined;
  let dir = '';
  let ramFile = '';

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'hmmv-maps-'));
    ramFile = join(dir, 'nvm.ram');
    qemu = spawn('qemu-system-x86_64', [
      '-machine', 'none', '-S', '-display', 'none', '-nodefaults', '-monitor', 'none', '-serial', 'none',
      '-object', `memory-backend-file,id=nvm,size=${32 * MiB},mem-path=${ramFile},share=on`,
      '-object', `memory-backend-ram,id=dram,size=${48 * MiB}`,
      '-object', `memory-backend-memfd,id=mfd,size=${40 * MiB}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    qemu.stderr!.on('data', (d) => (stderr += d));
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      qemu!.once('error', (e) => resolve(new Error(`cannot start qemu-system-x86_64 (apt-get install qemu-system-x86): ${e.message}`)));
      qemu!.once('spawn', () => resolve(undefined));
    });
    if (spawnError) throw spawnError;
    // Wait (bounded) until QEMU has mapped all three backends.
    for (let i = 0; i < 200; i++) {
      if (qemu.exitCode !== null) throw new Error(`qemu exited: ${stderr}`);
      const maps = readMaps(qemu.pid!);
      if (maps.some((m) => m.path === ramFile) && maps.some((m) => m.path.startsWith('/memfd:'))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`qemu never mapped its memory backends: ${stderr}`);
  });

  after(() => {
    if (qemu?.pid && qemu.exitCode === null) qemu.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('matches a memory-backend-file by path and the others by size', () => {
    const ram = findGuestRam(qemu!.pid!, [
      { name: 'nvm', path: ramFile },
      { name: 'dram', sizeBytes: 48 * MiB },
      { name: 'mfd', sizeBytes: 40 * MiB },
    ]);
    assert.deepEqual(ram.map((r) => [r.name, r.lengthBytes]), [['nvm', 32 * MiB], ['dram', 48 * MiB], ['mfd', 40 * MiB]]);
    const maps = readMaps(qemu!.pid!);
    assert.equal(maps.find((m) => m.start === ram[0]!.start)!.path, ramFile);
    assert.match(maps.find((m) => m.start === ram[2]!.start)!.path, /^\/memfd:/);
    for (const r of ram) assert.equal(r.start % 4096n, 0n);
  });

  it('a folder match (libvirt ram dir) finds the file under it', () => {
    const [r] = findGuestRam(qemu!.pid!, [{ name: 'cell1', path: dir + '/' }]);
    assert.equal(r!.lengthBytes, 32 * MiB);
  });

  it('names the match that found nothing and lists the large mappings', () => {
    assert.throws(() => findGuestRam(qemu!.pid!, [{ name: 'ram-node3', sizeBytes: 7 * MiB }]), (err: Error) => {
      assert.match(err.message, /guest RAM "ram-node3": no writable mapping with size 7340032 bytes in process \d+/);
      assert.match(err.message, /32 MiB .*nvm\.ram/);
      return true;
    });
    assert.throws(() => findGuestRam(999999999, [{ name: 'x', sizeBytes: 1 }]), /cannot read \/proc\/999999999\/maps/);
  });
});
