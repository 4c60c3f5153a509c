/**
 * HMP parsers against output captured from QEMU 7.2 (test/qmp/fixtures/, see
 * fixtures/README.md for how each was made) and against live output.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QmpClient } from '../../qmp/client.js';
import { QmpCommands } from '../../qmp/commands.js';
import { HmpParseError } from '../../qmp/errors.js';
import {
  buildGuestRamMap,
  findFlatView,
  lookupGuestRam,
  parseGpa2hva,
  parseInfoMtreeFlat,
  parseInfoNuma,
  parseInfoRamblock,
  ramBlockForRegion,
  type GuestRamRange,
} from '../../qmp/hmp-parsers.js';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';

const MiB = 1024 * 1024;
// Compiled to dist/test/qmp/: fixtures stay in the source tree.
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/qmp/fixtures');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

/** The boot-RAM map every two-node fixture (and the default test QEMU) must give. */
const TWO_NODE_RAM: GuestRamRange[] = [
  { gpa: 0, size: 0xa0000, block: 'dram0', blockOffset: 0, kind: 'ram' },
  { gpa: 0xc0000, size: 0x20000, block: 'pc.rom', blockOffset: 0, kind: 'rom' },
  { gpa: 0xe0000, size: 0x20000, block: 'pc.bios', blockOffset: 0x20000, kind: 'rom' },
  { gpa: 0x100000, size: 0x7f00000, block: 'dram0', blockOffset: 0x100000, kind: 'ram' },
  { gpa: 0x8000000, size: 0x8000000, block: 'nvm0', blockOffset: 0, kind: 'ram' },
  { gpa: 0xfffc0000, size: 0x40000, block: 'pc.bios', blockOffset: 0, kind: 'rom' },
];

/** pc.ram of a 3 GiB q35 machine: 2 GiB below the PCI hole, 1 GiB at 4 GiB. */
const PC_RAM_3G: GuestRamRange[] = [
  { gpa: 0, size: 0xa0000, block: 'pc.ram', blockOffset: 0, kind: 'ram' },
  { gpa: 0x100000, size: 0x7ff00000, block: 'pc.ram', blockOffset: 0x100000, kind: 'ram' },
  { gpa: 0x100000000, size: 0x40000000, block: 'pc.ram', blockOffset: 0x80000000, kind: 'ram' },
];

