import assert from 'node:assert/strict';
import { STATUS_FIELDS, statusJson, statusTable } from '../../plugin/manager/status-view.js';
import type { DomainStatusRow } from '../../plugin/runtime/status-file.js';

const MiB = 1024 ** 2;
const row = (over: Partial<DomainStatusRow> = {}): DomainStatusRow => ({
  domain: 'vm1',
  state: 'running',
  since: '2026-01-01T00:00:00.000Z',
  pid: 4242,
  managerAlive: true,
  backend: 'sim',
  qemu: { pid: 777 },
  guest: { ramBytes: 256 * MiB, vcpus: 2, memdevs: [], ramBlocks: [] },
  tiering: {
    pageSizeBytes: 4096,
    pageCount: 65536,
    quota: { pages: 8192, source: 'clamped', requestedPages: 100 },
    staticQuotaPages: 16384,
    bounds: { minPages: 8192, maxPages: 32768, weight: 100 },
    pool: { socket: '/run/hmmv/pool.sock', connected: true },
    window: { index: 9, at: '2026-01-01T00:00:05.000Z', dramPages: 8000, nvmPages: 57536, hotSetPages: 7000, migratedPagesPerSec: 2500 },
  },
  ...over,
});

describe('hmmv status: one list of fields for the table and --json', () => {
  it('JSON carries the quota with its source, DRAM/NVM, hot set and migrations/s', () => {
    const [j] = statusJson([row()]);
    assert.deepEqual(j!['quota'], { pages: 8192, bytes: 32 * MiB, source: 'clamped', requestedPages: 100, staticPages: 16384, minPages: 8192, maxPages: 32768, weight: 100 });
    assert.deepEqual(j!['dram'], { pages: 8000, bytes: 8000 * 4096 });
    assert.deepEqual(j!['nvm'], { pages: 57536, bytes: 57536 * 4096 });
    assert.deepEqual(j!['hotSet'], { pages: 7000, bytes: 7000 * 4096 });
    assert.equal(j!['migrationsPerSec'], 2500);
    assert.deepEqual(Object.keys(j!), STATUS_FIELDS.filter((f) => f.json && f.json(row()) !== undefined).map((f) => f.key), 'keys in field order');
  });

  it('the table has a column per field with a header, and says what a clamp asked for', () => {
    const t = statusTable([row(), row({ domain: 'vm2', managerAlive: false, state: 'failed', error: 'manager process 9 is gone' })]).split('\n');
    assert.match(t[0]!, /^DOMAIN\s+STATE\s+MANAGER\s+BACKEND\s+QEMU\s+GUEST\s+QUOTA\s+FROM\s+DRAM\s+NVM\s+HOT SET\s+MIGR\/S\b/);
    assert.match(t[1]!, /^vm1\s+running\s+4242\s+sim\s+777\s+256MiB\/2vcpu\s+32\.0MiB\s+clamped \(pool: 0\.4MiB\)\s+31\.3MiB\s+224\.8MiB\s+27\.3MiB\s+2\.5k\b/);
    // A dead manager's figures are history: dashes, the error and the log path.
    assert.match(t[2]!, /^vm2\s+failed\s+-\s+sim\s+777\s+256MiB\/2vcpu(\s+-)+$/);
    assert.match(t[3]!, /error: manager process 9 is gone/);
    assert.match(t[4]!, /log: \/var\/log\/hmmv\/vm2\.log/);
    assert.equal(statusJson([row({ managerAlive: false })])[0]!['quota'], undefined);
  });
});
