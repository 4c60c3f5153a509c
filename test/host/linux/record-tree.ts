/**
 * Records the kernel files the linux backend reads (probe, DAMON, topology)
 * into a tree that `KernelFiles(root)` can read back: the fixtures under
 * test/host/linux/fixtures/ were made with it, on this development machine and
 * inside the test-bed guest (in-guest.ts prints the record as a result line).
 *
 *   node dist/test/host/linux/record-tree.js OUT_DIR     # record this machine
 *
 * Only what the backend reads is kept: the kernel config is cut to the options
 * the probe names, /proc/self/status to its CapEff line, and the live checks
 * (soft-dirty and move_pages on this process) go to live.json.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { liveChecks } from '../../../plugin/host/linux/probe.js';

const CONFIG_KEEP = /^CONFIG_(DAMON\w*|MEM_SOFT_DIRTY|IDLE_PAGE_TRACKING|NUMA\w*|MIGRATION|TRANSPARENT_HUGEPAGE\w*|PROC_PAGE_MONITOR|DEV_DAX\w*|MEMORY_HOTPLUG|ZONE_DEVICE)=/;

const TREES = ['/sys/kernel/mm/damon/admin', '/sys/devices/virtual/memory_tiering'];
const FILES = ['/proc/sys/kernel/osrelease', '/proc/sys/kernel/numa_balancing', '/sys/kernel/mm/page_idle/bitmap', '/sys/kernel/mm/transparent_hugepage/enabled', '/sys/kernel/mm/transparent_hugepage/hpage_pmd_size', '/sys/devices/system/node/online', '/sys/devices/system/node/possible'];

function readable(path: string): string | undefined {
  try {
    if (path.endsWith('/page_idle/bitmap')) return statSync(path).isFile() ? '' : undefined; // existence is what counts
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // write-only attributes, vanished entries
  }
}

function walk(dir: string, out: Map<string, string>, depth = 0): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const path = join(dir, name);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (depth < 12 && name !== 'power' && name !== 'subsystem') walk(path, out, depth + 1);
    } else {
      const text = readable(path);
      if (text !== undefined && name !== 'uevent') out.set(path, text);
    }
  }
}

/** Kernel path -> contents, for every file the backend reads on this machine. */
export function recordKernelTree(): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of TREES) walk(t, out);
  for (const f of FILES) {
    const text = readable(f);
    if (text !== undefined) out.set(f, text);
  }
  for (const node of readdirSync('/sys/devices/system/node').filter((n) => /^node\d+$/.test(n))) {
    for (const f of ['meminfo', 'distance', 'cpulist']) {
      const path = `/sys/devices/system/node/${node}/${f}`;
      const text = readable(path);
      if (text !== undefined) out.set(path, text);
    }
  }
  const release = (out.get('/proc/sys/kernel/osrelease') ?? '').trim();
  let config: string | undefined;
  try {
    config = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    config = readable(`/boot/config-${release}`);
  }
  if (config !== undefined) out.set(`/boot/config-${release}`, config.split('\n').filter((l) => CONFIG_KEEP.test(l)).join('\n') + '\n');
  const capEff = /^CapEff:.*$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (capEff) out.set('/proc/self/status', capEff[0] + '\n');
  out.set('/live.json', JSON.stringify(liveChecks(), null, 2) + '\n');
  return out;
}

/** Writes a record under `dir` (kernel path /a/b -> dir/a/b). */
export function writeTree(dir: string, tree: ReadonlyMap<string, string> | Record<string, string>): void {
  const entries = tree instanceof Map ? [...tree.entries()] : Object.entries(tree);
  for (const [path, text] of entries) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!process.argv[2]) throw new Error('usage: record-tree.js OUT_DIR');
  writeTree(process.argv[2], recordKernelTree());
}
