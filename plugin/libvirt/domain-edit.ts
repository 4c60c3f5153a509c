/**
 * Edits a domain's XML for hmmv: the tiering element under <metadata> and the
 * manager's own QMP socket, passed to QEMU through <qemu:commandline> (libvirt
 * holds the domain's monitor, and QMP allows one client per socket). libvirt
 * marks a domain with <qemu:commandline> "tainted" (custom-argv); that is
 * expected and harmless here.
 */
import { domainMemoryBytes, isKmodRamArg, kmodRamArgs, kmodRamProblems } from './kmod-ram.js';
import { TIERING_NS, TIERING_PREFIX, TieringMetadataError, findTieringNode, tieringNode, type TieringConfig } from './tiering-metadata.js';
import { attrsOf, buildXml, mutableAttrsOf, childrenOf, element, elementsOf, parseXmlTree, rootOf, splitName, tagOf, textOf, type XmlNode } from './xml-tree.js';

export const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';

/** The QEMU argument that opens the manager's QMP socket (QEMU unlinks a stale socket before binding). */
export function qmpServerArg(socket: string): string {
  return `unix:${socket},server=on,wait=off`;
}

function parseDomain(xml: string): { nodes: XmlNode[]; domain: XmlNode } {
  const nodes = parseXmlTree(xml, 'the domain XML');
  const domain = rootOf(nodes, 'the domain XML');
  if (tagOf(domain) !== 'domain') throw new Error(`the domain XML's root element is <${tagOf(domain)}>, expected <domain>`);
  return { nodes, domain };
}

/** The prefix bound to the QEMU namespace on <domain>, binding "qemu" if none is. */
function qemuPrefix(domain: XmlNode, bind: boolean): string | undefined {
  const attrs = mutableAttrsOf(domain);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === QEMU_NS && name.startsWith('xmlns:')) return name.slice('xmlns:'.length);
  }
  if (!bind) return undefined;
  attrs['xmlns:qemu'] = QEMU_NS;
  return 'qemu';
}

/** Every <qemu:arg value> of the domain's <qemu:commandline> elements, in order. */
export function commandlineArgs(domainXml: string): string[] {
  const { domain } = parseDomain(domainXml);
  const prefix = qemuPrefix(domain, false);
  if (prefix === undefined) return [];
  return elementsOf(domain)
    .filter((n) => tagOf(n) === `${prefix}:commandline`)
    .flatMap((cl) => elementsOf(cl).filter((n) => tagOf(n) === `${prefix}:arg`).map((n) => attrsOf(n).value ?? ''));
}

/** The QMP socket paths given to QEMU as `-qmp unix:PATH,...` in <qemu:commandline>. */
export function commandlineQmpSockets(domainXml: string): string[] {
  const { domain } = parseDomain(domainXml);
  const prefix = qemuPrefix(domain, false);
  if (prefix === undefined) return [];
  const sockets: string[] = [];
  for (const cl of elementsOf(domain).filter((n) => tagOf(n) === `${prefix}:commandline`)) {
    const args = elementsOf(cl).filter((n) => tagOf(n) === `${prefix}:arg`).map((n) => attrsOf(n).value ?? '');
    args.forEach((a, i) => {
      const m = /^unix:([^,]+)/.exec(args[i + 1] ?? '');
      if (a === '-qmp' && m) sockets.push(m[1]!);
    });
  }
  return sockets;
}

/**
 * Returns the domain XML with hmmv enabled: the tiering element (replacing any
 * earlier one) and the `-qmp` argument for its socket (once). Idempotent.
 */
