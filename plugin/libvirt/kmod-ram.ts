/**
 * Guest RAM on hmmv.ko for a libvirt domain, with unpatched libvirt and QEMU:
 * the domain keeps libvirt's own RAM object (unused) and gets, through
 * <qemu:commandline>,
 *
 *   -object memory-backend-file,id=hmmv-ram,size=BYTES,mem-path=/dev/hmmv/REGION,share=on
 *   -machine memory-backend=hmmv-ram
 *
 * QEMU merges the second -machine into libvirt's, so the machine's RAM is the
 * region the hook's prepare created (libvirt 9.0 / QEMU 7.2 checked: `info
 * ramblock` lists hmmv-ram, not pc.ram). What the domain may not have, and the
 * errors naming it: guest NUMA cells (<cpu><numa>: one memdev per cell),
 * <memoryBacking> sources or huge pages, memory hotplug (<maxMemory>), and a
 * size that is not a multiple of 2 MiB (a region's unit).
 */
import { KMOD_RAM_ID, regionPathFor } from '../host/kmod/region-name.js';
import { attrsOf, elementsOf, parseXmlTree, rootOf, tagOf, textOf, type XmlNode } from './xml-tree.js';

const UNIT_BYTES: Record<string, number> = {
  b: 1, bytes: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3, t: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4,
};

/** The guest RAM size libvirt gives QEMU (<memory>, in its unit; default KiB), or a problem naming the element. */
export function domainMemoryBytes(domain: XmlNode): number | string {
  const memory = elementsOf(domain).find((n) => tagOf(n) === 'memory');
  if (!memory) return '<memory>: missing (the guest RAM size)';
  const unit = (attrsOf(memory).unit ?? 'KiB').toLowerCase();
  const factor = UNIT_BYTES[unit];
  const text = textOf(memory).trim();
  if (factor === undefined) return `<memory> attribute unit: unknown unit '${attrsOf(memory).unit}'`;
  if (!/^\d+$/.test(text)) return `<memory>: expected a whole number, got '${text}'`;
  return Number(text) * factor;
}

/** Why this domain cannot have its RAM on hmmv.ko, one problem per element. */
export function kmodRamProblems(domain: XmlNode): string[] {
  const problems: string[] = [];
  const bytes = domainMemoryBytes(domain);
  if (typeof bytes === 'string') problems.push(bytes);
  else if (bytes % (2 * 1024 * 1024) !== 0) problems.push(`<memory>: ${bytes} bytes is not a multiple of 2 MiB, which backend='kmod' needs (an hmmv.ko region is made of 2 MiB units)`);
  const cpu = elementsOf(domain).find((n) => tagOf(n) === 'cpu');
  if (cpu && elementsOf(cpu).some((n) => tagOf(n) === 'numa')) {
    problems.push("<cpu>/<numa>: guest NUMA cells give QEMU one memory backend per cell; backend='kmod' puts all guest RAM on one hmmv.ko region (remove <numa>)");
  }
  const backing = elementsOf(domain).find((n) => tagOf(n) === 'memoryBacking');
  for (const child of backing ? elementsOf(backing) : []) {
    const tag = tagOf(child);
    if (tag === 'hugepages' || tag === 'source' || tag === 'access' || tag === 'allocation') {
      problems.push(`<memoryBacking>/<${tag}>: not with backend='kmod' (guest RAM is hmmv.ko's region, mapped shared in 4 KiB pages)`);
    }
  }
  if (elementsOf(domain).some((n) => tagOf(n) === 'maxMemory')) problems.push("<maxMemory>: memory hotplug is not supported with backend='kmod'");
  return problems;
}

/** The QEMU arguments that put guest RAM on the domain's region. */
export function kmodRamArgs(domainName: string, bytes: number): string[] {
  return ['-object', `memory-backend-file,id=${KMOD_RAM_ID},size=${bytes},mem-path=${regionPathFor(domainName)},share=on`, '-machine', `memory-backend=${KMOD_RAM_ID}`];
}

/** Is this <qemu:arg> value one of ours (so disable and re-enable can drop it)? */
export function isKmodRamArg(value: string): boolean {
  return value.startsWith(`memory-backend-file,id=${KMOD_RAM_ID},`) || value === `memory-backend=${KMOD_RAM_ID}`;
}

/**
 * The hook's check before QEMU starts: the domain can have its RAM on
 * hmmv.ko and its <qemu:commandline> gives QEMU exactly the region of this
 * domain, as large as <memory>. Returns the guest RAM size.
 */
export function checkKmodRam(domainName: string, domainXml: string, args: readonly string[]): { ramBytes: number; problems: string[] } {
  const domain = rootOf(parseXmlTree(domainXml, 'the domain XML'), 'the domain XML');
  const problems = kmodRamProblems(domain);
  const bytes = domainMemoryBytes(domain);
  const ramBytes = typeof bytes === 'number' ? bytes : 0;
  const want = kmodRamArgs(domainName, ramBytes);
  const object = args.find((a, i) => args[i - 1] === '-object' && isKmodRamArg(a));
  const machine = args.find((a, i) => args[i - 1] === '-machine' && a === want[3]);
  const fix = `(run 'hmmv domain enable ${domainName} --backend kmod' to write it)`;
  if (!object) problems.push(`<qemu:commandline>: missing <qemu:arg value='-object'/><qemu:arg value='${want[1]}'/> ${fix}`);
  else if (typeof bytes === 'number' && object !== want[1]) problems.push(`<qemu:commandline>: '${object}' does not match this domain (expected '${want[1]}': <memory> is ${ramBytes} bytes) ${fix}`);
  if (!machine) problems.push(`<qemu:commandline>: missing <qemu:arg value='-machine'/><qemu:arg value='${want[3]}'/> ${fix}`);
  return { ramBytes, problems };
}
