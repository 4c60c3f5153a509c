/**
 * Backend selection: the one place where the manager turns the metadata's
 * `backend` into a memory host. The real backends (plugin/host/linux, the
 * simulated host in plugin/sim) register themselves here with `registerBackend`
 * when they are wired in; until then a backend is a clear "unavailable" error,
 * and the manager records it and leaves the guest alone.
 */
import type { MemoryHost } from '../host/memory-host.js';
import type { Backend, TieringConfig } from '../runtime/tiering-config.js';
import type { GuestInfo } from './guest-discovery.js';

export interface BackendContext {
  domain: string;
  config: TieringConfig;
  guest: GuestInfo;
}

export type BackendFactory = (ctx: BackendContext) => Promise<MemoryHost>;

export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: string,
    reason: string,
  ) {
    super(`backend '${backend}' is unavailable: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

const factories = new Map<Backend, BackendFactory>();

/** Wires a backend in (called once at start-up by whoever provides it). */
export function registerBackend(name: Backend, factory: BackendFactory): void {
  factories.set(name, factory);
}

const NOT_WIRED: Record<Backend, string> = {
  linux: 'the linux memory host (plugin/host/linux) is not wired into the manager in this build',
  kmod: 'the hmmv.ko memory host (plugin/host/kmod) is not wired into the manager in this build',
  sim: 'the simulated memory host (plugin/sim) is not wired into the manager in this build',
};

/** Opens the memory host the domain's metadata asks for. Throws BackendUnavailableError when it cannot. */
export async function openBackend(ctx: BackendContext): Promise<MemoryHost> {
  const factory = factories.get(ctx.config.backend);
  if (!factory) throw new BackendUnavailableError(ctx.config.backend, NOT_WIRED[ctx.config.backend]);
  try {
    return await factory(ctx);
  } catch (error) {
    if (error instanceof BackendUnavailableError) throw error;
    throw new BackendUnavailableError(ctx.config.backend, (error as Error).message);
  }
}
