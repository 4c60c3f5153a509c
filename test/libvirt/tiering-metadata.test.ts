import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import {
  TIERING_NS,
  TieringMetadataError,
  tieringFromDomainXml,
  tieringFromElementXml,
  tieringNode,
  tieringSchema,
  type TieringConfig,
} from '../../plugin/libvirt/tiering-metadata.js';
import { buildXml } from '../../plugin/libvirt/xml-tree.js';

const el = (body: string, attrs = 'backend="sim"', prefix = 'hmmv') =>
  `<${prefix}:tiering xmlns:${prefix}="${TIERING_NS}" ${attrs}>${body}</${prefix}:tiering>`;
const QMP = '<hmmv:qmp socket="/run/hmmv/qmp/vm.sock"/>';

function problemsOf(xml: string): string[] {
  try {
    tieringFromElementXml(xml);
  } catch (error) {
    assert.ok(error instanceof TieringMetadataError, `expected a TieringMetadataError, got ${String(error)}`);
    return [...error.problems];
  }
  assert.fail('expected the metadata to be refused');
}

describe('tiering metadata', () => {
  it('parses every field, with libvirt units', () => {
    const config = tieringFromElementXml(
      el(
        '<hmmv:dram quota="2GiB" min="1024MiB" max="4294967296" weight="300"/><hmmv:slow-tier numa-node="1"/>' +
          '<hmmv:tracking window-ms="200" rounds="4"/><hmmv:migration bytes-per-second="256MiB"/>' +
          QMP,
        'backend="linux"',
      ),
    );
    assert.deepEqual(config, {
      backend: 'linux',
      dram: { quotaBytes: 2 * 1024 ** 3, minBytes: 1024 ** 3, maxBytes: 4 * 1024 ** 3, weight: 300 },
      slowTier: { numaNode: 1 },
      tracking: { windowMs: 200, rounds: 4 },
      migration: { bytesPerSecond: 256 * 1024 ** 2 },
      qmp: { socket: '/run/hmmv/qmp/vm.sock' },
      pool: { socket: '/run/hmmv/pool.sock' },
    });
  });

  it('names another pool daemon socket with <hmmv:pool socket>, and refuses a bad one', () => {
    assert.deepEqual(tieringFromElementXml(el(`<hmmv:dram quota="1GiB"/>${QMP}<hmmv:pool socket="/run/hmmv/pool-b.sock"/>`)).pool, { socket: '/run/hmmv/pool-b.sock' });
    assert.deepEqual(problemsOf(el(`<hmmv:dram quota="1GiB"/>${QMP}<hmmv:pool socket="pool.sock"/>`)), [
      '<hmmv:tiering>/<hmmv:pool> attribute socket: expected an absolute unix socket path of at most 107 bytes, got "pool.sock"',
    ]);
    assert.deepEqual(problemsOf(el(`<hmmv:dram quota="1GiB"/>${QMP}<hmmv:pool path="/x"/>`)), [
      "<hmmv:tiering>/<hmmv:pool>: unknown attribute 'path' (expected: socket)",
    ]);
  });

  it('fills defaults and the parsed form satisfies the JSON Schema', () => {
    const config = tieringFromElementXml(el(`<hmmv:dram quota="512MiB"/>${QMP}`));
    assert.deepEqual(config.dram, { quotaBytes: 512 * 1024 ** 2, minBytes: 0, maxBytes: 512 * 1024 ** 2, weight: 100 });
    assert.deepEqual(config.tracking, { windowMs: 500, rounds: 8 });
    const validate = new Ajv().compile(tieringSchema());
    assert.equal(validate(config), true, JSON.stringify(validate.errors));
  });

  it('finds the element by namespace URI, whatever its prefix', () => {
    const domain = `<domain type="qemu"><name>vm</name><metadata><other:x xmlns:other="urn:other"/>${el(
      '<t:dram quota="1GiB"/><t:qmp socket="/run/hmmv/qmp/vm.sock"/>',
      'backend="sim"',
      't',
    )}</metadata></domain>`;
    assert.equal(tieringFromDomainXml(domain)?.dram.quotaBytes, 1024 ** 3);
  });

  it('ignores a domain without hmmv metadata, or with an element of the same name in another namespace', () => {
    assert.equal(tieringFromDomainXml('<domain type="qemu"><name>vm</name></domain>'), undefined);
    assert.equal(tieringFromDomainXml('<domain><metadata><hmmv:tiering xmlns:hmmv="urn:not-ours"/></metadata></domain>'), undefined);
  });

  it('names element, attribute and expected form for every problem, all at once', () => {
    const problems = problemsOf(
      el(
        '<hmmv:dram quota="lots" wieght="2"/><hmmv:tracking rounds="0" window-ms="x"/><hmmv:qmp socket="relative,path"/><hmmv:colour/>',
        'backend="kvm"',
      ),
    );
    const expect = [
      /^<hmmv:tiering>\/<hmmv:dram> attribute quota: expected a size like 2GiB.*got 'lots'/,
      /^<hmmv:tiering>\/<hmmv:dram>: unknown attribute 'wieght' \(expected: quota, min, max, weight\)/,
      /^<hmmv:tiering>\/<hmmv:tracking> attribute window-ms: expected a window length in milliseconds, got 'x'/,
      /^<hmmv:tiering>\/<hmmv:colour>: unknown element/,
      /^<hmmv:tiering> attribute backend: expected 'linux', 'kmod' or 'sim', got "kvm"/,
      /^<hmmv:tiering>\/<hmmv:tracking> attribute rounds: expected an integer 1..64, got 0/,
      /^<hmmv:tiering>\/<hmmv:qmp> attribute socket: expected an absolute unix socket path/,
    ];
    for (const re of expect) assert.ok(problems.some((p) => re.test(p)), `no problem matches ${re}:\n${problems.join('\n')}`);
    assert.equal(problems.length, expect.length, problems.join('\n'));
  });

  it('refuses missing parts, a linux backend without a slow tier, and min > quota > max', () => {
    assert.deepEqual(problemsOf(el('', '')), [
      "<hmmv:tiering>/<hmmv:qmp>: missing (give socket='/run/hmmv/qmp/DOMAIN.sock'; 'hmmv domain enable' does this)",
      "<hmmv:tiering> attribute backend: missing (expected 'linux', 'kmod' or 'sim')",
      '<hmmv:tiering>/<hmmv:dram> attribute quota: missing (expected a size like 2GiB, 512MiB, 1048576KiB or 2147483648 (plain bytes), at least 4KiB)',
    ]);
    assert.deepEqual(problemsOf(el(`<hmmv:dram quota="1GiB" min="2GiB"/>${QMP}`, 'backend="linux"')), [
      "<hmmv:tiering>/<hmmv:slow-tier>: required when backend='linux' or 'kmod' (give numa-node='N' or devdax='/dev/daxX.Y')",
      '<hmmv:tiering>/<hmmv:dram> attribute min: 2GiB is more than quota 1GiB',
    ]);
    assert.deepEqual(problemsOf(el(`<hmmv:dram quota="1GiB" max="512MiB"/><hmmv:slow-tier devdax="/dev/sda"/>${QMP}`)), [
      `<hmmv:tiering>/<hmmv:slow-tier> attribute devdax: expected a device path like '/dev/dax0.0', got "/dev/sda"`,
      '<hmmv:tiering>/<hmmv:dram> attribute max: 512MiB is less than quota 1GiB',
    ]);
    assert.deepEqual(problemsOf(el(`<hmmv:dram quota="1GiB"/><hmmv:slow-tier numa-node="1" devdax="/dev/dax0.0"/>${QMP}`)), [
      "<hmmv:tiering>/<hmmv:slow-tier>: give exactly one of numa-node='N' or devdax='/dev/daxX.Y'",
    ]);
  });

  it('says so when the domain XML is not XML', () => {
    assert.throws(() => tieringFromDomainXml('<domain><metadata></domain>'), /the domain XML is not well-formed XML: .*line 1/);
  });

  it('writes an element that parses back to the same config', () => {
    const config: TieringConfig = {
      backend: 'linux',
      dram: { quotaBytes: 3 * 1024 ** 3, minBytes: 1024 ** 3, maxBytes: 8 * 1024 ** 3, weight: 7 },
      slowTier: { devdax: '/dev/dax1.0' },
      tracking: { windowMs: 1000, rounds: 8 },
      migration: { bytesPerSecond: 100 * 1024 ** 2 },
      qmp: { socket: '/run/hmmv/qmp/x.sock' },
      pool: { socket: '/run/hmmv/other-pool.sock' },
    };
    assert.deepEqual(tieringFromElementXml(buildXml([tieringNode(config)])), config);
  });
});
