/**
 * What `hmmv status` shows per domain, defined once: each field has its JSON
 * key and value and, if it is a column of the table, its header and cell.
 * `hmmv status --json` and the table are both made from STATUS_FIELDS, so a
 * new field is one entry here (e.g. `hmmv status --watch` re-renders the same).
 */
import { logPath } from '../runtime/paths.js';
import type { DomainStatusRow } from '../runtime/status-file.js';

export interface StatusField {
  /** Key in `hmmv status --json`. */
  key: string;
  /** The value for JSON (undefined leaves the key out); absent: a table column only. */
  json?(row: DomainStatusRow): unknown;
  /** Column header in the table; absent: JSON only. */
  header?: string;
  /** The table cell (default: the JSON value as text, '-' when absent). */
  cell?(row: DomainStatusRow): string;
  /** Right-align the column (numbers). */
  numeric?: boolean;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
export const formatBytes = (bytes: number): string => (bytes >= GiB ? `${(bytes / GiB).toFixed(2)}GiB` : `${(bytes / MiB).toFixed(1)}MiB`);
const formatRate = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));

/** Live figures only while the manager runs: a dead manager's last window is history, not state. */
const live = (row: DomainStatusRow) => (row.managerAlive ? row.tiering : undefined);
const pagesField = (key: string, header: string, pages: (t: NonNullable<DomainStatusRow['tiering']>) => number | undefined): StatusField => ({
  key,
  header,
  numeric: true,
  json: (row) => {
    const t = live(row);
    const p = t ? pages(t) : undefined;
    return p === undefined ? undefined : { pages: p, bytes: p * t!.pageSizeBytes };
  },
  cell: (row) => {
    const t = live(row);
    const p = t ? pages(t) : undefined;
    return p === undefined ? '-' : formatBytes(p * t!.pageSizeBytes);
  },
});

const rateField = (key: string, header: string, rate: (t: NonNullable<DomainStatusRow['tiering']>) => number | undefined): StatusField => ({
  key,
  header,
  numeric: true,
  json: (row) => {
    const t = live(row);
    return t ? rate(t) : undefined;
  },
  cell: (row) => {
    const t = live(row);
    const x = t ? rate(t) : undefined;
    return x === undefined ? '-' : formatRate(x);
  },
});

