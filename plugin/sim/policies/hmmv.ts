/**
 * HMM-V: each VM gets a static equal share of the host's DRAM (its quota;
 * first touch stays within it) and its own engine (plugin/engine/run.ts)
 * driving its sim host on the virtual clock.
 */
import { defaultEngineOptions, startEngine, type EngineOptions, type EngineTotals, type RunningEngine } from '../../engine/run.js';
import type { Policy, PolicyContext, PolicyVmReport, RunningPolicy } from '../policy.js';

export function hmmvPolicy(overrides: Partial<Omit<EngineOptions, 'dramQuotaPages'>> = {}): Policy {
  return {
    name: 'hmmv',
    description: 'HMM-V engine per VM, static equal DRAM split',
    hostDramPages: (configured) => configured,
    firstTouchDramPages: (vm) => vm.dramQuotaPages,
    start(context: PolicyContext): RunningPolicy {
      let failure: Error | undefined;
      const engines: RunningEngine[] = [];
      const finished: Promise<EngineTotals | undefined>[] = [];
      for (const vm of context.vms) {
        const options: EngineOptions = { ...defaultEngineOptions(vm.dramQuotaPages), ...overrides, dramQuotaPages: vm.dramQuotaPages };
        const engine = startEngine(vm.host, context.clock, options, context.signal);
        engines.push(engine);
        // Catch at once: an engine that dies mid-run stops the run with its error.
        finished.push(
          engine.done.then(
            (totals) => totals,
            (err: unknown) => {
              if (!context.signal.aborted || !isAbort(err)) {
                failure ??= new Error(`hmmv engine of VM ${vm.name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
              }
              return undefined;
            },
          ),
        );
      }
      return {
        failure: () => failure,
        async stop(): Promise<readonly PolicyVmReport[]> {
          const totals = await Promise.all(finished);
          if (failure) throw failure;
          return totals.map((t, i) => numericFields(t ?? engines[i]!.totals()));
        },
      };
    },
  };
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.message.includes('abort'));
}

/** The engine's numeric totals (drops the list of recent failure messages). */
function numericFields(totals: EngineTotals): PolicyVmReport {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(totals)) if (typeof v === 'number') out[k] = v;
  return out;
}
