/**
 * Fuzzing the tiering metadata (fast-check): random <hmmv:tiering> elements
 * built from good and bad parts (known and unknown children and attributes,
 * good and bad values, odd prefixes and namespaces, text), and valid domain
 * XML mutated character by character. The parser and the hook's `prepare`
 * (run in-process, as hooks/qemu.ts runs it) must give either a clear error
 * (TieringMetadataError, or an Error naming the domain XML) or a config that
 * passes the schema with min <= quota <= max; never another exception, a hang
 * or an out-of-bounds quota. `prepare` creates the QMP socket's folder, so
 * cases whose socket lies outside this test's temp folder are parsed only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { runHook } from '../../plugin/libvirt/hook.js';
import { TIERING_NS, TieringMetadataError, tieringFromDomainXml, validateTieringConfig } from '../../plugin/libvirt/tiering-metadata.js';
import type { TieringConfig } from '../../plugin/runtime/tiering-config.js';

const ROOT = mkdtempSync(path.join(os.tmpdir(), 'hmmv-fuzz-meta-'));
const SOCKET = path.join(ROOT, 'qmp', 'vm.sock');

/** Mostly good values of a kind, sometimes bad ones. */
const mostly = (good: string[], bad: string[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) });
const sizes = mostly(['64MiB', '128MiB', '16MiB', '1GiB', '4096', '65536KiB', '100MB'], ['0', '4095', '-1', '1.5GiB', 'huge', '', ' 1GiB ', '99999999999999999999TiB', '1e9', '0x1000', '2 GiB', '2XB']);
const ints = mostly(['1', '8', '100', '500', '10000', '007'], ['0', '10001', '-3', '1.5', 'x', '', '60001', '9'.repeat(30)]);
const paths = mostly([SOCKET, `${ROOT}/other.sock`, '/dev/dax0.0'], ['relative.sock', '', '/dev/sda', `${ROOT}/a,b.sock`, `/${'x'.repeat(120)}`]);

/** One attribute: a known name with a value of its kind, or an unknown one. */
const attr = (known: Record<string, fc.Arbitrary<string>>) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...Object.keys(known)).chain((name) => known[name]!.map((v) => [name, v] as const)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('size', 'quota2', 'xmlns:x', 'hmmv:quota', 'socket'), fc.string({ maxLength: 6 })) },
  );

const CHILDREN: Record<string, Record<string, fc.Arbitrary<string>>> = {
  dram: { quota: sizes, min: sizes, max: sizes, weight: ints },
  'slow-tier': { 'numa-node': ints, devdax: paths },
  tracking: { 'window-ms': ints, rounds: ints },
  migration: { 'bytes-per-second': sizes },
  qmp: { socket: paths },
  pool: { socket: paths },
  bogus: { any: ints },
};

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

const child = (prefix: string) =>
  fc.constantFrom(...Object.keys(CHILDREN)).chain((name) =>
    fc.uniqueArray(attr(CHILDREN[name]!), { maxLength: 4, selector: ([n]) => n }).map((as) => `<${prefix}${name}${as.map(([n, v]) => ` ${n}="${escape(v)}"`).join('')}/>`),
  );

/** A tiering element from good and bad parts, in a domain. */
const structured = fc
  .record({
    prefix: fc.constantFrom('hmmv:', 'hmmv:', 'hmmv:', 'hmmv:', 't:', ''),
    childPrefix: fc.constantFrom('same', 'same', 'same', 'same', 'same', 'other'),
    ns: fc.constantFrom(TIERING_NS, TIERING_NS, TIERING_NS, TIERING_NS, TIERING_NS, 'http://hmmv.dev/xmlns/tiering/2'),
    backend: fc.constantFrom('backend="sim"', 'backend="sim"', 'backend="sim"', 'backend="linux"', 'backend="kvm"', '', 'backend=""', 'mode="x"'),
    seed: fc.constantFrom('good', 'random'),
    text: fc.constantFrom('', '', '', '', 'hello'),
    twice: fc.constantFrom(false, false, false, false, true),
  })
  .chain((r) => {
    const p = r.prefix;
    const cp = r.childPrefix === 'same' ? p : 'x:';
    const good = `<${cp}dram quota="64MiB" min="16MiB" max="128MiB" weight="100"/><${cp}qmp socket="${SOCKET}"/>`;
    return fc.array(child(cp), { maxLength: 3 }).map((kids) => {
      const xmlns = p === '' ? `xmlns="${r.ns}"` : `xmlns:${p.slice(0, -1)}="${r.ns}"`;
      const el = `<${p}tiering ${xmlns} ${r.backend}>${r.seed === 'good' ? good : ''}${kids.join('')}${r.text}</${p}tiering>`;
      return domainOf(r.twice ? el + el : el);
    });
  });

function domainOf(metadataBody: string): string {
  return (
    `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>fuzz</name><metadata>${metadataBody}</metadata>` +
    `<qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:${SOCKET},server=on,wait=off'/></qemu:commandline></domain>`
  );
}

