/**
 * Recorded kernel trees (made with record-tree.ts) and samples under
 * test/host/linux/fixtures/. Tests read them through KernelFiles(root), as the
 * backend reads a live host.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { LiveChecks } from '../../../plugin/host/linux/probe.js';
import { KernelFiles } from '../../../plugin/host/linux/sysfs.js';

/** The source folder (tests run from dist/, fixtures stay in test/). */
export const fixturesDir = fileURLToPath(new URL('../../../../test/host/linux/fixtures/', import.meta.url));

export interface RecordedHost {
  readonly files: KernelFiles;
  readonly live: LiveChecks;
}

/**
 * devbox-6.18: this development machine (one NUMA node, no soft-dirty, DAMON
 * without vaddr and someone else's paddr kdamond running).
 * guest-6.12: the test-bed guest (Debian 6.12 cloud kernel, two nodes, HMAT tiers).
 */
export function recordedHost(name: 'devbox-6.18' | 'guest-6.12'): RecordedHost {
  const root = join(fixturesDir, name);
  return { files: new KernelFiles(root), live: JSON.parse(readFileSync(join(root, 'live.json'), 'utf8')) as LiveChecks };
}

export function fixtureText(relative: string): string {
  return readFileSync(join(fixturesDir, relative), 'utf8');
}
