/**
 * Small, synchronous readers and writers for the kernel's files (sysfs,
 * procfs), under a root: "/" on a real host, a recorded tree in tests
 * (test/host/linux/fixtures/), so the probe, DAMON and topology code can be
 * checked against what real kernels showed without running on them. These
 * files are tiny and served from kernel memory, so sync reads are the simple
 * and cheap choice.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const small = Buffer.allocUnsafe(4096);

export class KernelFiles {
  /** `root` is prepended to every absolute kernel path ("/sys/...", "/proc/..."). */
  constructor(readonly root = '/') {}

  /** Where kernel path `path` lives under this root. */
  path(path: string): string {
    return this.root === '/' ? path : join(this.root, path);
  }

  /** The file's contents, trimmed; undefined when it cannot be read. */
  readText(path: string): string | undefined {
    try {
      return this.readTextStrict(path);
    } catch {
      return undefined;
    }
  }

  /** The file's contents, trimmed; throws the read's error (its `code`, e.g. EBUSY, ENOENT) when it cannot be read. */
  readTextStrict(path: string): string {
    return readFileSync(this.path(path), 'utf8').trim();
  }

  /**
   * Reads a sysfs attribute (at most 4 KiB, one page, as sysfs serves them)
   * with open+read+close and no stat: hundreds of these per DAMON snapshot.
   */
  readAttr(path: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(this.path(path), 'r');
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

  /** Writes `value`; the error names the file and the value (and carries the errno code). */
  writeText(path: string, value: string): void {
    try {
      writeFileSync(this.path(path), value);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw Object.assign(new Error(`writing "${value}" to ${path} failed: ${e.code ?? ''} ${e.message}`), { code: e.code });
    }
  }

  /** Entries of a directory; [] when it does not exist. */
  listDir(path: string): string[] {
    try {
      return readdirSync(this.path(path));
    } catch {
      return [];
    }
  }

  exists(path: string): boolean {
    return existsSync(this.path(path));
  }

  /** The kernel release ("6.12.117+deb12-cloud-amd64"), as uname -r says. */
  kernelRelease(): string | undefined {
    return this.readText('/proc/sys/kernel/osrelease');
  }

  /**
   * The running kernel's build configuration, from /proc/config.gz or
   * /boot/config-<release>, or undefined when neither is readable. Maps
   * CONFIG_X to its value ("y", "m", a string); options "is not set" are absent.
   */
  kernelConfig(release: string): Map<string, string> | undefined {
    let text: string | undefined;
    try {
      text = gunzipSync(readFileSync(this.path('/proc/config.gz'))).toString('utf8');
    } catch {
      text = this.readText(`/boot/config-${release}`);
    }
    return text === undefined ? undefined : parseKernelConfig(text);
  }
}

/** The files of the machine this process runs on. */
export const hostFiles = new KernelFiles('/');

export function parseKernelConfig(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) map.set(m[1]!, m[2]!);
  }
  return map;
}

/** Parses a kernel node list ("0-2,4") into numbers. Empty string gives []. */
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

// The host's files as plain functions, for callers that only ever read this machine.
export const readText = (path: string): string | undefined => hostFiles.readText(path);
export const readAttr = (path: string): string | undefined => hostFiles.readAttr(path);
export const writeText = (path: string, value: string): void => hostFiles.writeText(path, value);
export const listDir = (path: string): string[] => hostFiles.listDir(path);
export const pathExists = (path: string): boolean => hostFiles.exists(path);
export const readKernelConfig = (release: string): Map<string, string> | undefined => hostFiles.kernelConfig(release);
