import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { formatHeader, parseHeader } from '../../../plugin/sim/trace/header.js';
import { parseTrace, readTraceFile } from '../../../plugin/sim/trace/reader.js';
import { traceFromEpochs, type TraceData } from '../../../plugin/sim/trace/trace-data.js';
import { writeAtomically, writeTraceFile } from '../../../plugin/sim/trace/writer.js';
import { Prng } from '../../../plugin/sim/workloads/prng.js';

/** A random trace: `epochs` epochs over `pages` pages, each touching a random subset. */
function randomTrace(seed: number, pages: number, epochs: number): TraceData {
  const rng = new Prng(seed);
  const list = [];
  for (let e = 0; e < epochs; e++) {
    const page: number[] = [];
    const reads: number[] = [];
    const writes: number[] = [];
    for (let p = 0; p < pages; p++) {
      if (rng.chance(0.3)) {
        page.push(p);
        reads.push(rng.nextBelow(50));
        writes.push(rng.nextBelow(20));
      }
    }
    list.push({ page, reads, writes });
  }
  return traceFromEpochs({ name: `random-${seed}`, page_size: 4096, epoch_accesses: 1000, pages, source: 'test' }, list);
}

function sameTrace(a: TraceData, b: TraceData): void {
  assert.deepEqual(b.header, a.header);
  assert.equal(b.pageCount, a.pageCount);
  assert.equal(b.epochCount, a.epochCount);
  assert.deepEqual(b.epochStart, a.epochStart);
  assert.deepEqual(b.page, a.page);
  assert.deepEqual(b.reads, a.reads);
  assert.deepEqual(b.writes, a.writes);
  assert.equal(b.totalAccesses, a.totalAccesses);
}

