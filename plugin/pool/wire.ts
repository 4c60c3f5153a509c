/**
 * The pool's wire protocol: JSON messages over a WebSocket, one message per
 * frame, validated against schemas/pool-*.schema.json (validators precompiled
 * at build time, see plugin/util/schema-validators.ts). A refused
 * message yields an error naming what was wrong; it never throws.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { schemaValidator, type SchemaName } from '../util/schema-validators.js';
import type { PolicyName } from './policies.js';
import type { CurveSegment } from './curve.js';

export const PROTOCOL_VERSION = 1;

export interface HelloMessage {
  type: 'hello';
  protocol: 1;
  domain: string;
  uuid?: string;
  pageCount: number;
  pageSizeBytes: number;
  /** The quota from the domain's metadata: what the manager runs on without a pool. */
  staticQuotaPages: number;
  /** The quota the manager applies now (lets a restarted daemon rebuild its state). */
  currentQuotaPages: number;
  minPages?: number;
  maxPages?: number;
  weight?: number;
  /** Pages the manager's migrator can move per second. */
  migrationPagesPerSec: number;
}

export interface ReportMessage {
  type: 'report';
  seq: number;
  dramPages: number;
  nvmPages: number;
  quotaPages: number;
  hotSetPages: number;
  curve: CurveSegment[];
  histogram: number[];
  dramHistogram?: number[];
  accessesPerSec: number;
  dramAccessesPerSec: number;
  migratedPagesPerSec: number;
  slowdown?: number;
}

export type ClientMessage = HelloMessage | ReportMessage | { type: 'bye' } | { type: 'subscribe' } | { type: 'status' };

export type ErrorCode =
  | 'bad-json'
  | 'invalid'
  | 'too-large'
  | 'rate-limited'
  | 'not-joined'
  | 'already-joined'
  | 'page-size'
  | 'replaced'
  | 'internal';

export interface VmView {
  domain: string;
  connected: boolean;
  graceLeftMs?: number;
  pageCount: number;
  quotaPages: number;
  targetPages: number;
  staticQuotaPages: number;
  /** The VM's bounds in the pool (from its hello: max capped by its size) and its weight. */
  minPages: number;
  maxPages: number;
  weight: number;
  dramPages: number;
  nvmPages: number;
  hotSetPages: number;
  histogram: number[];
  accessesPerSec: number;
  dramAccessesPerSec: number;
  migratedPagesPerSec: number;
  slowdown: number;
  reports: number;
}

export interface PoolStateMessage {
  type: 'state';
  timeMs: number;
  poolPages: number;
  pageSizeBytes: number;
  policy: PolicyName;
  allocatedPages: number;
  epoch: number;
  vms: VmView[];
}

export type ServerMessage =
  | { type: 'welcome'; protocol: 1; poolPages: number; policy: PolicyName; quotaPages: number; graceMs?: number }
  | { type: 'quota'; quotaPages: number; epoch: number }
  | { type: 'error'; code: ErrorCode; message: string }
  | PoolStateMessage;

/** The directory holding package.json (schemas/ and the dashboard live beside it). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`hmmv package root (with schemas/) not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** One line naming where and what: `/report/curve/3/1 must be >= 0`. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined, what: string): string {
  const e = errors?.[0];
  if (!e) return `${what} is invalid`;
  const where = e.instancePath === '' ? what : `${what} field ${e.instancePath.slice(1)}`;
  const p = e.params as Record<string, unknown>;
  let detail = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') detail = `has unknown field "${String(p['additionalProperty'])}"`;
  else if (e.keyword === 'required') detail = `lacks required field "${String(p['missingProperty'])}"`;
  else if (e.keyword === 'discriminator') detail = `has unknown or missing "type" ${JSON.stringify(p['tagValue'] ?? null)}`;
  else if (e.keyword === 'const' || e.keyword === 'enum') detail = `${detail}: ${JSON.stringify(p['allowedValue'] ?? p['allowedValues'])}`;
  return `${where} ${detail}`;
}

export type Parsed<T> = { ok: true; msg: T } | { ok: false; code: ErrorCode; message: string };

/** Parses and validates one frame with the given schema. */
export function parseMessage<T>(schema: SchemaName, data: string | Buffer, maxBytes: number): Parsed<T> {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > maxBytes) return { ok: false, code: 'too-large', message: `message of ${size} bytes is over the limit of ${maxBytes} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'bad-json', message: `message is not JSON: ${(err as Error).message}` };
  }
  const validate = schemaValidator(schema);
  if (!validate(value)) {
    const kind = value && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string' ? `"${(value as { type: string }).type}" message` : 'message';
    return { ok: false, code: 'invalid', message: describeErrors(validate.errors, kind) };
  }
  return { ok: true, msg: value as T };
}

export const parseClientMessage = (data: string | Buffer, maxBytes: number): Parsed<ClientMessage> =>
  parseMessage<ClientMessage>('pool-client-message', data, maxBytes);

export const parseServerMessage = (data: string | Buffer, maxBytes = 64 << 20): Parsed<ServerMessage> =>
  parseMessage<ServerMessage>('pool-server-message', data, maxBytes);
