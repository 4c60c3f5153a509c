/**
 * Wires an engine to the pool daemon: each window's snapshot goes out as a
 * report, each quota from the daemon comes in through setDramQuotaPages (the
 * engine's planner demotes first when the quota shrinks).
 */
import type { MemoryHost } from '../host/memory-host.js';
import type { Clock } from '../util/clock.js';
import { startEngine, type EngineOptions, type RunningEngine } from '../engine/run.js';
import { PoolClient, type PoolEndpoint } from './client.js';
import { reportFromWindow } from './report.js';

export interface EnginePoolOptions {
  endpoint: PoolEndpoint;
  domain: string;
  uuid?: string;
  /** The quota from the domain metadata: used until the pool answers, and while it is away. */
  staticQuotaPages: number;
  minPages?: number;
  maxPages?: number;
  weight?: number;
  fallbackAfterMs?: number;
  log?: (msg: string) => void;
}

/** Pages per second a migrator with this byte budget moves (both directions share it). */
export const migrationPagesPerSec = (options: EngineOptions, pageSizeBytes: number): number => options.migrationBytesPerSec / pageSizeBytes;

export function startEngineWithPool(
  host: MemoryHost,
  clock: Clock,
  options: EngineOptions,
  signal: AbortSignal,
  pool: EnginePoolOptions,
): { engine: RunningEngine; client: PoolClient } {
  let engine: RunningEngine | undefined;
  const client = new PoolClient({
    endpoint: pool.endpoint,
    hello: {
      domain: pool.domain,
      ...(pool.uuid !== undefined ? { uuid: pool.uuid } : {}),
      pageCount: host.pageCount,
      pageSizeBytes: host.pageSizeBytes,
      staticQuotaPages: pool.staticQuotaPages,
      ...(pool.minPages !== undefined ? { minPages: pool.minPages } : {}),
      ...(pool.maxPages !== undefined ? { maxPages: pool.maxPages } : {}),
      ...(pool.weight !== undefined ? { weight: pool.weight } : {}),
      migrationPagesPerSec: migrationPagesPerSec(options, host.pageSizeBytes),
    },
    apply: (q) => engine?.setDramQuotaPages(q),
    ...(pool.fallbackAfterMs !== undefined ? { fallbackAfterMs: pool.fallbackAfterMs } : {}),
    ...(pool.log ? { log: pool.log } : {}),
  });
  const userOnWindow = options.onWindow;
  engine = startEngine(
    host,
    clock,
    {
      ...options,
      dramQuotaPages: pool.staticQuotaPages,
      onWindow: (s) => {
        client.report(reportFromWindow(s));
        userOnWindow?.(s);
      },
    },
    signal,
  );
  client.start();
  signal.addEventListener('abort', () => void client.close(), { once: true });
  return { engine, client };
}
