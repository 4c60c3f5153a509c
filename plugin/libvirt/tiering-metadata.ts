/**
 * hmmv's tiering metadata: one element in hmmv's own namespace under a libvirt
 * domain's <metadata>, e.g.
 *
 *   <hmmv:tiering xmlns:hmmv="http://hmmv.dev/xmlns/tiering/1" backend="sim">
 *     <hmmv:dram quota="2GiB" min="1GiB" max="4GiB" weight="100"/>
 *     <hmmv:slow-tier numa-node="1"/>            (or devdax="/dev/dax0.0")
 *     <hmmv:tracking window-ms="500" rounds="8"/>
 *     <hmmv:migration bytes-per-second="1GiB"/>
 *     <hmmv:qmp socket="/run/hmmv/qmp/NAME.sock"/>
 *     <hmmv:pool socket="/run/hmmv/pool.sock"/>   (optional: the pool daemon to join)
 *   </hmmv:tiering>
 *
 * The element is found by its namespace URI (libvirt may re-prefix it), parsed
 * into TieringConfig and validated against schemas/tiering-metadata.schema.json.
 * Every problem names the element and attribute and the expected form.
 */
import type { ErrorObject } from 'ajv';
import { readSchema, schemaValidator } from '../util/schema-validators.js';
import { TIERING_DEFAULTS, type TieringConfig } from '../runtime/tiering-config.js';
import { TIERING_NS } from './namespace.js';
import { SIZE_FORM, formatSize, parseSize } from './units.js';
import { attrsOf, childrenOf, element, elementsOf, namespaceOf, parseXmlTree, rootOf, splitName, tagOf, textOf, type XmlNode } from './xml-tree.js';

/** hmmv's XML namespace for domain metadata. Stable: a new incompatible form gets a new URI. */
export { TIERING_NS };
export const TIERING_PREFIX = 'hmmv';
export const TIERING_ELEMENT = 'tiering';

export { TIERING_DEFAULTS, type Backend, type SlowTier, type TieringConfig } from '../runtime/tiering-config.js';

export class TieringMetadataError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid hmmv tiering metadata (namespace ${TIERING_NS}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'TieringMetadataError';
  }
}

// ---- locating the element -------------------------------------------------------

/** The tiering element in a parsed domain tree, with its ancestors, or undefined. */
export function findTieringNode(domain: XmlNode): { node: XmlNode; ancestors: XmlNode[] } | undefined {
  const metadata = elementsOf(domain).find((n) => tagOf(n) === 'metadata');
  if (!metadata) return undefined;
  const ours = elementsOf(metadata).filter((n) => namespaceOf(n, [domain, metadata]) === TIERING_NS);
  if (ours.length > 1) {
    throw new TieringMetadataError([`<metadata> holds ${ours.length} elements in namespace ${TIERING_NS}; libvirt keeps one per namespace`]);
  }
  return ours[0] ? { node: ours[0], ancestors: [domain, metadata] } : undefined;
}

/** The domain's tiering config, or undefined when it has no hmmv metadata. Throws TieringMetadataError. */
export function tieringFromDomainXml(domainXml: string): TieringConfig | undefined {
  const domain = rootOf(parseXmlTree(domainXml, 'the domain XML'), 'the domain XML');
  if (tagOf(domain) !== 'domain') throw new Error(`the domain XML's root element is <${tagOf(domain)}>, expected <domain>`);
  const found = findTieringNode(domain);
  return found ? parseTieringNode(found.node) : undefined;
}

/** Parses a standalone tiering element (as `virsh metadata` prints it). */
export function tieringFromElementXml(xml: string): TieringConfig {
  const node = rootOf(parseXmlTree(xml, 'the tiering metadata'), 'the tiering metadata');
  return parseTieringNode(node);
}

// ---- element -> config --------------------------------------------------------------

interface AttrSpec {
  /** How the attribute's text becomes a value; a string result is a problem. */
  parse: (text: string) => number | string | { error: string };
  /** Where it goes in the config. */
  path: readonly string[];
}

