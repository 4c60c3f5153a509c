/**
 * Prometheus metrics of the pool (prom-client), in base units (bytes) as the
 * Prometheus naming conventions ask. Per-VM gauges are filled from the pool
 * state at scrape time, so a VM that left disappears from the next scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStateMessage } from './wire.js';

export interface PoolMetrics {
  readonly registry: Registry;
  messageReceived(type: string): void;
  messageRejected(code: string): void;
  quotaChanged(count: number): void;
  /** One reallocation took this long (wall time, seconds). */
  rebalanced(seconds: number): void;
}

export function createPoolMetrics(state: () => PoolStateMessage): PoolMetrics {
  const registry = new Registry();
  // The daemon's own process: resident memory, heap, event-loop lag (process_*, nodejs_*).
  collectDefaultMetrics({ register: registry });
  const vmGauge = (name: string, help: string, value: (v: PoolStateMessage['vms'][number], page: number) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['domain'],
      registers: [registry],
      collect() {
        this.reset();
        const s = state();
        for (const v of s.vms) this.set({ domain: v.domain }, value(v, s.pageSizeBytes));
      },
    });
  };
  const poolGauge = (name: string, help: string, value: (s: PoolStateMessage) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(state()));
      },
    });
  };
  poolGauge('hmmv_pool_size_bytes', 'DRAM the pool divides among the VMs.', (s) => s.poolPages * s.pageSizeBytes);
  poolGauge('hmmv_pool_allocated_bytes', 'DRAM given out as quotas.', (s) => s.allocatedPages * s.pageSizeBytes);
  poolGauge('hmmv_pool_vms', 'VMs the pool knows (connected or within their grace period).', (s) => s.vms.length);
  poolGauge('hmmv_pool_managers_connected', 'Managers connected now.', (s) => s.vms.filter((v) => v.connected).length);
  vmGauge('hmmv_vm_connected', '1 if the VM\'s manager is connected, 0 during its grace period.', (v) => (v.connected ? 1 : 0));
  vmGauge('hmmv_vm_dram_quota_bytes', 'DRAM quota the pool set for the VM.', (v, p) => v.quotaPages * p);
  vmGauge('hmmv_vm_dram_target_bytes', 'DRAM the policy wants the VM to have (the quota moves towards it).', (v, p) => v.targetPages * p);
  vmGauge('hmmv_vm_static_quota_bytes', 'DRAM quota from the domain metadata (used without a pool).', (v, p) => v.staticQuotaPages * p);
  vmGauge('hmmv_vm_dram_bytes', 'Guest memory of the VM in DRAM.', (v, p) => v.dramPages * p);
  vmGauge('hmmv_vm_nvm_bytes', 'Guest memory of the VM in the slow tier.', (v, p) => v.nvmPages * p);
  vmGauge('hmmv_vm_hot_set_bytes', 'Size of the VM\'s hot set.', (v, p) => v.hotSetPages * p);
  vmGauge('hmmv_vm_memory_accesses_per_second', 'Estimated memory accesses per second of the VM.', (v) => v.accessesPerSec);
  vmGauge('hmmv_vm_dram_accesses_per_second', 'Estimated memory accesses per second served from DRAM.', (v) => v.dramAccessesPerSec);
  vmGauge('hmmv_vm_migrated_pages_per_second', 'Pages migrated per second in the last window.', (v) => v.migratedPagesPerSec);
  vmGauge('hmmv_vm_estimated_slowdown_ratio', 'Estimated slowdown against an all-DRAM VM (1 = none).', (v) => v.slowdown);
  const received = new Counter({ name: 'hmmv_pool_messages_total', help: 'Messages received, by type.', labelNames: ['type'], registers: [registry] });
  const rejected = new Counter({ name: 'hmmv_pool_messages_rejected_total', help: 'Messages refused, by error code.', labelNames: ['code'], registers: [registry] });
  const changes = new Counter({ name: 'hmmv_pool_quota_changes_total', help: 'Quota changes pushed to managers.', registers: [registry] });
  const rebalance = new Histogram({
    name: 'hmmv_pool_rebalance_seconds',
    help: 'Time one reallocation takes (policy, step, pushing the quotas).',
    buckets: [5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5],
    registers: [registry],
  });
  return {
    registry,
    messageReceived: (type) => received.inc({ type }),
    messageRejected: (code) => rejected.inc({ code }),
    quotaChanged: (n) => changes.inc(n),
    rebalanced: (s) => rebalance.observe(s),
  };
}
