/**
 * Capability probe for the linux backend: for this kernel and this process,
 * which of the interfaces the backend uses are there, and for each missing one
 * the kernel option or privilege that would provide it. `hmmv host check`
 * prints this; openLinuxHost() refuses to start from the same report.
 */
import { release } from 'node:os';
import { DAMON_ADMIN, runningKdamonds } from './damon.js';
import { MovePagesError, movePagesRaw, Errno } from './move-pages.js';
import { PM_HI_PRESENT, PM_HI_SOFT_DIRTY, PagemapReader } from './pagemap.js';
import { readMaps } from './maps.js';
import { hostFiles, type KernelFiles } from './sysfs.js';
import { readTopology, type Topology } from './topology.js';

export type CapabilityId = 'damon-vaddr' | 'page-idle' | 'soft-dirty' | 'move-pages' | 'numa-nodes' | 'privileges' | 'thp' | 'memory-tiering' | 'numa-balancing';

export interface Capability {
  readonly id: CapabilityId;
  readonly present: boolean;
  /** What was found (mode, node list, which check decided). */
  readonly detail: string;
  /** When missing: the kernel option, privilege or set-up that provides it. */
  readonly remedy?: string;
  /** The backend cannot start without it. */
  readonly required: boolean;
}

export interface ProbeReport {
  readonly kernel: string;
  readonly capabilities: readonly Capability[];
  /** The accessed-bit source the backend would use, if any. */
  readonly accessTracker?: 'damon-vaddr';
  readonly canRun: boolean;
}

/**
 * What the probe looked at: the kernel's files (under a root, so a recorded
 * tree stands in for a host in tests) and two live checks on this process,
 * which cannot be read from files.
 */
export interface ProbeFacts {
  readonly kernel: string;
  readonly config: ReadonlyMap<string, string> | undefined;
  /** Effective capability bits (CapEff in /proc/self/status). */
  readonly capEff: bigint;
  readonly damonSysfs: boolean;
  /** avail_operations of every kdamond's first context (empty while no kdamond dir has contexts). */
  readonly damonAvailOperations: readonly string[];
  /** Kdamonds running now (their index). */
  readonly damonRunning: readonly number[];
  readonly pageIdle: boolean;
  readonly topology: Topology;
  readonly thpEnabled: string | undefined;
  readonly numaBalancing: string | undefined;
  readonly live: LiveChecks;
}

/** Results of the checks made on this process's own memory (recorded as JSON in fixtures). */
export interface LiveChecks {
  /** Present written pages of this process seen in its pagemap, and how many carry the soft-dirty bit. */
  readonly softDirty: { readonly present: number; readonly softDirty: number } | { readonly error: string };
  /** move_pages query of one of those pages: its node, or why the call failed (errno when it did). */
  readonly movePages: { readonly node: number } | { readonly error: string; readonly errno?: number };
}

const CAP_SYS_PTRACE = 19n;
const CAP_SYS_NICE = 23n;
const CAP_SYS_ADMIN = 21n;

/**
 * Reads this process's own pagemap over its writable anonymous mappings: the
 * kernel sets soft-dirty on every freshly written page, so present pages and
 * no soft-dirty bit among them means the kernel lacks CONFIG_MEM_SOFT_DIRTY.
 * Then asks move_pages for the node of one present page.
 */
export function liveChecks(): LiveChecks {
  let present = 0;
  let softDirty = 0;
  let someAddr: bigint | undefined;
  let softDirtyResult: LiveChecks['softDirty'];
  try {
    const pm = new PagemapReader(process.pid);
    try {
      for (const m of readMaps(process.pid)) {
        if (!m.perms.startsWith('rw') || (m.path !== '' && m.path !== '[heap]')) continue;
        const pages = Math.min(Number((m.end - m.start) / 4096n), 4096);
        pm.scan(m.start, pages, 4096, (i, hi) => {
          if ((hi & PM_HI_PRESENT) === 0) return;
          present++;
          someAddr ??= m.start + BigInt(i) * 4096n;
          if ((hi & PM_HI_SOFT_DIRTY) !== 0) softDirty++;
        });
        if (present > 256) break;
      }
    } finally {
      pm.close();
    }
    softDirtyResult = { present, softDirty };
  } catch (err) {
    softDirtyResult = { error: `pagemap not readable: ${(err as Error).message}` };
  }
  let movePages: LiveChecks['movePages'];
  try {
    if (someAddr === undefined) throw new Error('no present page of this process found to query');
    const status = new Int32Array(1);
    movePagesRaw(process.pid, new BigUint64Array([someAddr]), null, status);
    movePages = status[0]! >= 0 ? { node: status[0]! } : { error: `move_pages query returned status ${status[0]}` };
  } catch (err) {
    movePages = err instanceof MovePagesError ? { error: err.message, errno: err.errno } : { error: (err as Error).message };
  }
  return { softDirty: softDirtyResult, movePages };
}

