/**
 * The per-domain status file a manager keeps up to date (and the hook writes
 * when it could not launch one); `hmmv status` reads these.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RUN_DIR, pidfilePath, statusPath } from './paths.js';
import { liveManager, readPidfile } from './pidfile.js';

export type ManagerState = 'starting' | 'connecting' | 'connected' | 'running' | 'failed' | 'stopping' | 'stopped';

/** What the manager's engine session runs on and saw last (pages of `pageSizeBytes`). */
export interface TieringStatus {
  pageSizeBytes: number;
  pageCount: number;
  /** The quota in force; `clamped` when the pool asked for `requestedPages` outside the domain's bounds. */
  quota: { pages: number; source: 'static' | 'pool' | 'clamped'; requestedPages?: number };
  staticQuotaPages: number;
  bounds: { minPages: number; maxPages: number; weight: number };
  pool: { socket: string; connected: boolean };
  /** The last engine window. */
  window?: {
    index: number;
    at: string;
    dramPages: number;
    nvmPages: number;
    hotSetPages: number;
    migratedPagesPerSec: number;
    /** Pages moved to DRAM / to NVM per second since the previous status write. */
    promotedPerSec?: number;
    demotedPerSec?: number;
    /** Estimated memory-stall slowdown against all-DRAM (1 = as fast). */
    slowdown?: number;
  };
  /** Engine windows run so far. */
  windows?: number;
  /** The latest reason a page could not be moved (the engine goes on). */
  lastError?: string;
}

export interface ManagerStatus {
  domain: string;
  state: ManagerState;
  /** When the state last changed (ISO time). */
  since: string;
  pid?: number;
  backend?: string;
  qmpSocket?: string;
  /** Set when state is 'failed': what went wrong. The guest keeps running. */
  error?: string;
  qemu?: { pid?: number; version?: string; runState?: string };
  guest?: { ramBytes: number; vcpus: number; memdevs: string[]; ramBlocks: string[] };
  engine?: Record<string, number>;
  tiering?: TieringStatus;
  /** Wall time of the engine's calls on its memory host so far, per method (timed-host.ts's CallTally, spelled out: runtime imports nothing above util). */
  hostCalls?: Record<string, { calls: number; totalMs: number; maxMs: number }>;
  /** The backend's own counters (MemoryHost.diagnostics), e.g. the linux host's DAMON snapshot costs. */
  hostDiagnostics?: Record<string, number>;
  /** A live migration of this domain: incoming (waiting for the guest), or outgoing (QEMU's MIGRATION status). */
  migration?: { direction: 'incoming' | 'outgoing'; status: string; at: string };
  /** Why the manager stopped, when it was not just the domain stopping (e.g. 'migrated'). */
  stopReason?: string;
}

export function writeStatus(status: ManagerStatus): void {
  const file = statusPath(status.domain);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`);
  renameSync(tmp, file);
}

export function readStatus(domain: string): ManagerStatus | undefined {
  try {
    return JSON.parse(readFileSync(statusPath(domain), 'utf8')) as ManagerStatus;
  } catch {
    return undefined;
  }
}

/** One line of `hmmv status`: what the status file says, checked against the process table. */
export interface DomainStatusRow extends ManagerStatus {
  /** Whether the manager process named by the pidfile runs (and is ours). */
  managerAlive: boolean;
}

/** Every domain with a pidfile or status file under /run/hmmv. */
export function listManagedDomains(runDir = RUN_DIR): DomainStatusRow[] {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  const domains = new Set<string>();
  for (const n of names) {
    const m = /^(.+)\.(pid|status\.json)$/.exec(n);
    if (m) domains.add(m[1]!);
  }
  return [...domains].sort().map((domain) => {
    const live = liveManager(pidfilePath(domain));
    const status = readStatus(domain) ?? { domain, state: 'starting' as const, since: new Date(0).toISOString() };
    const row: DomainStatusRow = { ...status, domain, managerAlive: live !== undefined };
    if (live) row.pid = live.pid;
    else if (readPidfile(pidfilePath(domain)) && status.state !== 'failed' && status.state !== 'stopped') {
      row.state = 'failed';
      row.error = `manager process ${status.pid ?? readPidfile(pidfilePath(domain))?.pid} is gone${status.error ? `: ${status.error}` : ''} (see its log)`;
    }
    return row;
  });
}
