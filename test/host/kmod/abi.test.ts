/**
 * plugin/host/kmod/abi.ts mirrors kmod/uapi/hmmv.h by hand: this compiles a
 * small C program against the real header that prints every size, offset,
 * ioctl number and constant, and compares them with the TypeScript side.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as abi from '../../../plugin/host/kmod/abi.js';
import { regionNameFor } from '../../../plugin/host/kmod/region-name.js';
import { repoDir } from '../../guest/testbed.js';

const run = promisify(execFile);

const STRUCTS: Record<keyof typeof abi.OFF, string> = {
  hello: 'hmmv_hello',
  sources: 'hmmv_sources',
  sourceInfo: 'hmmv_source_info',
  regionCreate: 'hmmv_region_create',
  regionInfo: 'hmmv_region_info',
  pageBits: 'hmmv_page_bits',
  threadLog: 'hmmv_thread_log',
  drain: 'hmmv_drain',
  migrate: 'hmmv_migrate',
};
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** C field names that are not the snake case of the TypeScript ones. */
const C_FIELD: Record<string, string> = { 'pageBits.in': 'in', 'pageBits.out': 'out', 'regionInfo.logFull': 'log_full', 'regionInfo.flags': 'flags' };

describe('kmod ABI: TypeScript mirror of kmod/uapi/hmmv.h', function () {
  this.timeout(60_000);
  let c: Record<string, number>;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmmv-abi-'));
    const lines: string[] = [];
    const put = (key: string, expr: string) => lines.push(`\tprintf("\\"%s\\": %llu,\\n", "${key}", (unsigned long long)(${expr}));`);
    for (const [ts, cname] of Object.entries(STRUCTS)) {
      put(`size.${ts}`, `sizeof(struct ${cname})`);
      for (const field of Object.keys(abi.OFF[ts as keyof typeof abi.OFF])) put(`off.${ts}.${field}`, `offsetof(struct ${cname}, ${C_FIELD[`${ts}.${field}`] ?? snake(field)})`);
    }
    put('size.regionName', 'sizeof(struct hmmv_region_name)');
    for (const name of Object.keys(abi.IOC)) put(`ioc.${name}`, `HMMV_IOC_${name}`);
    for (const k of ['ABI_VERSION', 'NAME_MAX', 'SOURCE_NAME_MAX', 'PAGE_SIZE', 'LOG_ENTRIES', 'MAX_THREADS', 'HUGE_SHIFT', 'TIER_DRAM', 'TIER_NVM', 'REGION_MAPPED', 'REGION_DESTROYED', 'TIERS_PRESENT', 'LOG_OVERFLOW', 'DRAIN_REARM', 'MIG_MOVED', 'MIG_ALREADY', 'MIG_BUSY']) put(`const.${k}`, `HMMV_${k}`);
    for (const k of ['NONE', 'NODE', 'DAX']) put(`nvm.${k}`, `HMMV_NVM_${k}`);
    const src = `#include <stddef.h>\n#include <stdio.h>\n#include "hmmv.h"\nint main(void)\n{\n\tprintf("{\\n");\n${lines.join('\n')}\n\tprintf("\\"end\\": 0}\\n");\n\treturn 0;\n}\n`;
    writeFileSync(join(dir, 'abi.c'), src);
    await run('gcc', ['-Wall', '-Werror', '-I', join(repoDir, 'kmod/uapi'), '-o', join(dir, 'abi'), join(dir, 'abi.c')]);
    c = JSON.parse((await run(join(dir, 'abi'))).stdout) as Record<string, number>;
    rmSync(dir, { recursive: true, force: true });
  });

  it('every struct has the size and field offsets the TypeScript side packs', () => {
    for (const ts of Object.keys(STRUCTS) as (keyof typeof abi.OFF)[]) {
      assert.equal(abi.SIZE[ts], c[`size.${ts}`], `sizeof(struct ${STRUCTS[ts]})`);
      for (const [field, off] of Object.entries(abi.OFF[ts])) assert.equal(off, c[`off.${ts}.${field}`], `offsetof(struct ${STRUCTS[ts]}, ${field})`);
    }
    assert.equal(abi.SIZE.regionName, c['size.regionName']);
  });

  it('every ioctl number and constant matches', () => {
    for (const [name, nr] of Object.entries(abi.IOC)) assert.equal(nr, c[`ioc.${name}`], `HMMV_IOC_${name}`);
    for (const k of ['ABI_VERSION', 'NAME_MAX', 'SOURCE_NAME_MAX', 'PAGE_SIZE', 'LOG_ENTRIES', 'MAX_THREADS', 'HUGE_SHIFT', 'TIER_DRAM', 'TIER_NVM', 'REGION_MAPPED', 'REGION_DESTROYED', 'TIERS_PRESENT', 'LOG_OVERFLOW', 'DRAIN_REARM', 'MIG_MOVED', 'MIG_ALREADY', 'MIG_BUSY'] as const) {
      assert.equal((abi as unknown as Record<string, number>)[k], c[`const.${k}`], `HMMV_${k}`);
    }
    assert.deepEqual([abi.NvmKind.None, abi.NvmKind.Node, abi.NvmKind.Dax], [c['nvm.NONE'], c['nvm.NODE'], c['nvm.DAX']]);
  });

  it('region names: a libvirt name is kept when the module accepts it, else made safe and unique', () => {
    assert.equal(regionNameFor('vm-1.prod_a'), 'vm-1.prod_a');
    const odd = regionNameFor('guest vm/1');
    assert.match(odd, /^guest_vm_1-[0-9a-f]{8}$/);
    assert.notEqual(regionNameFor('guest vm/1'), regionNameFor('guest_vm/1'));
    assert.ok(abi.validRegionName(regionNameFor('x'.repeat(200))));
    assert.ok(abi.validRegionName(regionNameFor('.hidden')));
    assert.ok(abi.validRegionName(regionNameFor('control')));
    assert.ok(!abi.validRegionName('control') && !abi.validRegionName('.x') && !abi.validRegionName('a/b'));
  });
});
