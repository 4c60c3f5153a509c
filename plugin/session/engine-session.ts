/**
 * One engine session: what every driver of the engine (the per-domain
 * manager, the simulator's `hmmv` and `hmmv-pool` policies, the tests) needs
 * around `startEngine`, in one place:
 *
 *   - starting the engine on a memory host and a Clock;
 *   - joining a DRAM pool, in-process (the simulator) or over the daemon's
 *     socket (a real host), or none (the static quota);
 *   - applying each pushed quota clamped to the VM's [min, max] (the engine's
 *     planner demotes first when it shrinks) and knowing where the quota in
 *     force came from (static, pool, clamped);
 *   - the per-window callback (the pool's report first, then the driver's);
 *   - failure capture: an engine that dies is recorded, named after the VM,
 *     and `done` still resolves, so one VM's failure never becomes an
 *     unhandled rejection in another's driver;
 *   - the totals, flattened to numbers once.
 */
import { startEngine, type EngineOptions, type EngineSnapshot, type EngineTotals, type RunningEngine } from '../engine/run.js';
import type { MemoryHost } from '../host/memory-host.js';
import { PoolClient, type PoolEndpoint } from '../pool/client.js';
import type { InProcessPool, MemberLink } from '../pool/in-process.js';
import { reportFromWindow } from '../pool/report.js';
import type { Clock } from '../util/clock.js';
import { QuotaTrack, clampPoolQuota, quotaBounds, type QuotaBounds, type QuotaInForce } from './quota.js';
import { flattenTotals } from './totals.js';

/** How a session joins a pool. */
export type PoolJoin =
  | {
      kind: 'daemon';
      endpoint: PoolEndpoint;
      uuid?: string;
      /** After this long without the daemon the session goes back to its static quota (the daemon's grace period). */
      fallbackAfterMs?: number;
      initialBackoffMs?: number;
      maxBackoffMs?: number;
      log?: (msg: string) => void;
    }
  | { kind: 'in-process'; pool: InProcessPool };

export interface EngineSessionOptions {
  /** The VM (libvirt domain) name: the pool's key and the name in errors. */
  name: string;
  host: MemoryHost;
  clock: Clock;
  /** Engine options; `dramQuotaPages` is the static quota (the metadata's). */
  engine: EngineOptions;
  /** The VM's bounds in the pool (default: 0 .. the whole guest, weight 1). */
  bounds?: Partial<QuotaBounds>;
  pool?: PoolJoin;
  /** Called after every window, after the pool got its report. */
  onWindow?: (snapshot: EngineSnapshot) => void;
  /** Called once if the engine dies (not when it stops on the signal). */
  onFailure?: (error: Error) => void;
  /** Called whenever the quota in force changes (value or source). */
  onQuota?: (quota: QuotaInForce) => void;
  signal: AbortSignal;
}

export interface EngineSession {
  readonly name: string;
  readonly engine: RunningEngine;
  readonly bounds: QuotaBounds;
  /** The quota without a pool (the metadata's). */
  readonly staticQuotaPages: number;
  /** Resolves when the engine has stopped: its totals, or undefined if it failed (see failure()). Never rejects. */
  readonly done: Promise<EngineTotals | undefined>;
  /** The quota in force and its source. */
  quota(): QuotaInForce;
  /** The quota's first, last, lowest and highest value so far. */
  quotaTrack(): QuotaTrack;
  /** Whether the pool link is up; undefined when the session has no pool. */
  poolConnected(): boolean | undefined;
  /** The engine's failure, if it died. */
  failure(): Error | undefined;
  /** The engine's totals, numbers only. */
  totals(): Record<string, number>;
  lastSnapshot(): EngineSnapshot | undefined;
  /** Leaves the pool (its DRAM returns at once) and waits for the engine; call after the signal aborted. */
  close(): Promise<void>;
}

const isAbort = (err: unknown): boolean => err instanceof Error && (err.name === 'AbortError' || err.message.includes('abort'));