/** Gathers the facts from `files` (the host by default) and the live checks. */
export function gatherProbeFacts(files: KernelFiles = hostFiles, live: LiveChecks = liveChecks()): ProbeFacts {
  const kernel = files.kernelRelease() ?? release();
  const capEffText = /CapEff:\s*([0-9a-f]+)/.exec(files.readText('/proc/self/status') ?? '');
  return {
    kernel,
    config: files.kernelConfig(kernel),
    capEff: capEffText ? BigInt('0x' + capEffText[1]) : 0n,
    damonSysfs: files.exists(`${DAMON_ADMIN}/kdamonds/nr_kdamonds`),
    damonAvailOperations: files
      .listDir(`${DAMON_ADMIN}/kdamonds`)
      .flatMap((k) => (files.readText(`${DAMON_ADMIN}/kdamonds/${k}/contexts/0/avail_operations`) ?? '').split(/\s+/))
      .filter(Boolean),
    damonRunning: runningKdamonds(files),
    pageIdle: files.exists('/sys/kernel/mm/page_idle/bitmap'),
    topology: readTopology(files),
    thpEnabled: files.readText('/sys/kernel/mm/transparent_hugepage/enabled'),
    numaBalancing: files.readText('/proc/sys/kernel/numa_balancing'),
    live,
  };
}

/** Probes this host (or, in tests, a recorded tree and recorded live checks). */
export function probeHost(files: KernelFiles = hostFiles, live?: LiveChecks): ProbeReport {
  return assessProbe(gatherProbeFacts(files, live ?? liveChecks()));
}

