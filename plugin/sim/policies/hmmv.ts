/**
 * HMM-V: each VM gets a static equal share of the host's DRAM (its quota;
 * first touch stays within it) and its own engine session
 * (plugin/session/engine-session.ts) driving its sim host on the virtual clock.
 */
import { defaultEngineOptions, type EngineOptions } from '../../engine/run.js';
import { startEngineSession, type EngineSession } from '../../session/engine-session.js';
import type { Policy, PolicyContext, PolicyVmReport, RunningPolicy } from '../machine/policy.js';

/** What one engine holds per guest page, at most (page state, scan and result bitmaps). */
export const ENGINE_BYTES_PER_PAGE = 4;

export function hmmvPolicy(overrides: Partial<Omit<EngineOptions, 'dramQuotaPages'>> = {}): Policy {
  return {
    name: 'hmmv',
    description: 'HMM-V engine per VM, static equal DRAM split',
    hostDramPages: (configured) => configured,
    firstTouchDramPages: (vm) => vm.dramQuotaPages,
    // The engine's per-page state (plugin/engine/page-state.ts, ~3 bytes) and its scratch bitmaps, rounded up.
    memoryBytes: (shape) => ENGINE_BYTES_PER_PAGE * shape.vms.reduce((s, vm) => s + vm.pageCount, 0),
    start(context: PolicyContext): RunningPolicy {
      const sessions: EngineSession[] = context.vms.map((vm) =>
        startEngineSession({
          name: vm.name,
          host: vm.host,
          clock: context.clock,
          engine: { ...defaultEngineOptions(vm.dramQuotaPages), ...overrides, dramQuotaPages: vm.dramQuotaPages },
          signal: context.signal,
        }),
      );
      return {
        // An engine that dies mid-run stops the run with its error.
        failure: () => sessions.find((s) => s.failure())?.failure(),
        async stop(): Promise<readonly PolicyVmReport[]> {
          await Promise.all(sessions.map((s) => s.done));
          const failed = sessions.find((s) => s.failure());
          if (failed) throw failed.failure()!;
          return sessions.map((s) => s.totals());
        },
      };
    },
  };
}