describe('qmp/hmp-parsers', () => {
  describe('info ramblock (captured)', () => {
    it('parses the two-node machine', () => {
      const blocks = parseInfoRamblock(fixture('info-ramblock-two-nodes.txt'));
      assert.deepEqual(blocks.slice(0, 2), [
        { name: 'dram0', pageSize: 4096, offset: 0, used: 128 * MiB, total: 128 * MiB },
        { name: 'nvm0', pageSize: 4096, offset: 128 * MiB, used: 128 * MiB, total: 128 * MiB },
      ]);
      const tables = blocks.find((b) => b.name === '/rom@etc/acpi/tables');
      assert.deepEqual(tables, { name: '/rom@etc/acpi/tables', pageSize: 4096, offset: 0x11100000, used: 0x20000, total: 0x200000 });
      assert.ok(blocks.some((b) => b.name === '0000:00:01.0/vga.vram' && b.used === 16 * MiB));
    });

    it('keeps device-path block names (virtio-mem) and the hot-added DIMM', () => {
      const vm = parseInfoRamblock(fixture('info-ramblock-virtio-mem.txt'));
      assert.ok(vm.some((b) => b.name === '0000:00:03.0:00.0/vmem0' && b.used === 128 * MiB));
      assert.equal(ramBlockForRegion(vm, 'vmem0')?.name, '0000:00:03.0:00.0/vmem0');
      const dimm = parseInfoRamblock(fixture('info-ramblock-dimm.txt'));
      assert.ok(dimm.some((b) => b.name === 'nvm1' && b.used === 128 * MiB));
    });

    it('keeps a block without a name (a memory backend QEMU never registered: libvirt\'s pc.ram beside hmmv-ram)', () => {
      // the rows QEMU 7.2 printed for a libvirt domain whose RAM is on hmmv.ko (-machine memory-backend=hmmv-ram)
      const text = '              Block Name    PSize              Offset               Used              Total\r\n' +
        '                hmmv-ram    4 KiB  0x0000000003000000 0x0000000003000000 0x0000000003000000\r\n' +
        '                            4 KiB  0x0000000000000000 0x0000000003000000 0x0000000003000000\r\n';
      assert.deepEqual(parseInfoRamblock(text), [
        { name: 'hmmv-ram', pageSize: 4096, offset: 48 * MiB, used: 48 * MiB, total: 48 * MiB },
        { name: '', pageSize: 4096, offset: 0, used: 48 * MiB, total: 48 * MiB },
      ]);
    });

    it('parses other page sizes (huge pages) and rejects malformed rows with the line number', () => {
      const text = '              Block Name    PSize              Offset               Used              Total\r\n' +
        '                   huge0    2 MiB  0x0000000000000000 0x0000000040000000 0x0000000040000000\r\n';
      assert.equal(parseInfoRamblock(text)[0]!.pageSize, 2 * MiB);
      assert.throws(
        () => parseInfoRamblock(text + '   broken    4 KiB  0xzz\r\n'),
        (e: unknown) => e instanceof HmpParseError && e.lineNumber === 3 && /info ramblock/.test(e.message),
      );
      assert.throws(() => parseInfoRamblock('unknown command: info ramblok\r\n'), /expected the header/);
      assert.throws(() => parseInfoRamblock(''), /empty output/);
    });
  });

  describe('info mtree -f (captured)', () => {
    it('parses flat views, their address spaces and ranges', () => {
      const views = parseInfoMtreeFlat(fixture('info-mtree-f-two-nodes.txt'));
      assert.equal(views.length, 5);
      assert.deepEqual(views.map((v) => v.index), [0, 1, 2, 3, 4]);
      const memory = findFlatView(views);
      assert.deepEqual(memory.addressSpaces.map((a) => a.name), ['memory', 'cpu-memory-0', 'cpu-memory-1']);
      assert.equal(memory.root, 'system');
      const dram = memory.ranges.find((r) => r.region === 'dram0' && r.offsetInRegion > 0n);
      assert.deepEqual(dram, { start: 0x100000n, last: 0x7ffffffn, priority: 0, kind: 'ram', region: 'dram0', offsetInRegion: 0x100000n });
      const io = findFlatView(views, 'I/O');
      assert.ok(io.ranges.some((r) => r.region === 'pit' && r.kind === 'i/o'));
      const unrendered = views.find((v) => v.root === null);
      assert.ok(unrendered && unrendered.ranges.length === 0 && unrendered.addressSpaces.some((a) => a.name === 'ICH9-LPC'));
      assert.throws(() => findFlatView(views, 'no-such-as'), /no FlatView renders address space 'no-such-as'/);
    });

    it('maps guest-physical RAM to RAM blocks and offsets', () => {
      const map = buildGuestRamMap(
        parseInfoMtreeFlat(fixture('info-mtree-f-two-nodes.txt')),
        parseInfoRamblock(fixture('info-ramblock-two-nodes.txt')),
      );
      assert.deepEqual(map, TWO_NODE_RAM);
      assert.equal(lookupGuestRam(map, 0x9ffff)?.block, 'dram0');
      assert.equal(lookupGuestRam(map, 0xa0000), undefined, 'VGA window is MMIO');
      assert.equal(lookupGuestRam(map, 0x8000000 + 4096)?.block, 'nvm0');
      assert.equal(lookupGuestRam(map, 0x10000000), undefined, 'above RAM');
    });

    it('maps the hot-added DIMM at 4 GiB and virtio-mem via its device-path block', () => {
      const dimm = buildGuestRamMap(
        parseInfoMtreeFlat(fixture('info-mtree-f-dimm.txt')),
        parseInfoRamblock(fixture('info-ramblock-dimm.txt')),
      );
      assert.deepEqual(lookupGuestRam(dimm, 0x100000000), { gpa: 0x100000000, size: 128 * MiB, block: 'nvm1', blockOffset: 0, kind: 'ram' });
      const vm = buildGuestRamMap(
        parseInfoMtreeFlat(fixture('info-mtree-f-virtio-mem.txt')),
        parseInfoRamblock(fixture('info-ramblock-virtio-mem.txt')),
      );
      assert.equal(lookupGuestRam(vm, 0x100000000 + MiB)?.block, '0000:00:03.0:00.0/vmem0');
    });

    it('follows one RAM block split around the PCI hole (3 GiB, no NUMA: pc.ram above 4 GiB)', () => {
      const map = buildGuestRamMap(parseInfoMtreeFlat(fixture('info-mtree-f-3g.txt')), parseInfoRamblock(fixture('info-ramblock-3g.txt')));
      assert.deepEqual(map.filter((r) => r.block === 'pc.ram'), PC_RAM_3G);
      const high = lookupGuestRam(map, 0x100000000 + 0x1234000)!;
      assert.equal(high.blockOffset + (0x100000000 + 0x1234000 - high.gpa), 0x80000000 + 0x1234000);
      assert.equal(lookupGuestRam(map, 0x80000000), undefined, 'PCI hole');
    });

    it('refuses a map whose RAM range matches no block, and malformed lines', () => {
      const views = parseInfoMtreeFlat(fixture('info-mtree-f-dimm.txt'));
      const withoutDimm = parseInfoRamblock(fixture('info-ramblock-two-nodes.txt'));
      assert.throws(() => buildGuestRamMap(views, withoutDimm), /region 'nvm1' matches no RAM block/);
      assert.throws(() => parseInfoMtreeFlat('address-space: memory\r\n'), /expected "FlatView #<n>" first/);
      assert.throws(
        () => parseInfoMtreeFlat('FlatView #0\r\n AS "memory", root: system\r\n  0000-zzzz (prio 0, ram): x\r\n'),
        (e: unknown) => e instanceof HmpParseError && e.lineNumber === 3,
      );
    });
  });

  describe('gpa2hva (captured)', () => {
    it('parses the RAM, not-RAM and unmapped answers', () => {
      assert.deepEqual(parseGpa2hva(fixture('gpa2hva-ram.txt')), { kind: 'ram', gpa: 0x8000000, region: 'nvm0', hva: 0x7fa75fdff000 });
      assert.deepEqual(parseGpa2hva(fixture('gpa2hva-not-ram.txt')), { kind: 'not-ram', gpa: 0xa0000 });
      assert.deepEqual(parseGpa2hva(fixture('gpa2hva-unmapped.txt')), { kind: 'unmapped', gpa: 0x90000000 });
      assert.throws(() => parseGpa2hva('unknown command: gpa2hva\r\n'), HmpParseError);
    });
  });

  describe('info numa (captured)', () => {
    it('parses nodes, cpus, sizes and plugged memory', () => {
      assert.deepEqual(parseInfoNuma(fixture('info-numa-dimm.txt')), [
        { node: 0, cpus: [0], size: 128 * MiB, plugged: 0 },
        { node: 1, cpus: [1], size: 256 * MiB, plugged: 128 * MiB },
      ]);
      assert.deepEqual(parseInfoNuma('0 nodes\n'), []);
      assert.throws(() => parseInfoNuma('2 nodes\nnode 0 cpus: 0\nnode 0 size: 1 MB\n'), /announced 2 nodes but described 1/);
      assert.throws(() => parseInfoNuma('2 nodes\nnode 0 weird\n'), HmpParseError);
    });
  });

  describe('live output of QEMU 7.2', function () {
    this.timeout(60000);
    let qemu: QemuInstance;
    let client: QmpClient;
    let qmp: QmpCommands;
    before(async () => {
      qemu = await startQemu();
      client = await QmpClient.connect({ path: qemu.qmpSocketPath });
      qmp = new QmpCommands(client);
    });
    after(async () => {
      await client?.close();
      await qemu?.stop();
    });

    it('parses live info ramblock like the captured sample', async () => {
      const live = await qmp.infoRamblock();
      const captured = parseInfoRamblock(fixture('info-ramblock-two-nodes.txt'));
      assert.deepEqual(live, captured);
    });

    it('builds the same guest RAM map live as from the captured sample', async () => {
      const layout = await qmp.guestRamLayout();
      assert.deepEqual(layout.ranges, TWO_NODE_RAM);
      // Every RAM block backing a memdev is mapped somewhere in guest-physical space.
      for (const memdev of await qmp.queryMemdev()) {
        const mapped = layout.ranges.filter((r) => r.block === memdev.id).reduce((sum, r) => sum + r.size, 0);
        assert.ok(mapped > 0 && mapped <= memdev.size, `${memdev.id}: ${mapped} of ${memdev.size} bytes mapped`);
      }
    });

    it('finds each RAM range in the QEMU process: gpa2hva agrees with /proc/<pid>/maps', async () => {
      const layout = await qmp.guestRamLayout({ hostAddresses: true });
      const maps = readFileSync(`/proc/${qemu.pid}/maps`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => {
          const [range, perms, , , , file] = line.split(/\s+/);
          const [start, end] = range!.split('-').map((h) => Number.parseInt(h, 16));
          return { start: start!, end: end!, perms: perms!, file: file ?? '' };
        });
      const bases = new Map<string, number>();
      for (const r of layout.ranges) {
        assert.equal(typeof r.hva, 'number', `${r.block} @0x${r.gpa.toString(16)} has no hva`);
        const mapping = maps.find((m) => m.start <= r.hva! && r.hva! + r.size <= m.end);
        assert.ok(mapping, `no single mapping of QEMU ${qemu.pid} holds ${r.block} at 0x${r.hva!.toString(16)} (+${r.size})`);
        if (r.block === 'nvm0') {
          assert.equal(mapping.file, qemu.backingFiles['nvm0']);
          assert.equal(mapping.perms, 'rw-s');
          assert.equal(mapping.start, r.hva, 'nvm0 is the whole file mapping');
        }
        if (r.block === 'dram0') assert.equal(mapping.perms, 'rw-p');
        // Every range of a block sits at the same block base (hva - offset).
        const base = r.hva! - r.blockOffset;
        assert.equal(bases.get(r.block) ?? base, base, `${r.block} ranges disagree on the block base`);
        bases.set(r.block, base);
      }
      assert.deepEqual(await qmp.gpaToHva(0xa0000), { kind: 'not-ram', gpa: 0xa0000 });
      await assert.rejects(qmp.gpaToHva(-1), /non-negative integer/);
    });

    it('maps a live 3 GiB machine without NUMA like the captured sample', async () => {
      const big = await startQemu({ numaNodes: [], memoryMiB: 3072, maxMemMiB: 4096 });
      let bigClient: QmpClient | undefined;
      try {
        bigClient = await QmpClient.connect({ path: big.qmpSocketPath });
        const layout = await new QmpCommands(bigClient).guestRamLayout();
        assert.deepEqual(layout.ranges.filter((r) => r.block === 'pc.ram'), PC_RAM_3G);
      } finally {
        await bigClient?.close();
        await big.stop();
      }
    });

    it('parses live x-query-numa and info numa alike', async () => {
      const hmp = parseInfoNuma(await qmp.humanMonitorCommand('info numa'));
      assert.deepEqual(await qmp.queryNuma(), hmp);
      assert.equal(hmp.length, 2);
    });
  });
});