/** The report from the facts: which interface is there, and for each missing one what provides it. Pure. */
export function assessProbe(facts: ProbeFacts): ProbeReport {
  const { kernel, config } = facts;
  const configSays = (opt: string): string => (config === undefined ? 'kernel config not readable' : `${opt}=${config.get(opt) ?? 'not set'}`);
  const caps: Capability[] = [];
  const hasCap = (bit: bigint) => (facts.capEff & (1n << bit)) !== 0n;

  // DAMON vaddr
  {
    const sysfs = facts.damonSysfs;
    let present = false;
    let detail: string;
    const builtIn = config?.get('CONFIG_DAMON_VADDR');
    const avail = facts.damonAvailOperations;
    if (!sysfs) detail = `no ${DAMON_ADMIN} (${configSays('CONFIG_DAMON_SYSFS')})`;
    else if (config !== undefined) {
      present = builtIn === 'y';
      detail = `sysfs present, ${configSays('CONFIG_DAMON_VADDR')}`;
    } else if (avail.length > 0) {
      present = avail.includes('vaddr');
      detail = `sysfs present, avail_operations: ${[...new Set(avail)].join(' ')}`;
    } else {
      present = true;
      detail = 'sysfs present; vaddr support is verified when the backend starts its kdamond';
    }
    const busy = sysfs ? facts.damonRunning : [];
    if (busy.length > 0) detail += `; kdamond ${busy.join(',')} running (hmmv uses a free kdamond of its own and never touches another's)`;
    if (present && !hasCap(CAP_SYS_ADMIN)) detail += '; writing DAMON sysfs needs root';
    caps.push({ id: 'damon-vaddr', present, detail, remedy: 'a kernel with CONFIG_DAMON, CONFIG_DAMON_VADDR and CONFIG_DAMON_SYSFS (Linux 5.18+)', required: true });
  }

  // idle page tracking
  {
    const present = facts.pageIdle;
    caps.push({
      id: 'page-idle',
      present,
      detail: present ? '/sys/kernel/mm/page_idle/bitmap present (not used: DAMON vaddr is cheaper and is what this backend reads)' : `no /sys/kernel/mm/page_idle/bitmap (${configSays('CONFIG_IDLE_PAGE_TRACKING')})`,
      remedy: 'a kernel with CONFIG_IDLE_PAGE_TRACKING (optional: DAMON vaddr is used for accessed bits)',
      required: false,
    });
  }

  // soft-dirty
  {
    const own = facts.live.softDirty;
    const present = 'softDirty' in own && own.softDirty > 0;
    const detail = 'error' in own ? own.error : `${own.softDirty} of ${own.present} written pages of this process carry the soft-dirty bit (pagemap bit 55); ${configSays('CONFIG_MEM_SOFT_DIRTY')}`;
    caps.push({ id: 'soft-dirty', present, detail, remedy: 'a kernel with CONFIG_MEM_SOFT_DIRTY (/proc/PID/clear_refs "4" and pagemap bit 55)', required: true });
  }

  // move_pages
  {
    const mp = facts.live.movePages;
    const present = 'node' in mp;
    let detail = 'node' in mp ? `move_pages query works (a page of this process is on node ${mp.node})` : mp.error;
    if (present && !hasCap(CAP_SYS_NICE)) detail += "; moving pages of another user's process needs CAP_SYS_NICE";
    const remedy = 'errno' in mp && mp.errno === Errno.EPERM ? 'CAP_SYS_NICE (run as root)' : 'a kernel with CONFIG_NUMA and CONFIG_MIGRATION, and the koffi package (npm install koffi)';
    caps.push({ id: 'move-pages', present, detail, remedy, required: true });
  }

  // NUMA nodes
  {
    const topo = facts.topology;
    const withMem = topo.nodes.filter((n) => n.memTotalBytes > 0);
    const present = withMem.length >= 2;
    const list = topo.nodes.map((n) => `node${n.id} ${Math.round(n.memTotalBytes / 2 ** 20)} MiB${n.cpus.length ? '' : ' (no CPUs)'}`).join(', ');
    caps.push({
      id: 'numa-nodes',
      present,
      detail: `${withMem.length} NUMA node(s) with memory: ${list || 'none'}`,
      remedy: 'a second NUMA node with memory for the slow tier: CXL memory, or Optane PMem onlined with `daxctl reconfigure-device --mode=system-ram` (CONFIG_NUMA, CONFIG_DEV_DAX_KMEM)',
      required: true,
    });
    caps.push({
      id: 'memory-tiering',
      present: topo.memoryTieringPresent,
      detail: topo.memoryTieringPresent ? topo.memoryTiers.map((t) => `${t.name}: nodes ${t.nodes.join(',') || '-'}`).join('; ') : 'no /sys/devices/virtual/memory_tiering',
      remedy: 'Linux 6.1+ with CONFIG_NUMA and CONFIG_MIGRATION (informational: the domain metadata says which node is slow)',
      required: false,
    });
  }

  // privileges
  {
    const missing: string[] = [];
    if (!hasCap(CAP_SYS_ADMIN)) missing.push('CAP_SYS_ADMIN (DAMON sysfs)');
    if (!hasCap(CAP_SYS_NICE)) missing.push('CAP_SYS_NICE (move_pages of the QEMU process)');
    if (!hasCap(CAP_SYS_PTRACE)) missing.push('CAP_SYS_PTRACE (pagemap and clear_refs of the QEMU process)');
    caps.push({
      id: 'privileges',
      present: missing.length === 0,
      detail: missing.length === 0 ? 'CAP_SYS_ADMIN, CAP_SYS_NICE, CAP_SYS_PTRACE' : `missing ${missing.join(', ')}`,
      remedy: 'run the manager as root (as the libvirt hook does)',
      required: true,
    });
  }

  // THP
  {
    const enabled = facts.thpEnabled;
    const mode = enabled ? (/\[(\w+)\]/.exec(enabled)?.[1] ?? enabled) : undefined;
    caps.push({
      id: 'thp',
      present: enabled !== undefined,
      detail: enabled ? `transparent huge pages: ${mode}; guest RAM in 2 MiB pages is planned and moved as 512-page units, never split by hmmv` : 'no transparent huge pages',
      remedy: 'CONFIG_TRANSPARENT_HUGEPAGE (optional)',
      required: false,
    });
  }

  // NUMA balancing (a baseline to compare against, not used by the backend)
  {
    const value = facts.numaBalancing;
    caps.push({
      id: 'numa-balancing',
      present: value !== undefined,
      detail: value === undefined ? 'no /proc/sys/kernel/numa_balancing' : `kernel.numa_balancing = ${value}${value === '2' ? ' (memory tiering mode)' : ''}; 2 selects memory-tiering mode, a baseline for comparison`,
      remedy: 'CONFIG_NUMA_BALANCING (optional baseline)',
      required: false,
    });
  }

  const damon = caps.find((c) => c.id === 'damon-vaddr')!;
  const canRun = caps.every((c) => !c.required || c.present);
  return damon.present ? { kernel, capabilities: caps, accessTracker: 'damon-vaddr', canRun } : { kernel, capabilities: caps, canRun };
}

/** The text `hmmv host check` prints: one line per interface. */
export function formatProbe(report: ProbeReport): string {
  const lines = [`linux host backend on kernel ${report.kernel}`];
  for (const c of report.capabilities) {
    const state = c.present ? 'present' : c.required ? 'MISSING' : 'missing';
    lines.push(`  ${c.id.padEnd(15)} ${state.padEnd(8)} ${c.detail}`);
    if (!c.present && c.remedy) lines.push(`  ${''.padEnd(15)} ${''.padEnd(8)} -> needs ${c.remedy}`);
  }
  lines.push(report.canRun ? `ready: accessed bits from ${report.accessTracker}, dirty bits from soft-dirty, migration by move_pages` : `not ready: ${missingSummary(report)}`);
  return lines.join('\n');
}

/** One sentence naming every missing required interface and what provides it. */
export function missingSummary(report: ProbeReport): string {
  return report.capabilities
    .filter((c) => c.required && !c.present)
    .map((c) => `${c.id} is missing (${c.detail}); needs ${c.remedy}`)
    .join('; ');
}
