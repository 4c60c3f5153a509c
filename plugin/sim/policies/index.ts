/** The placement policies `hmmv sim` knows, by name. */
import type { EngineOptions } from '../../engine/run.js';
import type { Policy } from '../machine/policy.js';
import { allDramPolicy } from './all-dram.js';
import { damonPolicy } from './damon.js';
import { hmmvPolicy } from './hmmv.js';
import { memoryModePolicy } from './memory-mode.js';
import { MEMTIERD_SAMPLE_CONFIG, memtierdPolicy } from './memtierd.js';
import { numaBalancingPolicy } from './numa-balancing.js';
import { oraclePolicy } from './oracle.js';
import { unmanagedPolicy } from './unmanaged.js';
import { hmmvPoolPolicy } from './hmmv-pool.js';

export interface PolicyOptions {
  readonly engine?: Partial<Omit<EngineOptions, 'dramQuotaPages'>>;
}

const FACTORIES: Readonly<Record<string, (options: PolicyOptions) => Policy>> = {
  'all-dram': () => allDramPolicy,
  unmanaged: () => unmanagedPolicy,
  hmmv: (options) => hmmvPolicy(options.engine),
  // HMM-V with the host-wide DRAM pool instead of the static split (plugin/pool/).
  'hmmv-pool': (options) => hmmvPoolPolicy(options.engine ? { engine: options.engine } : {}),
  'hmmv-pool-fair': (options) => hmmvPoolPolicy({ policy: 'fair', ...(options.engine ? { engine: options.engine } : {}) }),
  'hmmv-pool-weighted': (options) => hmmvPoolPolicy({ policy: 'weighted', ...(options.engine ? { engine: options.engine } : {}) }),
  'numa-balancing': () => numaBalancingPolicy(),
  tpp: () => numaBalancingPolicy({ tpp: true }),
  'memory-mode': () => memoryModePolicy(),
  memtierd: () => memtierdPolicy(),
  'memtierd-sample': () => memtierdPolicy(MEMTIERD_SAMPLE_CONFIG, 'memtierd-sample'),
  damon: () => damonPolicy(),
  oracle: () => oraclePolicy(),
};

export const POLICY_NAMES: readonly string[] = Object.keys(FACTORIES);

export function createPolicy(name: string, options: PolicyOptions = {}): Policy {
  const factory = FACTORIES[name];
  if (!factory) throw new Error(`unknown policy "${name}" (known: ${POLICY_NAMES.join(', ')})`);
  return factory(options);
}
