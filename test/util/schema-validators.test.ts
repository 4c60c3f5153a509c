/**
 * The precompiled validators (dist/schemas/validators/NAME.cjs, written by the
 * build) against the same schemas compiled by ajv at run time with the same
 * options: same verdict, same errors, and the data left identical (defaults
 * filled in, text coerced), on real samples taken from the repository's
 * tests and files, on known-bad ones and on fast-check mutations of them.
 * Also: the build's files are current and need only ajv, and a missing,
 * broken or stale file falls back to compiling at run time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { tieringFromDomainXml, tieringFromElementXml, TIERING_NS } from '../../plugin/libvirt/tiering-metadata.js';
import { defaultCoreConfig, PoolCore } from '../../plugin/pool/core.js';
import { packageRoot, PROTOCOL_VERSION } from '../../plugin/pool/wire.js';
import {
  SCHEMA_NAMES,
  VALIDATORS_DIR,
  compileValidator,
  loadValidator,
  schemaValidator,
  standaloneValidatorCode,
  validatorFile,
  type SchemaName,
  type SchemaValidator,
} from '../../plugin/util/schema-validators.js';
import { hello, report } from '../pool/helpers.js';

const ROOT = packageRoot();

// ---- samples ---------------------------------------------------------------------------

/** Elements from test/libvirt/tiering-metadata.test.ts and kmod-ram.test.ts, parsed: what the hook validates. */
const el = (body: string, attrs = 'backend="sim"') => `<hmmv:tiering xmlns:hmmv="${TIERING_NS}" ${attrs}>${body}</hmmv:tiering>`;
const QMP = '<hmmv:qmp socket="/run/hmmv/qmp/vm.sock"/>';
const tieringValid = (): unknown[] => [
  tieringFromElementXml(
    el(
      '<hmmv:dram quota="2GiB" min="1024MiB" max="4294967296" weight="300"/><hmmv:slow-tier numa-node="1"/>' +
        '<hmmv:tracking window-ms="200" rounds="4"/><hmmv:migration bytes-per-second="256MiB"/>' +
        QMP,
      'backend="linux"',
    ),
  ),
  tieringFromElementXml(el(`<hmmv:dram quota="1GiB"/>${QMP}<hmmv:pool socket="/run/hmmv/pool-b.sock"/>`)),
  tieringFromElementXml(el(`<hmmv:dram quota="512MiB"/>${QMP}`)),
  tieringFromElementXml(el(`<hmmv:dram quota="32MiB"/><hmmv:slow-tier devdax='/dev/dax1.0'/>${QMP}`, "backend='kmod'")),
  tieringFromDomainXml(`<domain type="qemu"><name>vm</name><metadata><other:x xmlns:other="urn:other"/>${el(`<hmmv:dram quota="1GiB"/>${QMP}`)}</metadata></domain>`),
];
/** The parsed form with the faults the metadata tests name (backend, rounds, both slow tiers, a bad devdax, a relative socket, ...). */
const tieringInvalid = (): unknown[] => {
  const base = tieringValid()[0] as Record<string, unknown>;
  const withField = (path: string[], value: unknown) => {
    const c = structuredClone(base);
    let o = c as Record<string, unknown>;
    for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
    if (value === undefined) delete o[path.at(-1)!];
    else o[path.at(-1)!] = value;
    return c;
  };
  return [
    withField(['backend'], 'kvm'),
    withField(['tracking', 'rounds'], 0),
    withField(['slowTier'], { numaNode: 1, devdax: '/dev/dax0.0' }),
    withField(['slowTier'], { devdax: '/dev/sda' }),
    withField(['slowTier'], undefined),
    withField(['pool', 'socket'], 'pool.sock'),
    withField(['qmp'], undefined),
    withField(['dram', 'quotaBytes'], 'lots'),
    withField(['colour'], {}),
    {},
    null,
    'tiering',
    [],
  ];
};

