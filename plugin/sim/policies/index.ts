/** The placement policies `hmmv sim` knows, by name. */
import type { EngineOptions } from '../../engine/run.js';
import type { Policy } from '../policy.js';
import { allDramPolicy } from './all-dram.js';
import { hmmvPolicy } from './hmmv.js';
import { unmanagedPolicy } from './unmanaged.js';
import { hmmvPoolPolicy } from '../../pool/sim-policy.js';

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
};

export const POLICY_NAMES: readonly string[] = Object.keys(FACTORIES);

export function createPolicy(name: string, options: PolicyOptions = {}): Policy {
  const factory = FACTORIES[name];
  if (!factory) throw new Error(`unknown policy "${name}" (known: ${POLICY_NAMES.join(', ')})`);
  return factory(options);
}
