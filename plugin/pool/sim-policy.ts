/**
 * HMM-V with the DRAM pool in the simulated machine: every VM runs its own
 * engine (as the `hmmv` policy does) and one in-process pool divides the
 * host's DRAM among them on the machine's virtual clock, instead of the
 * static equal split. Typed structurally, so it plugs into plugin/sim's
 * Policy interface without the pool depending on the simulator.
 */
import type { MemoryHost } from '../host/memory-host.js';
import type { Clock } from '../util/clock.js';
import { defaultEngineOptions, startEngine, type EngineOptions, type EngineTotals, type RunningEngine } from '../engine/run.js';
import { defaultCoreConfig, type PoolCoreConfig } from './core.js';
import { InProcessPool } from './in-process.js';
import type { PolicyName } from './policies.js';
import type { PoolStateMessage } from './wire.js';

export interface PoolSimVm {
  readonly name: string;
  readonly host: MemoryHost;
  readonly pageCount: number;
  readonly dramQuotaPages: number;
}

export interface PoolSimContext {
  readonly clock: Clock;
  readonly vms: readonly PoolSimVm[];
  readonly signal: AbortSignal;
}

export interface PoolSimOptions {
  policy?: PolicyName;
  engine?: Partial<Omit<EngineOptions, 'dramQuotaPages'>>;
  pool?: Partial<Omit<PoolCoreConfig, 'poolPages' | 'policy'>>;
  /** Sees the pool state after every reallocation (a dashboard, a quota timeline). */
  onState?: (state: PoolStateMessage) => void;
  /** Gets the pool when the run starts (e.g. to serve it with the daemon's dashboard). */
  onPool?: (pool: InProcessPool) => void;
}

/** Quota samples per VM over the run, for tables: start, end, min, max. */
interface QuotaTrack {
  start: number;
  end: number;
  min: number;
  max: number;
}

export function hmmvPoolPolicy(options: PoolSimOptions = {}) {
  const policy = options.policy ?? 'utility';
  return {
    name: policy === 'utility' ? 'hmmv-pool' : `hmmv-pool-${policy}`,
    description: `HMM-V engine per VM, DRAM pool (${policy}) instead of the static split`,
    hostDramPages: (configured: number): number => configured,
    firstTouchDramPages: (vm: { readonly pageCount: number; readonly dramQuotaPages: number }): number => vm.dramQuotaPages,
    start(context: PoolSimContext) {
      const poolPages = context.vms.reduce((s, vm) => s + vm.dramQuotaPages, 0);
      const engineOptions = (q: number): EngineOptions => ({ ...defaultEngineOptions(q), ...options.engine, dramQuotaPages: q });
      const windowMs = (engineOptions(0).roundsPerWindow * engineOptions(0).roundIntervalNs) / 1e6;
      const pool = new InProcessPool(
        {
          ...defaultCoreConfig(poolPages),
          policy,
          // Reallocate every two windows, with no settle period (nothing to reconnect) and a small hysteresis.
          intervalMs: 2 * windowMs,
          settleMs: 0,
          hysteresisPages: Math.max(1, Math.floor(poolPages / 200)),
          ...options.pool,
        },
        context.clock,
      );
      options.onPool?.(pool);
      const tracks: QuotaTrack[] = context.vms.map((vm) => ({ start: vm.dramQuotaPages, end: vm.dramQuotaPages, min: vm.dramQuotaPages, max: vm.dramQuotaPages }));
      pool.onRebalance = (s) => {
        context.vms.forEach((vm, i) => {
          const q = s.vms.find((v) => v.domain === vm.name)?.quotaPages;
          if (q === undefined) return;
          const t = tracks[i]!;
          t.end = q;
          t.min = Math.min(t.min, q);
          t.max = Math.max(t.max, q);
        });
        options.onState?.(s);
      };
      let failure: Error | undefined;
      const engines: RunningEngine[] = [];
      const finished: Promise<EngineTotals | undefined>[] = [];
      context.vms.forEach((vm) => {
        let engine: RunningEngine | undefined;
        const opts = engineOptions(vm.dramQuotaPages);
        const link = pool.join({
          domain: vm.name,
          pageCount: vm.pageCount,
          pageSizeBytes: vm.host.pageSizeBytes,
          staticQuotaPages: vm.dramQuotaPages,
          migrationPagesPerSec: opts.migrationBytesPerSec / vm.host.pageSizeBytes,
          setDramQuotaPages: (q) => engine?.setDramQuotaPages(q),
        });
        const userOnWindow = opts.onWindow;
        engine = startEngine(vm.host, context.clock, { ...opts, onWindow: (s) => (link.report(s), userOnWindow?.(s)) }, context.signal);
        engines.push(engine);
        finished.push(
          engine.done.then(
            (t) => t,
            (err: unknown) => {
              if (!context.signal.aborted) failure ??= new Error(`hmmv engine of VM ${vm.name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
              return undefined;
            },
          ),
        );
      });
      const poolDone = pool.run(context.signal).catch((err: unknown) => {
        failure ??= new Error(`pool failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      return {
        failure: () => failure,
        pool,
        async stop(): Promise<readonly Readonly<Record<string, number>>[]> {
          const totals = await Promise.all(finished);
          await poolDone;
          if (failure) throw failure;
          return totals.map((t, i) => {
            const out: Record<string, number> = {};
            for (const [k, v] of Object.entries(t ?? engines[i]!.totals())) if (typeof v === 'number') out[k] = v;
            const q = tracks[i]!;
            return { ...out, quotaStartPages: q.start, quotaEndPages: q.end, quotaMinPages: q.min, quotaMaxPages: q.max };
          });
        },
      };
    },
  };
}