/** A state message from a real PoolCore after two joins and a report. */
function poolState(): unknown {
  const core = new PoolCore(defaultCoreConfig(10_000), 0);
  core.join(hello('a'), 0);
  core.join(hello('b', { minPages: 100, maxPages: 6000, weight: 300 }), 0);
  core.report('a', report(1, 1200));
  return core.state(1000);
}
const clientValid = (): unknown[] => [
  hello('a'),
  hello('b', { uuid: '7c1c2a34-9a0e-4b8f-9d2e-5f1e0b7a6c11', minPages: 100, maxPages: 6000, weight: 300, currentQuotaPages: 3000 }),
  report(1, 1200),
  report(7, 0, 0, { dramHistogram: new Array<number>(256).fill(0), slowdown: 1.25 }),
  { type: 'bye' },
  { type: 'status' },
  { type: 'subscribe' },
];
const clientInvalid = (): unknown[] => [
  { ...hello('a'), protocol: 2 },
  { ...hello('a'), pageCount: -1 },
  { ...report(1, 10), curve: [[-5, 1]] },
  { ...report(1, 10), extra: true },
  { type: 'hallo' },
  { domain: 'a' },
  [],
  7,
];
const serverValid = (): unknown[] => [
  { type: 'welcome', protocol: PROTOCOL_VERSION, poolPages: 10_000, policy: 'utility', quotaPages: 2500, graceMs: 10_000 },
  { type: 'quota', quotaPages: 1234, epoch: 3 },
  { type: 'error', code: 'replaced', message: 'another connection now manages "a"' },
  { type: 'error', code: 'rate-limited', message: 'more than 20 messages/s (burst 40): messages are being dropped' },
  poolState(),
];
const serverInvalid = (): unknown[] => [
  { type: 'quota', quotaPages: -1, epoch: 3 },
  { type: 'error', code: 'oops', message: 'x' },
  { type: 'welcome', protocol: PROTOCOL_VERSION },
  { ...(poolState() as object), vms: 'none' },
  { type: 42 },
];
/** packaging/pool.json.example and the configs of test/pool/commands.test.ts. */
const configValid = (): unknown[] => [
  JSON.parse(readFileSync(join(ROOT, 'packaging', 'pool.json.example'), 'utf8')),
  { poolPages: 100 },
  { poolPages: 100, rateLimit: { burst: 5 }, latencyNs: { nvm: 500 }, tcp: { port: 0, token: 'a-token-of-sixteen-or-more' } },
];
const configInvalid = (): unknown[] => [
  { poolPages: 100, graceMs: -1 },
  { poolPages: 100, policy: 'random' },
  { poolPages: 100, tcp: { port: 9000, token: 'short' } },
  { poolPages: 100, colour: 'blue' },
  {},
];
/** The header fields parseHeader hands to the validator (all text). */
const headerFields = (line: string): Record<string, unknown> => {
  const [name, ...tokens] = line.replace(/^# trace /, '').trim().split(/\s+/);
  return Object.fromEntries([['name', name], ...tokens.map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)])]);
};
/** The headers of the real traces in traces/, those of test/sim/trace/format.test.ts, and a header as the writer checks it (numbers). */
const headerValid = (): unknown[] => [
  ...readdirSync(join(ROOT, 'traces'))
    .filter((f) => f.endsWith('.trace.gz'))
    .map((f) => headerFields(gunzipSync(readFileSync(join(ROOT, 'traces', f))).toString('utf8').split('\n', 1)[0]!)),
  headerFields('# trace ok page_size=4096 epoch_accesses=4'),
  headerFields('# trace demo page_size=4096 epoch_accesses=10 extra_note=hello'),
  { name: 'random-1', page_size: 4096, epoch_accesses: 1000, pages: 300, source: 'test' },
];
const headerInvalid = (): unknown[] => [
  headerFields('# trace a page_size=4096'),
  headerFields('# trace a page_size=2048 epoch_accesses=5'),
  headerFields('# trace a page_size=4096 epoch_accesses=many'),
  headerFields('# trace a page_size=4096 epoch_accesses=5 Bad-Key=1'),
];

const SAMPLES: Record<SchemaName, { valid: () => unknown[]; invalid: () => unknown[] }> = {
  'tiering-metadata': { valid: tieringValid, invalid: tieringInvalid },
  'pool-client-message': { valid: clientValid, invalid: clientInvalid },
  'pool-server-message': { valid: serverValid, invalid: serverInvalid },
  'pool-config': { valid: configValid, invalid: configInvalid },
  'trace-header': { valid: headerValid, invalid: headerInvalid },
};

// ---- comparison ------------------------------------------------------------------------

interface Outcome {
  ok: boolean;
  errors: unknown;
  data: unknown;
}

function outcome(validate: SchemaValidator, sample: unknown): Outcome {
  const data = structuredClone(sample);
  const ok = validate(data);
  return { ok, errors: structuredClone(validate.errors ?? null), data };
}

/** Runs both validators on copies of `sample`; they must agree on everything. Returns the verdict. */
function agree(name: SchemaName, pre: SchemaValidator, runtime: SchemaValidator, sample: unknown): boolean {
  const a = outcome(pre, sample);
  const b = outcome(runtime, sample);
  assert.deepEqual(a, b, `${name}: precompiled and runtime validators differ on ${JSON.stringify(sample)}`);
  return a.ok;
}

