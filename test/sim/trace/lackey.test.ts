import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { convertLackey } from '../../../plugin/sim/trace/lackey.js';
import { readTraceFile } from '../../../plugin/sim/trace/reader.js';
import type { TraceData } from '../../../plugin/sim/trace/trace-data.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../../plugin/cli.js');

/** Straightforward reference conversion (whole input in memory) to check the streaming one against. */
function referenceConvert(text: string, epochAccesses: number): { pages: number; epochs: Map<number, [number, number, number]>[] } {
  // Per epoch: virtual page -> [reads, writes, set of lines].
  const raw: Map<number, [number, number, Set<number>]>[] = [new Map()];
  let fill = 0;
  const count = (vpn: number, write: boolean, lines: number[]) => {
    const cur = raw[raw.length - 1]!;
    const e = cur.get(vpn) ?? [0, 0, new Set<number>()];
    e[write ? 1 : 0]++;
    for (const l of lines) e[2].add(l);
    cur.set(vpn, e);
    if (++fill === epochAccesses) {
      raw.push(new Map());
      fill = 0;
    }
  };
  for (const line of text.split('\n')) {
    const m = /^ ([LSM]) ([0-9a-f]+),(\d+)$/.exec(line);
    if (!m) continue;
    const addr = parseInt(m[2]!, 16);
    const last = addr + Math.max(1, Number(m[3])) - 1;
    const touched = new Map<number, number[]>();
    for (let a = addr; a <= last; a++) {
      const l = touched.get(Math.floor(a / 4096)) ?? [];
      l.push(Math.floor((a % 4096) / 64));
      touched.set(Math.floor(a / 4096), l);
    }
    if (m[1] !== 'S') for (const [p, l] of touched) count(p, false, l);
    if (m[1] !== 'L') for (const [p, l] of touched) count(p, true, l);
  }
  if (raw[raw.length - 1]!.size === 0) raw.pop();
  // Dense numbers in address order.
  const vpns = [...new Set(raw.flatMap((e) => [...e.keys()]))].sort((a, b) => a - b);
  const dense = new Map(vpns.map((v, i) => [v, i]));
  const epochs = raw.map((e) => new Map([...e].map(([v, [r, w, l]]) => [dense.get(v)!, [r, w, l.size] as [number, number, number]])));
  return { pages: vpns.length, epochs };
}

function epochMaps(t: TraceData): Map<number, [number, number, number]>[] {
  const out: Map<number, [number, number, number]>[] = [];
  for (let e = 0; e < t.epochCount; e++) {
    const m = new Map<number, [number, number, number]>();
    for (let i = t.epochStart[e]!; i < t.epochStart[e + 1]!; i++) m.set(t.page[i]!, [t.reads[i]!, t.writes[i]!, t.lines![i]!]);
    out.push(m);
  }
  return out;
}

/** Splits text into chunks of `size` characters (cutting lines in the middle). */
function chunks(text: string, size: number): Readable {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return Readable.from(parts);
}

const SAMPLE = [
  '==4242== Lackey, an example Valgrind tool',
  '==4242== ',
  'I  04000100,3',
  ' L 7ff0001008,8', // page 0x7ff0001 -> 3 (the highest address)
  ' S 0601000,4', //    page 0x601 -> 0
  'I  04000103,5',
  ' M 7ff0001010,8', // page 3 read + write
  ' L 0601ffc,8', //    crosses 0x601 / 0x602 -> pages 0 (line 63) and 1 (line 0)
  ' S 0603000,8', //    page 0x603 -> 2
  '--4242-- a valgrind debug line',
  'I  04000108,2',
  ' L 0601000,1', //    page 0
  '==4242== Exit code: 0',
  '',
].join('\n');