const integer =
  (form: string) =>
  (text: string): number | { error: string } =>
    /^\s*\d+\s*$/.test(text) ? Number(text) : { error: `expected ${form}, got '${text}'` };
const size = (text: string): number | { error: string } => {
  const v = parseSize(text);
  return typeof v === 'number' ? v : { error: v };
};
const str = (text: string): string => text;

/** Children of <tiering> and their attributes, in the order they are written. */
const CHILDREN: Record<string, Record<string, AttrSpec>> = {
  dram: {
    quota: { parse: size, path: ['dram', 'quotaBytes'] },
    min: { parse: size, path: ['dram', 'minBytes'] },
    max: { parse: size, path: ['dram', 'maxBytes'] },
    weight: { parse: integer('an integer weight 1..10000'), path: ['dram', 'weight'] },
  },
  'slow-tier': {
    'numa-node': { parse: integer('a host NUMA node number'), path: ['slowTier', 'numaNode'] },
    devdax: { parse: str, path: ['slowTier', 'devdax'] },
  },
  tracking: {
    'window-ms': { parse: integer('a window length in milliseconds'), path: ['tracking', 'windowMs'] },
    rounds: { parse: integer('a number of scan rounds per window'), path: ['tracking', 'rounds'] },
  },
  migration: {
    'bytes-per-second': { parse: size, path: ['migration', 'bytesPerSecond'] },
  },
  qmp: {
    socket: { parse: str, path: ['qmp', 'socket'] },
  },
  pool: {
    socket: { parse: str, path: ['pool', 'socket'] },
  },
};

/** JSON-pointer path of the config -> where it is written in the XML. */
const XML_PLACE: Record<string, string> = { '/backend': 'attribute backend' };
for (const [child, attrs] of Object.entries(CHILDREN)) {
  for (const [attr, spec] of Object.entries(attrs)) XML_PLACE[`/${spec.path.join('/')}`] = `<${child}> attribute ${attr}`;
}
XML_PLACE['/slowTier'] = '<slow-tier>';
XML_PLACE['/qmp'] = '<qmp>';
XML_PLACE['/pool'] = '<pool>';

const EXPECTED: Record<string, string> = {
  '/backend': "'linux', 'kmod' or 'sim'",
  '/dram/quotaBytes': `${SIZE_FORM}, at least 4KiB`,
  '/dram/maxBytes': `${SIZE_FORM}, at least 4KiB`,
  '/dram/weight': 'an integer 1..10000',
  '/slowTier': "exactly one of numa-node='N' or devdax='/dev/daxX.Y'",
  '/slowTier/devdax': "a device path like '/dev/dax0.0'",
  '/slowTier/numaNode': 'a host NUMA node number 0..1023',
  '/tracking/windowMs': 'an integer 10..60000 (milliseconds)',
  '/tracking/rounds': 'an integer 1..64',
  '/migration/bytesPerSecond': `${SIZE_FORM} (per second), at least 4KiB`,
  '/qmp/socket': 'an absolute unix socket path of at most 107 bytes, without commas',
  '/pool/socket': 'an absolute unix socket path of at most 107 bytes',
};

