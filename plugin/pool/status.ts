/**
 * The pool part of `hmmv status`: a table of the pool and its VMs, fetched
 * from the daemon. `poolStatusSection` never throws: without a daemon it says
 * so (managers then run on their static quotas).
 */
import { fetchPoolState, type PoolEndpoint } from './client.js';
import type { PoolStateMessage } from './wire.js';

const GiB = 1024 ** 3;
const size = (pages: number, pageSize: number): string => {
  const b = pages * pageSize;
  return b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(1)} MiB`;
};
const rate = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export function formatPoolStatus(s: PoolStateMessage): string {
  const p = s.pageSizeBytes;
  const head = `pool: ${size(s.poolPages, p)} DRAM, policy ${s.policy}, ${size(s.allocatedPages, p)} allocated to ${s.vms.length} VM(s), epoch ${s.epoch}`;
  if (s.vms.length === 0) return `${head}\n  (no managers connected)`;
  const rows = [['DOMAIN', 'LINK', 'QUOTA', 'SHARE', 'TARGET', 'STATIC', 'DRAM', 'NVM', 'HOT SET', 'ACC/S', 'FROM DRAM', 'MIGR/S', 'SLOWDOWN']];
  for (const v of s.vms)
    rows.push([
      v.domain,
      v.connected ? 'up' : `away ${Math.ceil((v.graceLeftMs ?? 0) / 1000)}s`,
      size(v.quotaPages, p),
      s.poolPages > 0 ? `${((100 * v.quotaPages) / s.poolPages).toFixed(1)}%` : '-',
      size(v.targetPages, p),
      size(v.staticQuotaPages, p),
      size(v.dramPages, p),
      size(v.nvmPages, p),
      size(v.hotSetPages, p),
      rate(v.accessesPerSec),
      v.accessesPerSec > 0 ? `${((100 * v.dramAccessesPerSec) / v.accessesPerSec).toFixed(1)}%` : '-',
      rate(v.migratedPagesPerSec),
      `${v.slowdown.toFixed(2)}x`,
    ]);
  return `${head}\n${table(rows)
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}`;
}

export function describeEndpoint(e: PoolEndpoint): string {
  return 'socketPath' in e ? e.socketPath : e.url;
}

/** The pool section of `hmmv status` (for the status command of any area). */
export async function poolStatusSection(endpoint: PoolEndpoint, timeoutMs = 3000): Promise<{ text: string; state?: PoolStateMessage }> {
  try {
    const state = await fetchPoolState(endpoint, timeoutMs);
    return { text: formatPoolStatus(state), state };
  } catch (err) {
    return { text: `pool: no daemon at ${describeEndpoint(endpoint)} (${(err as Error).message}); managers run on their static quotas` };
  }
}