describe('sim/trace: lackey converter', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hmmv-lackey-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('renumbers pages densely in address order, counts M as read+write and distinct lines, splits epochs every N accesses', async () => {
    for (const chunkSize of [1, 7, 1 << 16]) {
      const out = join(dir, `sample-${chunkSize}.trace`);
      const s = await convertLackey(chunks(SAMPLE, chunkSize), out, { name: 'sample', epochAccesses: 3 });
      assert.deepEqual({ accesses: s.accesses, pages: s.pages, epochs: s.epochs, instructions: s.instructions }, { accesses: 8, pages: 4, epochs: 3, instructions: 3 });
      const text = readFileSync(out, 'utf8');
      assert.equal(
        text,
        [
          `# trace sample page_size=4096 epoch_accesses=3 pages=4 epochs=3 accesses=8 instructions=3 cpu_ns_per_op=0.124 accesses_per_op=1 line_size=64 renumbered=address-order address_span_pages=${0x7ff0001 - 0x601 + 1} source=lackey`,
          'epoch 0', //   L p3, S p0, M-read p3 (one line each)
          '0 0 1 1',
          '3 2 0 1',
          'epoch 1', //   M-write p3, L p0 line 63, L p1 line 0 (the page-crossing load)
          '0 1 0 1',
          '1 1 0 1',
          '3 0 1 1',
          'epoch 2', //   S p2, L p0
          '0 1 0 1',
          '2 0 1 1',
          '',
        ].join('\n'),
      );
    }
  });

  it('renumbers a sparse address space (pages 0-199 and 0x1ffe000) densely, keeping address order, and says so', async () => {
    const input = [...Array.from({ length: 200 }, (_, p) => ` L ${(p * 4096 + 8).toString(16)},8`), ` S ${(0x1ffe000 * 4096).toString(16)},8`, ' L 0,8'].join('\n') + '\n';
    const out = join(dir, 'sparse.trace');
    const s = await convertLackey(chunks(input, 500), out, { name: 'sparse', epochAccesses: 1000 });
    assert.equal(s.pages, 201);
    const t = readTraceFile(out);
    assert.equal(t.pageCount, 201);
    assert.equal(t.header.renumbered, 'address-order');
    assert.equal(t.header.address_span_pages, 0x1ffe001);
    assert.deepEqual(epochMaps(t)[0]!.get(200), [0, 1, 1], 'the far page is the last');
    assert.deepEqual(epochMaps(t)[0]!.get(0), [2, 0, 1], 'page 0 read twice, one line');
  });

  it('can record instruction fetches and filter through an LRU cache', async () => {
    const withI = await convertLackey(chunks(SAMPLE, 100), join(dir, 'i.trace'), { name: 'i', epochAccesses: 100, includeInstructions: true });
    assert.equal(withI.accesses, 11);
    assert.equal(readTraceFile(join(dir, 'i.trace')).header.source, 'lackey-with-ifetch');
    // 64 loads of one line after another: with a cache only the first misses.
    const repeated = Array.from({ length: 64 }, () => ' L 0601000,8').join('\n') + '\n';
    const cached = await convertLackey(chunks(repeated, 100), join(dir, 'c.trace'), { name: 'c', epochAccesses: 100, cacheKib: 32 });
    assert.equal(cached.accesses, 1);
    assert.equal(readTraceFile(join(dir, 'c.trace')).header.cache_kib, 32);
    // Write-back: a load miss is a read, the first store to the clean line a write, later stores nothing; M on a miss is both.
    const stores = [' L 0601000,8', ' S 0601008,8', ' S 0601010,8', ' M 0602000,8', ' M 0602000,8', ' S 0603000,8', ' L 0603000,8'].join('\n') + '\n';
    const wb = await convertLackey(chunks(stores, 100), join(dir, 'wb.trace'), { name: 'wb', epochAccesses: 100, cacheKib: 32 });
    assert.equal(wb.accesses, 5);
    assert.equal(readFileSync(join(dir, 'wb.trace'), 'utf8').split('\n').slice(2).join('\n'), '0 1 1 1\n1 1 1 1\n2 0 1 1\n');
    // A cache smaller than the lines cycled through misses every time (LRU, 16 ways).
    const cycling = Array.from({ length: 4 }, () => Array.from({ length: 32 }, (_, i) => ` L ${(0x100000 + i * 64).toString(16)},8`).join('\n')).join('\n') + '\n';
    const thrash = await convertLackey(chunks(cycling, 1000), join(dir, 't.trace'), { name: 't', epochAccesses: 1000, cacheKib: 1 });
    assert.equal(thrash.accesses, 128);
    const fits = await convertLackey(chunks(cycling, 1000), join(dir, 'f.trace'), { name: 'f', epochAccesses: 1000, cacheKib: 2 });
    assert.equal(fits.accesses, 32);
  });

  it('rejects a line that is not lackey output, naming the line, and leaves no file', async () => {
    const bad = SAMPLE.replace(' S 0603000,8', 'hello from the program');
    const out = join(dir, 'bad.trace');
    await assert.rejects(
      convertLackey(chunks(bad, 5), out, { name: 'bad', epochAccesses: 3 }),
      /stdin:9: expected a lackey line 'I\|L\|S\|M <hex address>,<size>' \(from valgrind --tool=lackey --trace-mem=yes\), got 'hello from the program'/,
    );
    await assert.rejects(convertLackey(chunks(' L 12zz,8\n', 5), out, { name: 'bad', epochAccesses: 3 }), /stdin:1: expected a lackey line/);
    await assert.rejects(convertLackey(chunks('==1== only valgrind chatter\n', 5), out, { name: 'bad', epochAccesses: 3 }), /stdin: no memory accesses in 1 lines of input; expected the output of valgrind --tool=lackey --trace-mem=yes/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('bad')), []);
  });

  describe('on a real valgrind run', function () {
    this.timeout(180_000);
    let lackeyLog = '';

    before(() => {
      for (const [tool, pkg] of [['valgrind', 'valgrind'], ['gcc', 'gcc libc6-dev']] as const) {
        const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
        if (r.error || r.status !== 0) throw new Error(`${tool} is needed for this test and was not found: install it (apt-get install ${pkg})`);
      }
      const src = join(dir, 'touch.c');
      // 256 pages written once each, then 16 of them read 200 times: a known hot set.
      writeFileSync(
        src,
        '#include <stdio.h>\n#include <stdlib.h>\n' +
          'int main(void) {\n  char *a = malloc(256 * 4096);\n  if (!a) return 1;\n' +
          '  for (int i = 0; i < 256; i++) a[i * 4096] = (char)i;\n  long sum = 0;\n' +
          '  for (int r = 0; r < 200; r++)\n    for (int i = 0; i < 16; i++) sum += ((volatile char *)a)[i * 4096];\n' +
          '  printf("%ld\\n", sum);\n  return 0;\n}\n',
      );
      const bin = join(dir, 'touch');
      const cc = spawnSync('gcc', ['-O1', '-o', bin, src], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(cc.status, 0, `gcc failed: ${cc.stderr}`);
      lackeyLog = join(dir, 'lackey.log');
      const vg = spawnSync('valgrind', ['--tool=lackey', '--trace-mem=yes', `--log-file=${lackeyLog}`, bin], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(vg.status, 0, `valgrind failed: ${vg.stderr}`);
      assert.equal(vg.stdout.trim(), String(200 * (15 * 16) / 2 * 1), 'the traced program ran to the end');
    });

    it('hmmv trace convert matches the reference conversion and shows the program\'s pages', () => {
      const out = join(dir, 'touch.trace.gz');
      const input = openSync(lackeyLog, 'r');
      let r;
      try {
        r = spawnSync(process.execPath, [CLI, 'trace', 'convert', '-o', out, '--epoch-accesses', '5000'], { stdio: [input, 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 });
      } finally {
        closeSync(input);
      }
      assert.equal(r.status, 0, `convert failed: ${r.stderr}`);
      assert.match(r.stderr, /touch\.trace\.gz: \d+ lackey lines, \d+ instructions, \d+ accesses recorded, \d+ pages, \d+ epochs/);
      const t = readTraceFile(out);
      assert.equal(t.header.name, 'touch');
      const ref = referenceConvert(readFileSync(lackeyLog, 'latin1'), 5000);
      assert.equal(t.pageCount, ref.pages);
      assert.deepEqual(epochMaps(t), ref.epochs);
      for (let e = 0; e + 1 < t.epochCount; e++) {
        let sum = 0;
        for (let i = t.epochStart[e]!; i < t.epochStart[e + 1]!; i++) sum += t.reads[i]! + t.writes[i]!;
        assert.equal(sum, 5000, `epoch ${e} holds exactly epoch_accesses accesses`);
      }
      assert.equal(t.header.renumbered, 'address-order');
      assert.ok(t.header.address_span_pages! > t.pageCount, 'the program\'s heap and stack are far apart: the span exceeds the pages touched');
      // The malloc'd array: 256 pages at consecutive addresses get 256 consecutive dense numbers,
      // each written; the first 16 of them are read at least 200 times.
      const reads = new Float64Array(t.pageCount);
      const writes = new Float64Array(t.pageCount);
      for (let i = 0; i < t.page.length; i++) {
        reads[t.page[i]!]! += t.reads[i]!;
        writes[t.page[i]!]! += t.writes[i]!;
      }
      let found = -1;
      for (let start = 0; start + 256 <= t.pageCount && found < 0; start++) {
        let ok = true;
        for (let i = 0; i < 16 && ok; i++) ok = reads[start + i]! >= 200 && writes[start + i]! >= 1;
        for (let i = 16; i < 256 && ok; i++) ok = writes[start + i]! >= 1 && reads[start + i]! === 0;
        if (ok) found = start;
      }
      assert.ok(found >= 0, 'the 256-page array appears as consecutive pages: 16 hot, 240 written once');
    });

    it('exits non-zero with the line number on bad input and writes nothing', () => {
      const out = join(dir, 'never.trace');
      const r = spawnSync(process.execPath, [CLI, 'trace', 'convert', '-o', out], { input: ' L 1000,8\nnot lackey\n', encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /hmmv trace convert: stdin:2: expected a lackey line/);
      assert.equal(existsSync(out), false);
      const bad = spawnSync(process.execPath, [CLI, 'trace', 'convert', '-o', out, '--epoch-accesses', '0'], { input: '', encoding: 'utf8', timeout: 60_000 });
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /--epoch-accesses.*expected a positive integer, got '0'/);
    });
  });
});
