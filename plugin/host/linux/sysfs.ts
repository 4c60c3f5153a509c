/**
 * Small, synchronous readers for sysfs/procfs files. These files are tiny and
 * served from kernel memory, so sync reads are the simple and cheap choice.
 */
import { closeSync, openSync, readFileSync, readSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const small = Buffer.allocUnsafe(4096);

/**
 * Reads a sysfs attribute (at most 4 KiB, one page, as sysfs serves them) with
 * open+read+close and no stat: hundreds of these per DAMON snapshot.
 */
export function readAttr(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const n = readSync(fd, small, 0, small.length, 0);
    return small.toString('utf8', 0, n).trim();
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Writes `value` to a sysfs/procfs file; the error names the file and the value. */
export function writeText(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`writing "${value}" to ${path} failed: ${e.code ?? ''} ${e.message}`);
  }
}

export function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

export { existsSync as pathExists };

/**
 * Parses a kernel node list ("0-2,4") into numbers. Empty string gives [].
 */
export function parseNodeList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(p);
    if (!m) throw new Error(`bad node list "${text}"`);
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    for (let n = lo; n <= hi; n++) out.push(n);
  }
  return out;
}

/**
 * The running kernel's build configuration, from /proc/config.gz or
 * /boot/config-<release>, or undefined when neither is readable. Maps
 * CONFIG_X to its value ("y", "m", a string); options set "is not set" are absent.
 */
export function readKernelConfig(release: string): Map<string, string> | undefined {
  let text: string | undefined;
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    text = readText(`/boot/config-${release}`);
  }
  if (text === undefined) return undefined;
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) map.set(m[1]!, m[2]!);
  }
  return map;
}
