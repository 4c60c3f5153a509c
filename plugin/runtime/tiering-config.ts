/**
 * The parsed form of a domain's tiering metadata: what the libvirt side
 * (plugin/libvirt/tiering-metadata.ts parses and writes it) and the manager
 * (plugin/manager/ runs it) agree on. Sizes are bytes. It lives here so neither
 * side imports the other for it.
 */
import { DEFAULT_POOL_SOCKET } from './paths.js';

export type Backend = 'linux' | 'kmod' | 'sim';
export type SlowTier = { numaNode: number } | { devdax: string };

export interface TieringConfig {
  backend: Backend;
  dram: { quotaBytes: number; minBytes: number; maxBytes: number; weight: number };
  slowTier?: SlowTier;
  tracking: { windowMs: number; rounds: number };
  migration: { bytesPerSecond: number };
  qmp: { socket: string };
  /** The pool daemon's socket (default /run/hmmv/pool.sock): the manager joins the pool there, or runs on its static quota while none answers. */
  pool: { socket: string };
}

export const TIERING_DEFAULTS = {
  weight: 100,
  windowMs: 500,
  rounds: 8,
  bytesPerSecond: 1024 ** 3,
  poolSocket: DEFAULT_POOL_SOCKET,
} as const;
