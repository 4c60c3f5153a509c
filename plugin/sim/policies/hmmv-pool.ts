/**
 * HMM-V with the DRAM pool in the simulated machine: every VM runs its own
 * engine session (as the `hmmv` policy does) joined to one in-process pool
 * that divides the host's DRAM among them on the machine's virtual clock,
 * instead of the static equal split.
 */
import { ENGINE_BYTES_PER_PAGE } from './hmmv.js';
import type { MachineShape } from '../machine/policy.js';
import { defaultEngineOptions, type EngineOptions } from '../../engine/run.js';
import { defaultCoreConfig, type PoolCoreConfig } from '../../pool/core.js';
import { InProcessPool } from '../../pool/in-process.js';
import type { PolicyName } from '../../pool/policies.js';
import type { PoolStateMessage } from '../../pool/wire.js';
import { startEngineSession, type EngineSession } from '../../session/engine-session.js';
import type { MemoryHost } from '../../host/memory-host.js';
import type { Clock } from '../../util/clock.js';
import type { Policy, PolicyVmReport, RunningPolicy } from '../machine/policy.js';

export interface PoolSimOptions {
  policy?: PolicyName;
  engine?: Partial<Omit<EngineOptions, 'dramQuotaPages'>>;
  pool?: Partial<Omit<PoolCoreConfig, 'poolPages' | 'policy'>>;
  /** Sees the pool state after every reallocation (a dashboard, a quota timeline). */
  onState?: (state: PoolStateMessage) => void;
  /** Gets the pool when the run starts (e.g. to serve it with the daemon's dashboard). */
  onPool?: (pool: InProcessPool) => void;
}

/** The running policy, with its pool for tests and dashboards. */
export interface RunningPoolPolicy extends RunningPolicy {
  readonly pool: InProcessPool;
}

/** The part of PolicyContext this policy uses (tests drive it with hosts that are not SimHosts). */
export interface PoolPolicyContext {
  readonly clock: Clock;
  readonly vms: readonly { readonly name: string; readonly host: MemoryHost; readonly pageCount: number; readonly dramQuotaPages: number }[];
  readonly signal: AbortSignal;
}

export function hmmvPoolPolicy(options: PoolSimOptions = {}): Policy & { start(context: PoolPolicyContext): RunningPoolPolicy } {
  const policy = options.policy ?? 'utility';
  return {
    name: policy === 'utility' ? 'hmmv-pool' : `hmmv-pool-${policy}`,
    description: `HMM-V engine per VM, DRAM pool (${policy}) instead of the static split`,
    hostDramPages: (configured: number): number => configured,
    firstTouchDramPages: (vm: { readonly pageCount: number; readonly dramQuotaPages: number }): number => vm.dramQuotaPages,
    memoryBytes: (shape: MachineShape): number => ENGINE_BYTES_PER_PAGE * shape.vms.reduce((s, vm) => s + vm.pageCount, 0),
    start(context: PoolPolicyContext): RunningPoolPolicy {
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
      if (options.onState) pool.onRebalance = options.onState;
      const sessions: EngineSession[] = context.vms.map((vm) =>
        startEngineSession({
          name: vm.name,
          host: vm.host,
          clock: context.clock,
          engine: engineOptions(vm.dramQuotaPages),
          pool: { kind: 'in-process', pool },
          signal: context.signal,
        }),
      );
      let poolFailure: Error | undefined;
      const poolDone = pool.run(context.signal).catch((err: unknown) => {
        poolFailure = new Error(`pool failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      const failure = (): Error | undefined => sessions.find((s) => s.failure())?.failure() ?? poolFailure;
      return {
        failure,
        pool,
        async stop(): Promise<readonly PolicyVmReport[]> {
          await Promise.all(sessions.map((s) => s.done));
          await poolDone;
          const failed = failure();
          if (failed) throw failed;
          return sessions.map((s) => ({ ...s.totals(), ...s.quotaTrack().fields() }));
        },
      };
    },
  };
}