describe('sim/trace: format', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hmmv-trace-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips through plain and gzip files', async () => {
    for (const seed of [1, 2, 3]) {
      const t = randomTrace(seed, 300, 7);
      for (const name of [`t${seed}.trace`, `t${seed}.trace.gz`]) {
        const path = join(dir, name);
        await writeTraceFile(path, t);
        sameTrace(t, readTraceFile(path));
      }
      const gz = readFileSync(join(dir, `t${seed}.trace.gz`));
      assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b], '.gz output is gzip');
      assert.ok(readFileSync(join(dir, `t${seed}.trace`), 'utf8').startsWith(`# trace random-${seed} page_size=4096 epoch_accesses=1000 pages=300 source=test\nepoch 0\n`));
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary files left');
  });

  it('reads the format as documented: comments, blank lines, hex pages, CRLF', () => {
    const text = '# trace demo page_size=4096 epoch_accesses=10 extra_note=hello\r\n# a comment\r\n\r\nepoch 0\r\nA 3 1\r\n0 0 2\r\nepoch 1\r\nepoch 2\r\nff 1 0\r\n';
    const t = parseTrace(text, 'demo.trace');
    assert.equal(t.header.name, 'demo');
    assert.equal(t.header['extra_note'], 'hello');
    assert.equal(t.epochCount, 3);
    assert.equal(t.pageCount, 256, 'no pages= in the header: largest index + 1');
    assert.deepEqual(Array.from(t.page), [10, 0, 255]);
    assert.deepEqual(Array.from(t.epochStart), [0, 2, 2, 3]);
    assert.equal(t.totalAccesses, 7);
  });

  it('reads a gzip file whatever its name', () => {
    const path = join(dir, 'no-extension');
    writeFileSync(path, gzipSync('# trace g page_size=4096 epoch_accesses=1\nepoch 0\n1 1 0\n'));
    assert.equal(readTraceFile(path).totalAccesses, 1);
  });

  const bad: [string, string, RegExp][] = [
    ['empty file', '', /x\.trace:1: empty file, expected the header '# trace NAME/],
    ['no header', 'epoch 0\n1 1 1\n', /x\.trace:1: expected the header '# trace NAME page_size=4096 epoch_accesses=N \.\.\.', got 'epoch 0'/],
    ['header without name', '# trace page_size=4096 epoch_accesses=1\n', /x\.trace:1: expected the trace NAME after '# trace'/],
    ['missing epoch_accesses', '# trace a page_size=4096\nepoch 0\n', /x\.trace:1: bad trace header: missing 'epoch_accesses'/],
    ['bad page size', '# trace a page_size=2048 epoch_accesses=5\n', /x\.trace:1: bad trace header: page_size must be one of 4096/],
    ['non-numeric field', '# trace a page_size=4096 epoch_accesses=many\n', /x\.trace:1: bad trace header: epoch_accesses must be integer/],
    ['token without =', '# trace a page_size=4096 epoch_accesses=5 oops\n', /x\.trace:1: expected key=value in the header, got 'oops'/],
    ['duplicate key', '# trace a page_size=4096 epoch_accesses=5 page_size=4096\n', /x\.trace:1: header key 'page_size' appears twice/],
    ['bad key name', '# trace a page_size=4096 epoch_accesses=5 Bad-Key=1\n', /key 'Bad-Key' must be lower_snake_case/],
    ['no epochs', '# trace a page_size=4096 epoch_accesses=5\n', /x\.trace:2: expected 'epoch 0', the file has no epochs/],
    ['page line before epoch', '# trace a page_size=4096 epoch_accesses=5\n1 2 3\n', /x\.trace:2: expected 'epoch 0' before the first page line, got '1 2 3'/],
    ['epoch out of order', '# trace a page_size=4096 epoch_accesses=5\nepoch 0\nepoch 2\n', /x\.trace:3: expected 'epoch 1', got 'epoch 2'/],
    ['epoch with junk', '# trace a page_size=4096 epoch_accesses=5\nepoch zero\n', /x\.trace:2: expected 'epoch 0', got 'epoch zero'/],
    ['two fields', '# trace a page_size=4096 epoch_accesses=5\nepoch 0\n1 2\n', /x\.trace:3: expected '<page_hex> <reads> <writes>' \(hex page index, decimal counts\) or 'epoch N', got '1 2'/],
    ['non-hex page', '# trace a page_size=4096 epoch_accesses=5\nepoch 0\nxyz 1 2\n', /x\.trace:3: expected '<page_hex> <reads> <writes>'/],
    ['negative count', '# trace a page_size=4096 epoch_accesses=5\nepoch 0\n1 -1 2\n', /x\.trace:3: expected '<page_hex> <reads> <writes>'/],
    ['page beyond pages=', '# trace a page_size=4096 epoch_accesses=5 pages=16\nepoch 0\n10 1 0\n', /x\.trace:3: page 0x10 is outside the 16 pages the header declares/],
    ['page too large', '# trace a page_size=4096 epoch_accesses=5\nepoch 0\nffffffff 1 0\n', /x\.trace:3: page 0xffffffff is beyond the largest page index 0x7fffffff/],
    ['duplicate page', '# trace a page_size=4096 epoch_accesses=5\nepoch 0\n1 1 0\n2 1 1\n01 0 1\n', /x\.trace:5: page 0x01 is listed twice in epoch 0/],
    ['wrong epochs=', '# trace a page_size=4096 epoch_accesses=5 epochs=3\nepoch 0\n1 1 0\n', /x\.trace:3: the header declares epochs=3, the file has 1/],
    ['wrong accesses=', '# trace a page_size=4096 epoch_accesses=5 accesses=3\nepoch 0\n1 1 0\n', /x\.trace:3: the header declares accesses=3, the file has 1/],
  ];
  for (const [what, text, message] of bad) {
    it(`rejects a trace with ${what}, naming file, line and what was expected`, () => {
      assert.throws(() => parseTrace(text, 'x.trace'), message);
    });
  }

  it('names the file when it cannot be read or is corrupt gzip', () => {
    assert.throws(() => readTraceFile(join(dir, 'missing.trace')), /missing\.trace: cannot read trace: ENOENT/);
    const path = join(dir, 'corrupt.gz');
    writeFileSync(path, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    assert.throws(() => readTraceFile(path), /corrupt\.gz: corrupt gzip/);
  });

  it('refuses to write an invalid header and leaves no file behind', async () => {
    const t = traceFromEpochs({ name: 'has space', page_size: 4096, epoch_accesses: 1 }, [{ page: [0], reads: [1], writes: [0] }]);
    const path = join(dir, 'never.trace');
    await assert.rejects(writeTraceFile(path, t), /bad trace header: name must match pattern/);
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('never')), []);
  });

  it('a write that fails half-way leaves neither the file nor a temporary behind', async () => {
    async function* failing(): AsyncGenerator<string> {
      yield '# trace half page_size=4096 epoch_accesses=1\nepoch 0\n';
      throw new Error('source failed');
    }
    for (const name of ['half.trace', 'half.trace.gz']) {
      await assert.rejects(writeAtomically(join(dir, name), Readable.from(failing())), /source failed/);
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('half')), []);
    }
  });

  it('formats and parses headers symmetrically', () => {
    const h = parseHeader('# trace x page_size=4096 epoch_accesses=7 cpu_ns_per_op=1.5 note=a', 'h');
    assert.equal(h.cpu_ns_per_op, 1.5);
    assert.equal(formatHeader(h), '# trace x page_size=4096 epoch_accesses=7 cpu_ns_per_op=1.5 note=a');
  });
});