export function startEngineSession(opts: EngineSessionOptions): EngineSession {
  const { host, name } = opts;
  const staticPages = opts.engine.dramQuotaPages;
  const bounds = quotaBounds(host.pageCount, opts.bounds);
  let quota: QuotaInForce = { pages: staticPages, source: 'static' };
  const track = new QuotaTrack(staticPages);
  let engine: RunningEngine | undefined;
  let failure: Error | undefined;

  const setQuota = (next: QuotaInForce): void => {
    const changed = next.pages !== quota.pages || next.source !== quota.source || next.requestedPages !== quota.requestedPages;
    quota = next;
    track.note(next.pages);
    engine?.setDramQuotaPages(next.pages);
    if (changed) opts.onQuota?.(next);
  };
  const fromPool = (requested: number): void => setQuota(clampPoolQuota(requested, bounds));

  // Join before the engine starts, so a pool with less room than the static quota is obeyed from the first window.
  let link: MemberLink | undefined;
  let client: PoolClient | undefined;
  const pool = opts.pool;
  if (pool?.kind === 'in-process') {
    link = pool.pool.join({
      domain: name,
      pageCount: host.pageCount,
      pageSizeBytes: host.pageSizeBytes,
      staticQuotaPages: staticPages,
      ...(opts.bounds?.minPages !== undefined ? { minPages: bounds.minPages } : {}),
      ...(opts.bounds?.maxPages !== undefined ? { maxPages: bounds.maxPages } : {}),
      ...(opts.bounds?.weight !== undefined ? { weight: bounds.weight } : {}),
      migrationPagesPerSec: opts.engine.migrationBytesPerSec / host.pageSizeBytes,
      setDramQuotaPages: fromPool,
    });
    quota = { ...quota, source: 'pool' };
  } else if (pool?.kind === 'daemon') {
    client = new PoolClient({
      endpoint: pool.endpoint,
      hello: {
        domain: name,
        ...(pool.uuid !== undefined ? { uuid: pool.uuid } : {}),
        pageCount: host.pageCount,
        pageSizeBytes: host.pageSizeBytes,
        staticQuotaPages: staticPages,
        minPages: bounds.minPages,
        maxPages: bounds.maxPages,
        weight: bounds.weight,
        migrationPagesPerSec: opts.engine.migrationBytesPerSec / host.pageSizeBytes,
      },
      apply: (q, from) => (from === 'pool' ? fromPool(q) : setQuota({ pages: staticPages, source: 'static' })),
      current: () => quota.pages,
      ...(pool.fallbackAfterMs !== undefined ? { fallbackAfterMs: pool.fallbackAfterMs } : {}),
      ...(pool.initialBackoffMs !== undefined ? { initialBackoffMs: pool.initialBackoffMs } : {}),
      ...(pool.maxBackoffMs !== undefined ? { maxBackoffMs: pool.maxBackoffMs } : {}),
      ...(pool.log ? { log: pool.log } : {}),
    });
  }

  const userOnWindow = opts.onWindow;
  engine = startEngine(
    host,
    opts.clock,
    {
      ...opts.engine,
      dramQuotaPages: quota.pages,
      onWindow: (s) => {
        if (link) link.report(s);
        else client?.report(reportFromWindow(s));
        userOnWindow?.(s);
      },
    },
    opts.signal,
  );
  client?.start();

  const done = engine.done.then(
    (totals) => totals,
    (err: unknown) => {
      if (!opts.signal.aborted || !isAbort(err)) {
        failure ??= new Error(`hmmv engine of VM ${name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        opts.onFailure?.(failure);
      }
      return undefined;
    },
  );
  const running = engine;

  return {
    name,
    engine: running,
    bounds,
    staticQuotaPages: staticPages,
    done,
    quota: () => quota,
    quotaTrack: () => track,
    poolConnected: () => (link ? true : client ? client.connected : undefined),
    failure: () => failure,
    totals: () => flattenTotals(running.totals()),
    lastSnapshot: () => running.lastSnapshot(),
    close: async () => {
      await done;
      link?.leave();
      link = undefined;
      await client?.close();
    },
  };
}
