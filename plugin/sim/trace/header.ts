/**
 * The trace header line, '# trace NAME key=value ...': parsing, formatting and
 * validation against schemas/trace-header.schema.json (ajv, values coerced
 * from text to the schema's types; the validator is precompiled at build time,
 * see plugin/util/schema-validators.ts, and loaded on first use).
 */
import type { ErrorObject } from 'ajv';
import { schemaValidator } from '../../util/schema-validators.js';

export const TRACE_PAGE_SIZE = 4096;

export interface TraceHeader {
  name: string;
  page_size: number;
  epoch_accesses: number;
  pages?: number;
  epochs?: number;
  accesses?: number;
  instructions?: number;
  cpu_ns_per_op?: number;
  accesses_per_op?: number;
  cache_kib?: number;
  line_size?: number;
  renumbered?: string;
  address_span_pages?: number;
  source?: string;
  /** Other keys are kept as text. */
  [key: string]: string | number | undefined;
}

const PREFIX = '# trace ';

/** Known keys in the order they are written; the rest follow sorted. */
const KEY_ORDER = ['page_size', 'epoch_accesses', 'pages', 'epochs', 'accesses', 'instructions', 'cpu_ns_per_op', 'accesses_per_op', 'cache_kib', 'line_size', 'renumbered', 'address_span_pages', 'source'];

/** Parses and validates a header line; `where` prefixes error messages (e.g. "x.trace:1"). */
export function parseHeader(line: string, where: string): TraceHeader {
  if (!line.startsWith(PREFIX)) {
    throw new Error(`${where}: expected the header '# trace NAME page_size=4096 epoch_accesses=N ...', got '${clip(line)}'`);
  }
  const tokens = line.slice(PREFIX.length).trim().split(/\s+/);
  const name = tokens[0];
  if (!name || name.includes('=')) throw new Error(`${where}: expected the trace NAME after '# trace', got '${clip(line)}'`);
  const fields: Record<string, unknown> = { name };
  for (const token of tokens.slice(1)) {
    const eq = token.indexOf('=');
    if (eq <= 0) throw new Error(`${where}: expected key=value in the header, got '${token}'`);
    const key = token.slice(0, eq);
    if (key in fields) throw new Error(`${where}: header key '${key}' appears twice`);
    fields[key] = token.slice(eq + 1);
  }
  return checkHeader(fields, where);
}

/** Validates header fields (coercing numeric text); throws naming each bad field. */
export function checkHeader(fields: Record<string, unknown>, where: string): TraceHeader {
  const copy = { ...fields };
  const validate = schemaValidator('trace-header');
  if (!validate(copy)) throw new Error(`${where}: bad trace header: ${describeErrors(validate.errors ?? [])}`);
  return copy as TraceHeader;
}

export function formatHeader(header: TraceHeader): string {
  const checked = checkHeader(header, 'trace header');
  const keys = Object.keys(checked).filter((k) => k !== 'name' && checked[k] !== undefined);
  keys.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const parts = keys.map((k) => `${k}=${String(checked[k])}`);
  for (const p of parts) if (/\s/.test(p)) throw new Error(`trace header: value of '${p.split('=')[0]}' must not contain spaces`);
  return `${PREFIX}${checked.name} ${parts.join(' ')}`;
}

function rank(key: string): number {
  const i = KEY_ORDER.indexOf(key);
  return i < 0 ? KEY_ORDER.length : i;
}

function describeErrors(errors: ErrorObject[]): string {
  return errors
    .map((e) => {
      if (e.keyword === 'required') return `missing '${String(e.params['missingProperty'])}'`;
      if (e.keyword === 'propertyNames') return `key '${String(e.params['propertyName'])}' must be lower_snake_case`;
      const field = e.instancePath.replace(/^\//, '') || 'header';
      if (e.keyword === 'enum') return `${field} must be one of ${(e.params['allowedValues'] as unknown[]).join(', ')}`;
      return `${field} ${e.message ?? 'is invalid'}`;
    })
    .filter((m, i, all) => all.indexOf(m) === i)
    .join('; ');
}

export function clip(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