const VALID = domainOf(
  `<hmmv:tiering xmlns:hmmv="${TIERING_NS}" backend="sim"><hmmv:dram quota="64MiB" min="16MiB" max="128MiB" weight="100"/>` +
    `<hmmv:tracking window-ms="500" rounds="8"/><hmmv:migration bytes-per-second="1GiB"/><hmmv:qmp socket="${SOCKET}"/><hmmv:pool socket="${ROOT}/pool.sock"/></hmmv:tiering>`,
);

/** Valid XML with 1..3 character edits: inserts of XML-significant characters, deletions, duplicated slices. */
const mutatedXml = fc
  .array(
    fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), op: fc.constantFrom('insert', 'delete', 'dup'), ch: fc.constantFrom('<', '>', '&', '"', "'", '=', '/', ':', ' ', 'x', '9', '-', '\u0000', '\u00e9', '&amp;', '<!--', ']]>') }),
    { minLength: 1, maxLength: 3 },
  )
  .map((edits) => {
    let s = VALID;
    for (const e of edits) {
      const i = Math.floor(e.at * s.length);
      if (e.op === 'insert') s = s.slice(0, i) + e.ch + s.slice(i);
      else if (e.op === 'delete') s = s.slice(0, i) + s.slice(i + 1 + Math.floor(e.at * 7));
      else s = s.slice(0, i) + s.slice(i, i + 12) + s.slice(i);
    }
    return s;
  });

/** The parser's verdict: a valid config, no metadata, or a clear error. Anything else fails the test. */
function parseVerdict(xml: string): { config?: TieringConfig; error?: string } {
  try {
    const config = tieringFromDomainXml(xml);
    if (!config) return {};
    // A result must pass the schema and the rules, with every size a whole number of bytes.
    validateTieringConfig(config);
    const { quotaBytes, minBytes, maxBytes } = config.dram;
    assert.ok(minBytes <= quotaBytes && quotaBytes <= maxBytes, `out-of-bounds quota accepted: ${JSON.stringify(config.dram)}`);
    for (const v of [quotaBytes, minBytes, maxBytes, config.migration.bytesPerSecond]) assert.ok(Number.isSafeInteger(v) && v >= 0, `size ${v}`);
    return { config };
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    assert.ok(error instanceof TieringMetadataError || (error as Error).constructor === Error, `not a clear error: ${(error as Error).stack}`);
    const message = (error as Error).message;
    assert.ok(error instanceof TieringMetadataError || /domain XML/.test(message), `an error that does not say where: ${message}`);
    assert.ok(message.length > 10);
    return { error: message };
  }
}

async function checkPrepare(xml: string, verdict: { config?: TieringConfig; error?: string }): Promise<void> {
  // prepare creates the socket's folder: only for sockets under this test's temp folder.
  if (verdict.config && !verdict.config.qmp.socket.startsWith(`${ROOT}/`)) return;
  const r = await runHook(['fuzz', 'prepare', 'begin', '-'], xml);
  assert.ok(r.code === 0 || r.code === 1, `prepare exit code ${r.code}`);
  if (verdict.error) assert.equal(r.code, 1, `prepare let through what the parser refused: ${verdict.error}`);
  if (r.code === 1) assert.match(r.stderr, /^hmmv: domain 'fuzz': /);
}

describe('tiering metadata and the prepare hook under fuzzed input', function () {
  this.timeout(120_000);
  after(() => rmSync(ROOT, { recursive: true, force: true }));

  it('the valid base case passes both', async () => {
    const v = parseVerdict(VALID);
    assert.ok(v.config, v.error);
    await checkPrepare(VALID, v);
    assert.equal((await runHook(['fuzz', 'prepare', 'begin', '-'], VALID)).code, 0);
  });

  it('random elements from good and bad parts: a clear error or a valid config', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(structured, async (xml) => {
        const v = parseVerdict(xml);
        if (v.config) accepted++;
        await checkPrepare(xml, v);
      }),
      { numRuns: 1500, seed: 77 },
    );
    console.log(`      random elements: ${accepted} of 1500 accepted`);
    assert.ok(accepted > 0, 'some random elements should be valid');
  });

  it('valid domain XML mutated character by character: a clear error or a valid config', async () => {
    const seen = { accepted: 0, refused: 0, none: 0 };
    await fc.assert(
      fc.asyncProperty(mutatedXml, async (xml) => {
        const v = parseVerdict(xml);
        seen[v.config ? 'accepted' : v.error ? 'refused' : 'none']++;
        await checkPrepare(xml, v);
      }),
      { numRuns: 1500, seed: 78 },
    );
    console.log(`      mutated: ${seen.accepted} accepted, ${seen.refused} refused with an error, ${seen.none} without hmmv metadata`);
    assert.ok(seen.accepted > 0 && seen.refused > 0, JSON.stringify(seen));
  });
});