export function enableTiering(domainXml: string, config: TieringConfig): string {
  const { nodes, domain } = parseDomain(domainXml);
  const children = childrenOf(domain);
  if (config.backend === 'kmod') {
    const problems = kmodRamProblems(domain);
    if (problems.length > 0) throw new TieringMetadataError(problems);
  }
  stripTiering(domain);

  let metadata = children.find((n) => tagOf(n) === 'metadata');
  if (!metadata) {
    metadata = element('metadata');
    // libvirt writes <metadata> right after <uuid>/<title>/<description>; it reorders on define anyway.
    const after = Math.max(...['name', 'uuid', 'genid', 'title', 'description'].map((t) => children.findIndex((n) => tagOf(n) === t)));
    children.splice(after + 1, 0, metadata);
  }
  childrenOf(metadata).push(tieringNode(config, TIERING_PREFIX));

  const prefix = qemuPrefix(domain, true)!;
  let commandline = children.find((n) => tagOf(n) === `${prefix}:commandline`);
  if (!commandline) {
    commandline = element(`${prefix}:commandline`);
    children.push(commandline);
  }
  childrenOf(commandline).push(element(`${prefix}:arg`, { value: '-qmp' }), element(`${prefix}:arg`, { value: qmpServerArg(config.qmp.socket) }));
  if (config.backend === 'kmod') {
    const name = textOf(elementsOf(domain).find((n) => tagOf(n) === 'name') ?? element('name')).trim();
    for (const value of kmodRamArgs(name, domainMemoryBytes(domain) as number)) childrenOf(commandline).push(element(`${prefix}:arg`, { value }));
  }
  return buildXml(nodes);
}

/** Returns the domain XML without hmmv's metadata and QMP argument. Idempotent. */
export function disableTiering(domainXml: string): string {
  const { nodes, domain } = parseDomain(domainXml);
  stripTiering(domain);
  return buildXml(nodes);
}

/** Removes the tiering element (and an emptied <metadata>) and every `-qmp` pair for its socket. */
function stripTiering(domain: XmlNode): void {
  const children = childrenOf(domain);
  const found = findTieringNode(domain);
  const sockets = new Set<string>();
  if (found) {
    const metadata = found.ancestors[1]!;
    const socket = elementsOf(found.node).find((n) => splitName(tagOf(n)!).local === 'qmp');
    if (socket && attrsOf(socket).socket) sockets.add(attrsOf(socket).socket!);
    const list = childrenOf(metadata);
    list.splice(list.indexOf(found.node), 1);
    if (elementsOf(metadata).length === 0) children.splice(children.indexOf(metadata), 1);
  }
  const prefix = qemuPrefix(domain, false);
  if (prefix === undefined) return;
  for (const cl of children.filter((n) => tagOf(n) === `${prefix}:commandline`)) {
    const args = childrenOf(cl);
    for (let i = 0; i < args.length; i++) {
      const next = args[i + 1];
      const m = next && /^unix:([^,]+)/.exec(attrsOf(next).value ?? '');
      if (tagOf(args[i]!) === `${prefix}:arg` && attrsOf(args[i]!).value === '-qmp' && m && (sockets.has(m[1]!) || isHmmvSocket(m[1]!))) {
        args.splice(i, 2);
        i--;
      }
    }
    // Guest RAM on hmmv.ko: '-object memory-backend-file,id=hmmv-ram,...' and '-machine memory-backend=hmmv-ram'.
    for (let i = 0; i < args.length; i++) {
      const next = args[i + 1];
      const flag = tagOf(args[i]!) === `${prefix}:arg` ? attrsOf(args[i]!).value : undefined;
      if ((flag === '-object' || flag === '-machine') && next && isKmodRamArg(attrsOf(next).value ?? '')) {
        args.splice(i, 2);
        i--;
      }
    }
    if (elementsOf(cl).length === 0) children.splice(children.indexOf(cl), 1);
  }
  if (!children.some((n) => splitName(tagOf(n) ?? '').prefix === prefix)) delete mutableAttrsOf(domain)[`xmlns:${prefix}`];
}

/** Sockets under hmmv's run directory are ours even when the metadata naming them is gone. */
function isHmmvSocket(path: string): boolean {
  return path.startsWith('/run/hmmv/');
}

export { TIERING_NS };