/** Every path to a value inside `v` (objects and arrays), root excluded. */
function pathsOf(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== 'object') return [];
  const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return keys.flatMap((k) => [[...prefix, k], ...pathsOf((v as Record<string | number, unknown>)[k], [...prefix, k])]);
}

const odd = fc.constantFrom<unknown>(-1, 0, 0.5, 4096, 1e300, 2 ** 53, '', 'x', '12', '4096', '-3', 'true', null, true, [], {}, [[1, 2]], 'x'.repeat(200));
/** Values some fields accept, so that mutated samples are sometimes still valid. */
const plausible = fc.constantFrom<unknown>(1, 8, 100, 2500, 1073741824, 'sim', 'utility', 'quota', 'a', '/run/hmmv/qmp/x.sock', '/dev/dax0.0', { numaNode: 0 }, [[10, 1]]);
const mutation = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('set', 'drop', 'add', 'borrow'),
  key: fc.string({ maxLength: 6 }),
  value: fc.oneof({ weight: 1, arbitrary: odd }, { weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
});

/**
 * `sample` with each mutation applied: a value replaced, a key or element
 * dropped, a key added, or a value taken from the same place in one of the
 * valid `donors` (which keeps many mutants valid).
 */
function mutate(sample: unknown, mutations: { pick: number; op: string; key: string; value: unknown }[], donors: unknown[]): unknown {
  let v = structuredClone(sample);
  for (const m of mutations) {
    const paths = pathsOf(v);
    if (paths.length === 0 || (m.op === 'set' && m.pick % (paths.length + 1) === paths.length)) {
      v = structuredClone(m.value);
      continue;
    }
    const path = paths[m.pick % paths.length]!;
    const parentPath = path.slice(0, -1);
    let parent = v as Record<string | number, unknown>;
    for (const k of parentPath) parent = parent[k] as Record<string | number, unknown>;
    const last = path.at(-1)!;
    if (m.op === 'borrow') {
      let d = donors[m.pick % donors.length] as Record<string | number, unknown> | undefined;
      for (const k of path) d = d !== null && typeof d === 'object' ? (d[k] as Record<string | number, unknown> | undefined) : undefined;
      if (d !== undefined) parent[last] = structuredClone(d);
    } else if (m.op === 'set') parent[last] = structuredClone(m.value);
    else if (m.op === 'drop') {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
    } else if (!Array.isArray(parent)) parent[m.key] = structuredClone(m.value);
    else parent.push(structuredClone(m.value));
  }
  return v;
}

// ---- tests -----------------------------------------------------------------------------

