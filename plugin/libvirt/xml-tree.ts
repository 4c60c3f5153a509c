/**
 * Helpers over fast-xml-parser's order-preserving tree, which keeps a domain
 * XML's elements, comments and text in order so an edit changes only what it
 * means to. A node is `{ [tag]: children[], ':@'?: { attr: value } }`; text is
 * `{ '#text': string }` and comments `{ '#comment': [...] }`.
 */
import { createRequire } from 'node:module';
import type * as FastXmlParser from 'fast-xml-parser';

// The package's CommonJS bundle (lib/fxp.cjs, one file), not its ESM entry (38
// modules): importing the ESM entry took 130-150 ms here, requiring the bundle
// 11-19 ms. The hook and every `hmmv domain` command parse a domain XML, and
// libvirtd waits for the hook; same version, same API (the types are the ESM entry's).
const { XMLBuilder, XMLParser, XMLValidator } = createRequire(import.meta.url)('fast-xml-parser') as typeof FastXmlParser;

export type XmlNode = Record<string, unknown>;

const OPTIONS = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  commentPropName: '#comment',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
} as const;

/** Parses XML into the order-preserving tree; malformed XML throws an Error naming the line. */
export function parseXmlTree(xml: string, what: string): XmlNode[] {
  const valid = wellFormed(xml);
  if (valid !== true) throw new Error(`${what} is not well-formed XML: ${valid}`);
  return new XMLParser(OPTIONS).parse(xml) as XmlNode[];
}

export function buildXml(nodes: XmlNode[]): string {
  return new XMLBuilder({ ...OPTIONS, format: true, indentBy: '  ', suppressEmptyNode: true }).build(nodes) as string;
}

/** The element name of a node, or undefined for text/comments/declarations. */
export function tagOf(node: XmlNode): string | undefined {
  for (const key of Object.keys(node)) {
    if (key !== ':@' && key !== '#text' && key !== '#comment' && !key.startsWith('?')) return key;
  }
  return undefined;
}

/** The element's attributes (a fresh empty object, not attached, when it has none). */
export function attrsOf(node: XmlNode): Record<string, string> {
  return (node[':@'] as Record<string, string> | undefined) ?? {};
}

/** The element's attributes, attached so that changes to them stick. */
export function mutableAttrsOf(node: XmlNode): Record<string, string> {
  return ((node[':@'] as Record<string, string> | undefined) ??= {}) as Record<string, string>;
}

export function childrenOf(node: XmlNode): XmlNode[] {
  const tag = tagOf(node);
  if (tag === undefined) return [];
  return node[tag] as XmlNode[];
}

export function elementsOf(node: XmlNode): XmlNode[] {
  return childrenOf(node).filter((c) => tagOf(c) !== undefined);
}

/** Text content directly inside the element. */
export function textOf(node: XmlNode): string {
  return childrenOf(node)
    .map((c) => (typeof c['#text'] === 'string' || typeof c['#text'] === 'number' ? String(c['#text']) : ''))
    .join('');
}

export function element(tag: string, attrs: Record<string, string> = {}, children: XmlNode[] = []): XmlNode {
  const node: XmlNode = { [tag]: children };
  if (Object.keys(attrs).length > 0) node[':@'] = { ...attrs };
  return node;
}

/** The root element (skipping the XML declaration and comments). */
export function rootOf(nodes: XmlNode[], what: string): XmlNode {
  const root = nodes.find((n) => tagOf(n) !== undefined);
  if (!root) throw new Error(`${what} has no root element`);
  return root;
}

/** Splits "prefix:local" into its parts ("" prefix when none). */
export function splitName(name: string): { prefix: string; local: string } {
  const i = name.indexOf(':');
  return i < 0 ? { prefix: '', local: name } : { prefix: name.slice(0, i), local: name.slice(i + 1) };
}

/**
 * The namespace URI an element's prefix is bound to, looking at the element
 * itself and then its ancestors (outermost last in `ancestors`).
 */
export function namespaceOf(node: XmlNode, ancestors: readonly XmlNode[]): string | undefined {
  const { prefix } = splitName(tagOf(node) ?? '');
  const attr = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
  for (const n of [node, ...[...ancestors].reverse()]) {
    const value = (n[':@'] as Record<string, string> | undefined)?.[attr];
    if (value !== undefined) return value;
  }
  return undefined;
}

function wellFormed(xml: string): true | string {
  const result = XMLValidator.validate(xml);
  if (result === true) return true;
  return `${result.err.msg} (line ${result.err.line}, column ${result.err.col})`;
}
