/**
 * One colour per policy, the same in every chart of `hmmv sim` and `hmmv
 * scenario` (the tab10 palette): the ceiling grey, the floor olive, HMM-V and
 * its pool variants reds, the peers each their own, the oracle black.
 */
const POLICY_COLOURS: Readonly<Record<string, string>> = {
  'all-dram': '#7f7f7f',
  unmanaged: '#bcbd22',
  hmmv: '#d62728',
  'hmmv-pool': '#ff7f0e',
  'hmmv-pool-fair': '#e377c2',
  'hmmv-pool-weighted': '#f7b6d2',
  'numa-balancing': '#1f77b4',
  tpp: '#17becf',
  'memory-mode': '#9467bd',
  memtierd: '#8c564b',
  'memtierd-sample': '#c49c94',
  damon: '#2ca02c',
  oracle: '#000000',
};

/** Policies without a colour of their own (new ones, test policies) share this. */
export const OTHER_COLOUR = '#aec7e8';

export function policyColour(policy: string): string {
  return POLICY_COLOURS[policy] ?? OTHER_COLOUR;
}

/** The policies that have a colour of their own. */
export const COLOURED_POLICIES: readonly string[] = Object.keys(POLICY_COLOURS);