describe('util: precompiled schema validators', () => {
  for (const name of SCHEMA_NAMES) {
    describe(name, () => {
      const loaded = loadValidator(name);
      const runtime = compileValidator(name);

      it('is loaded from the build (not compiled), and schemaValidator hands out that one', () => {
        assert.equal(loaded.origin, 'precompiled', `${validatorFile(name)} did not load: run the build`);
        assert.notEqual(loaded.validate, runtime);
        assert.equal(schemaValidator(name), loaded.validate);
        assert.equal(schemaValidator(name), schemaValidator(name), 'cached');
      });

      it('agrees with the runtime-compiled schema on real samples (valid) and known-bad ones (invalid)', () => {
        const { valid, invalid } = SAMPLES[name];
        assert.ok(valid().length >= 3 && invalid().length >= 4);
        for (const s of valid()) assert.equal(agree(name, loaded.validate, runtime, s), true, `${name}: the sample ${JSON.stringify(s)} is refused`);
        for (const s of invalid()) assert.equal(agree(name, loaded.validate, runtime, s), false, `${name}: the bad sample ${JSON.stringify(s)} passes`);
      });

      it('agrees on fast-check mutations of the samples (verdict, errors, data)', () => {
        const donors = SAMPLES[name].valid();
        const samples = [...donors, ...SAMPLES[name].invalid()];
        const verdicts = { true: 0, false: 0 };
        fc.assert(
          fc.property(fc.constantFrom(...samples), fc.array(mutation, { minLength: 1, maxLength: 2 }), (sample, mutations) => {
            verdicts[String(agree(name, loaded.validate, runtime, mutate(sample, mutations, donors))) as 'true' | 'false']++;
          }),
          { numRuns: 600, seed: 20261203 },
        );
        // The mutations must reach both verdicts (each at least 2% of the runs), or the comparison proves little.
        assert.ok(verdicts.true >= 12 && verdicts.false >= 12, `${name}: verdicts ${JSON.stringify(verdicts)}`);
      });
    });
  }

  it("keeps the callers' side effects on the data: defaults filled in (pool), text coerced (trace header)", () => {
    const config = { poolPages: 100, tcp: { port: 0, token: 'a-token-of-sixteen-or-more' } };
    assert.equal(schemaValidator('pool-config')(config), true);
    assert.deepEqual(config, {
      poolPages: 100,
      pageSizeBytes: 4096,
      policy: 'utility',
      intervalMs: 1000,
      hysteresisPages: 256,
      graceMs: 10000,
      settleMs: 10000,
      maxMessageBytes: 262144,
      socketPath: '/run/hmmv/pool.sock',
      tcp: { host: '127.0.0.1', port: 0, token: 'a-token-of-sixteen-or-more' },
    });
    const header = headerFields('# trace ok page_size=4096 epoch_accesses=4 cpu_ns_per_op=16.5 source=lackey');
    assert.equal(schemaValidator('trace-header')(header), true);
    assert.deepEqual(header, { name: 'ok', page_size: 4096, epoch_accesses: 4, cpu_ns_per_op: 16.5, source: 'lackey' });
    // tiering metadata: every error at once (allErrors); the pool: the first only.
    const tiering = schemaValidator('tiering-metadata');
    assert.equal(tiering({ backend: 'kvm' }), false);
    assert.ok((tiering.errors ?? []).length > 1, JSON.stringify(tiering.errors));
    const client = schemaValidator('pool-client-message');
    assert.equal(client({ ...hello('a'), protocol: 2, pageCount: -1 }), false);
    assert.equal(client.errors?.length, 1);
  });

  it('the built files are what the build step makes now, and need nothing but ajv (a dependency)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; files: string[] };
    assert.ok(pkg.dependencies['ajv'], 'ajv is a dependency');
    assert.ok(pkg.files.includes('dist/schemas/'), 'dist/schemas/ is packaged');
    for (const name of SCHEMA_NAMES) {
      const text = readFileSync(validatorFile(name), 'utf8');
      assert.equal(text, standaloneValidatorCode(name), `${validatorFile(name)} is stale`);
      for (const [, spec] of text.matchAll(/require\(["']([^"']+)["']\)/g)) assert.match(spec!, /^ajv\/dist\/runtime\//, `${name} requires ${spec}`);
    }
  });

  describe('fallback to compiling at run time', () => {
    // Inside dist/ (not /tmp), so a copied validator's require('ajv/...') resolves as in the build.
    let dir: string;
    before(() => (dir = mkdtempSync(join(VALIDATORS_DIR, '..', 'test-validators-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    const sameVerdicts = (name: SchemaName, validate: SchemaValidator) => {
      for (const s of SAMPLES[name].valid()) assert.equal(agree(name, validate, compileValidator(name), s), true);
      for (const s of SAMPLES[name].invalid()) assert.equal(agree(name, validate, compileValidator(name), s), false);
    };

    it('compiles when the .cjs is absent, with the same verdicts', () => {
      for (const name of SCHEMA_NAMES) {
        const r = loadValidator(name, dir);
        assert.equal(r.origin, 'runtime', name);
        sameVerdicts(name, r.validate);
      }
    });

    it('loads a copy of the built file, but compiles when the copy is stale (other stamp) or broken', () => {
      const name: SchemaName = 'tiering-metadata';
      const built = readFileSync(validatorFile(name), 'utf8');
      writeFileSync(validatorFile(name, dir), built);
      assert.equal(loadValidator(name, dir).origin, 'precompiled', 'control: the copy itself loads');

      const other: SchemaName = 'pool-config';
      writeFileSync(validatorFile(other, dir), built.replace(/schemaStamp = .*\n$/, 'schemaStamp = "0000";\n'));
      assert.notEqual(readFileSync(validatorFile(other, dir), 'utf8'), built, 'the stamp was replaced');
      const stale = loadValidator(other, dir);
      assert.equal(stale.origin, 'runtime');
      sameVerdicts(other, stale.validate);

      const broken: SchemaName = 'trace-header';
      writeFileSync(validatorFile(broken, dir), 'module.exports = (;\n');
      const b = loadValidator(broken, dir);
      assert.equal(b.origin, 'runtime');
      sameVerdicts(broken, b.validate);
    });

    it("a validator stamped for another schema's text is not taken for this one", () => {
      // The tiering-metadata file under the pool-client-message name: loadable, but made from another schema.
      writeFileSync(validatorFile('pool-client-message', dir), readFileSync(validatorFile('tiering-metadata'), 'utf8'));
      assert.equal(loadValidator('pool-client-message', dir).origin, 'runtime');
    });
  });
});