export const STATUS_FIELDS: StatusField[] = [
  { key: 'domain', header: 'DOMAIN', json: (r) => r.domain },
  {
    key: 'state',
    header: 'STATE',
    json: (r) => r.state,
    // An outgoing live migration in flight shows in the state: page moves are held meanwhile.
    cell: (r) => (r.managerAlive && r.migration?.direction === 'outgoing' && !['completed', 'failed', 'cancelled'].includes(r.migration.status) ? `${r.state} (migrating out)` : r.state),
  },
  { key: 'since', json: (r) => r.since },
  { key: 'managerAlive', json: (r) => r.managerAlive },
  { key: 'pid', header: 'MANAGER', numeric: true, json: (r) => r.pid, cell: (r) => (r.managerAlive && r.pid !== undefined ? String(r.pid) : '-') },
  { key: 'backend', header: 'BACKEND', json: (r) => r.backend },
  { key: 'qemu', header: 'QEMU', numeric: true, json: (r) => r.qemu, cell: (r) => (r.qemu?.pid !== undefined ? String(r.qemu.pid) : '-') },
  {
    key: 'guest',
    header: 'GUEST',
    json: (r) => r.guest,
    cell: (r) => (r.guest ? `${(r.guest.ramBytes / MiB).toFixed(0)}MiB/${r.guest.vcpus}vcpu` : '-'),
  },
  {
    key: 'quota',
    header: 'QUOTA',
    numeric: true,
    json: (r) => {
      const t = live(r);
      if (!t) return undefined;
      const q = t.quota;
      return {
        pages: q.pages,
        bytes: q.pages * t.pageSizeBytes,
        source: q.source,
        ...(q.requestedPages !== undefined ? { requestedPages: q.requestedPages } : {}),
        staticPages: t.staticQuotaPages,
        minPages: t.bounds.minPages,
        maxPages: t.bounds.maxPages,
        weight: t.bounds.weight,
      };
    },
    cell: (r) => {
      const t = live(r);
      return t ? formatBytes(t.quota.pages * t.pageSizeBytes) : '-';
    },
  },
  {
    key: 'quotaSource',
    header: 'FROM',
    // Table only: JSON has it as quota.source (and quota.requestedPages).
    cell: (r) => {
      const t = live(r);
      if (!t) return '-';
      const q = t.quota;
      return q.source === 'clamped' && q.requestedPages !== undefined ? `clamped (pool: ${formatBytes(q.requestedPages * t.pageSizeBytes)})` : q.source;
    },
  },
  pagesField('dram', 'DRAM', (t) => t.window?.dramPages),
  pagesField('nvm', 'NVM', (t) => t.window?.nvmPages),
  pagesField('hotSet', 'HOT SET', (t) => t.window?.hotSetPages),
  {
    key: 'migrationsPerSec',
    header: 'MIGR/S',
    numeric: true,
    json: (r) => live(r)?.window?.migratedPagesPerSec,
    cell: (r) => {
      const m = live(r)?.window?.migratedPagesPerSec;
      return m === undefined ? '-' : formatRate(m);
    },
  },
  rateField('promotionsPerSec', 'PROMO/S', (t) => t.window?.promotedPerSec),
  rateField('demotionsPerSec', 'DEMO/S', (t) => t.window?.demotedPerSec),
  {
    key: 'slowdown',
    header: 'SLOWDOWN',
    numeric: true,
    json: (r) => live(r)?.window?.slowdown,
    cell: (r) => {
      const x = live(r)?.window?.slowdown;
      return x === undefined ? '-' : `${x.toFixed(2)}x`;
    },
  },
  { key: 'windows', header: 'WINDOWS', numeric: true, json: (r) => live(r)?.windows },
  { key: 'pool', json: (r) => live(r)?.pool },
  { key: 'window', json: (r) => live(r)?.window },
  { key: 'qmpSocket', json: (r) => r.qmpSocket },
  { key: 'engine', json: (r) => r.engine },
  { key: 'migration', json: (r) => (r.managerAlive ? r.migration : undefined) },
  { key: 'error', json: (r) => r.error },
  { key: 'lastError', json: (r) => live(r)?.lastError },
];

/** One JSON object per domain, keys in STATUS_FIELDS order. */
export function statusJson(rows: readonly DomainStatusRow[], fields: readonly StatusField[] = STATUS_FIELDS): Record<string, unknown>[] {
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      const v = f.json?.(row);
      if (v !== undefined) out[f.key] = v;
    }
    return out;
  });
}

/** The table: one line per domain, aligned columns; an error and the log path under a failed domain. */
export function statusTable(rows: readonly DomainStatusRow[], fields: readonly StatusField[] = STATUS_FIELDS): string {
  const cols = fields.filter((f) => f.header !== undefined);
  const cellOf = (f: StatusField, row: DomainStatusRow): string => {
    if (f.cell) return f.cell(row);
    const v = f.json?.(row);
    return v === undefined || v === null ? '-' : String(v);
  };
  const cells = [cols.map((f) => f.header!), ...rows.map((row) => cols.map((f) => cellOf(f, row)))];
  const widths = cols.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  const lines: string[] = [];
  cells.forEach((r, i) => {
    lines.push(r.map((cell, c) => (cols[c]!.numeric && i > 0 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
    const row = i > 0 ? rows[i - 1]! : undefined;
    if (row?.error) lines.push(`    error: ${row.error}`, `    log: ${logPath(row.domain)}`);
    else if (row && live(row)?.lastError) lines.push(`    last error: ${live(row)!.lastError}`);
  });
  return lines.join('\n');
}