export function parseTieringNode(node: XmlNode): TieringConfig {
  const problems: string[] = [];
  const tag = tagOf(node) ?? '';
  const { prefix, local } = splitName(tag);
  const p = prefix ? `${prefix}:` : '';
  const name = (child: string) => `<${p}${TIERING_ELEMENT}>/<${p}${child}>`;
  if (local !== TIERING_ELEMENT) problems.push(`<${tag}>: expected the element <${p}${TIERING_ELEMENT}>`);

  const raw: Record<string, unknown> = {};
  const put = (path: readonly string[], value: unknown) => {
    let o = raw;
    for (const k of path.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
    o[path[path.length - 1]!] = value;
  };

  const rootAttrs = attrsOf(node);
  for (const [attr, value] of Object.entries(rootAttrs)) {
    if (attr === 'xmlns' || attr.startsWith('xmlns:')) continue;
    if (attr === 'backend') put(['backend'], value);
    else problems.push(`<${tag}>: unknown attribute '${attr}' (expected: backend)`);
  }
  if (textOf(node).trim() !== '') problems.push(`<${tag}>: unexpected text '${textOf(node).trim()}'`);

  const seen = new Set<string>();
  for (const child of childrenOf(node)) {
    const childTag = tagOf(child);
    if (childTag === undefined) {
      if (typeof child['#text'] === 'string' && child['#text'].trim() !== '') problems.push(`<${tag}>: unexpected text '${child['#text'].trim()}'`);
      continue;
    }
    const split = splitName(childTag);
    const spec = CHILDREN[split.local];
    if (split.prefix !== prefix || !spec) {
      problems.push(`${name(split.local)}: unknown element <${childTag}> (expected: ${Object.keys(CHILDREN).map((c) => `<${p}${c}>`).join(', ')})`);
      continue;
    }
    if (seen.has(split.local)) problems.push(`${name(split.local)}: given more than once`);
    seen.add(split.local);
    if (split.local === 'slow-tier' && Object.keys(attrsOf(child)).filter((a) => a in spec).length !== 1) {
      problems.push(`${name(split.local)}: give exactly one of numa-node='N' or devdax='/dev/daxX.Y'`);
      continue;
    }
    for (const [attr, text] of Object.entries(attrsOf(child))) {
      const a = spec[attr];
      if (!a) {
        problems.push(`${name(split.local)}: unknown attribute '${attr}' (expected: ${Object.keys(spec).join(', ')})`);
        continue;
      }
      const value = a.parse(text);
      if (typeof value === 'object') problems.push(`${name(split.local)} attribute ${attr}: ${value.error}`);
      else put(a.path, value);
    }
  }
  if (!seen.has('qmp')) problems.push(`${name('qmp')}: missing (give socket='/run/hmmv/qmp/DOMAIN.sock'; 'hmmv domain enable' does this)`);

  // Defaults for what may be left out.
  const dram = ((raw.dram ??= {}) as Record<string, number>);
  dram.minBytes ??= 0;
  dram.maxBytes ??= dram.quotaBytes!;
  dram.weight ??= TIERING_DEFAULTS.weight;
  const tracking = ((raw.tracking ??= {}) as Record<string, number>);
  tracking.windowMs ??= TIERING_DEFAULTS.windowMs;
  tracking.rounds ??= TIERING_DEFAULTS.rounds;
  const migration = ((raw.migration ??= {}) as Record<string, number>);
  migration.bytesPerSecond ??= TIERING_DEFAULTS.bytesPerSecond;
  const pool = ((raw.pool ??= {}) as Record<string, string>);
  pool.socket ??= TIERING_DEFAULTS.poolSocket;

  const placeOf = (pointer: string) => {
    const place = XML_PLACE[pointer];
    if (!place) return `<${tag}>`;
    return place.startsWith('attribute') ? `<${tag}> ${place}` : `<${tag}>/${place.replace(/^<([^>]+)>/, `<${p}$1>`)}`;
  };
  // Schema problems about places the structural pass already complained about are repeats.
  const said = (problem: string) => problems.some((x) => x.startsWith(problem.slice(0, problem.indexOf(': '))));
  // Without a quota, max has no default: one problem (the quota) is enough.
  const noQuota = dram.quotaBytes === undefined;
  const more = schemaProblems(raw, placeOf).filter((x) => !said(x) && !(noQuota && x.startsWith(placeOf('/dram/maxBytes'))));
  if (problems.length + more.length > 0) throw new TieringMetadataError([...problems, ...more]);
  return raw as unknown as TieringConfig;
}

// ---- schema validation --------------------------------------------------------------

export function tieringSchema(): object {
  return readSchema('tiering-metadata');
}

/**
 * Validates a parsed config against the JSON Schema and the rules a schema cannot
 * say (min <= quota <= max). `placeOf` turns a JSON pointer into the XML place
 * named in the error; the default names the JSON path.
 */
export function validateTieringConfig(value: unknown, placeOf: (pointer: string) => string = (p) => p || '/'): TieringConfig {
  const problems = schemaProblems(value, placeOf);
  if (problems.length > 0) throw new TieringMetadataError(problems);
  return value as TieringConfig;
}

function schemaProblems(value: unknown, placeOf: (pointer: string) => string): string[] {
  // Precompiled at build time (plugin/util/schema-validators.ts), loaded on first use.
  const validator = schemaValidator('tiering-metadata');
  const problems: string[] = [];
  if (!validator(value)) {
    for (const e of relevantErrors(validator.errors ?? [])) {
      const pointer = e.keyword === 'required' ? `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}` : e.instancePath;
      const expected = EXPECTED[pointer];
      if (e.keyword === 'required' && pointer === '/slowTier') {
        problems.push(`${placeOf(pointer)}: required when backend='linux' or 'kmod' (give numa-node='N' or devdax='/dev/daxX.Y')`);
      } else if (e.keyword === 'required') {
        problems.push(`${placeOf(pointer)}: missing${expected ? ` (expected ${expected})` : ''}`);
      } else {
        problems.push(`${placeOf(pointer)}: ${expected ? `expected ${expected}` : e.message}, got ${JSON.stringify(valueAt(value, pointer))}`);
      }
    }
  }
  const dram = (value as { dram?: Record<string, unknown> }).dram ?? {};
  const { quotaBytes, minBytes, maxBytes } = dram;
  if (typeof quotaBytes === 'number' && typeof minBytes === 'number' && typeof maxBytes === 'number') {
    if (minBytes > quotaBytes) problems.push(`${placeOf('/dram/minBytes')}: ${formatSize(minBytes)} is more than quota ${formatSize(quotaBytes)}`);
    if (maxBytes < quotaBytes) problems.push(`${placeOf('/dram/maxBytes')}: ${formatSize(maxBytes)} is less than quota ${formatSize(quotaBytes)}`);
  }
  return problems;
}

/**
 * Drops the noise ajv adds around if/then and oneOf so each problem is said
 * once: inside the slow-tier oneOf, only errors about a given attribute's value
 * count; the bare oneOf error only when there is nothing more precise.
 */
function relevantErrors(errors: ErrorObject[]): ErrorObject[] {
  const inOneOf = (e: ErrorObject) => e.schemaPath.includes('/oneOf/');
  const precise = errors.filter((e) => e.keyword !== 'if' && e.keyword !== 'oneOf' && !(inOneOf(e) && (e.keyword === 'required' || e.keyword === 'additionalProperties')));
  const out = precise.filter((e, i) => precise.findIndex((x) => x.instancePath === e.instancePath && x.keyword === e.keyword && x.message === e.message) === i);
  const oneOf = errors.find((e) => e.keyword === 'oneOf');
  if (oneOf && !out.some((e) => e.instancePath.startsWith(oneOf.instancePath))) out.push(oneOf);
  return out;
}

function valueAt(value: unknown, pointer: string): unknown {
  let v = value;
  for (const k of pointer.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

// ---- config -> element -----------------------------------------------------------------

/** The tiering element for `config`, with every value written out (defaults included). */
export function tieringNode(config: TieringConfig, prefix = TIERING_PREFIX): XmlNode {
  const p = `${prefix}:`;
  const children: XmlNode[] = [
    element(`${p}dram`, {
      quota: formatSize(config.dram.quotaBytes),
      min: formatSize(config.dram.minBytes),
      max: formatSize(config.dram.maxBytes),
      weight: String(config.dram.weight),
    }),
  ];
  if (config.slowTier) {
    children.push(
      element(`${p}slow-tier`, 'numaNode' in config.slowTier ? { 'numa-node': String(config.slowTier.numaNode) } : { devdax: config.slowTier.devdax }),
    );
  }
  children.push(
    element(`${p}tracking`, { 'window-ms': String(config.tracking.windowMs), rounds: String(config.tracking.rounds) }),
    element(`${p}migration`, { 'bytes-per-second': formatSize(config.migration.bytesPerSecond) }),
    element(`${p}qmp`, { socket: config.qmp.socket }),
    element(`${p}pool`, { socket: config.pool.socket }),
  );
  return element(`${p}${TIERING_ELEMENT}`, { [`xmlns:${prefix}`]: TIERING_NS, backend: config.backend }, children);
}
