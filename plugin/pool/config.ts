/**
 * The daemon's configuration: a JSON file (schemas/pool-config.schema.json)
 * and command-line overrides, validated together so an error names the field.
 */
import { readFileSync } from 'node:fs';
import type { PoolDaemonOptions } from './daemon.js';
import { schemaValidator } from '../util/schema-validators.js';
import { describeErrors } from './wire.js';
import type { PolicyName } from './policies.js';

export interface PoolConfigFile {
  poolPages: number;
  pageSizeBytes?: number;
  policy?: PolicyName;
  intervalMs?: number;
  hysteresisPages?: number;
  graceMs?: number;
  settleMs?: number;
  maxMessageBytes?: number;
  rateLimit?: { messagesPerSec?: number; burst?: number };
  latencyNs?: { dram?: number; nvm?: number };
  socketPath?: string;
  tcp?: { host?: string; port: number; token: string };
}

/** "64GiB", "512M", "1.5 TiB", "4096" (bytes) -> bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`size "${text}" is not a size (examples: 64GiB, 512M, 1073741824)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(parseFloat(m[1]!) * mult);
}

/** Validates a config object (defaults filled in) and turns it into daemon options. */
export function poolOptionsFromConfig(raw: unknown, where: string): PoolDaemonOptions {
  const cfg = structuredClone(raw) as PoolConfigFile;
  const validate = schemaValidator('pool-config');
  if (!validate(cfg)) throw new Error(`${where}: ${describeErrors(validate.errors, 'pool config')}`);
  const d = cfg as Required<PoolConfigFile>;
  return {
    poolPages: d.poolPages,
    pageSizeBytes: d.pageSizeBytes,
    policy: d.policy,
    intervalMs: d.intervalMs,
    hysteresisPages: d.hysteresisPages,
    graceMs: d.graceMs,
    settleMs: d.settleMs,
    maxMessageBytes: d.maxMessageBytes,
    rateLimit: { messagesPerSec: cfg.rateLimit?.messagesPerSec ?? 20, burst: cfg.rateLimit?.burst ?? 40 },
    latencyNs: { dram: cfg.latencyNs?.dram ?? 80, nvm: cfg.latencyNs?.nvm ?? 300 },
    socketPath: d.socketPath,
    ...(cfg.tcp ? { tcp: { host: cfg.tcp.host ?? '127.0.0.1', port: cfg.tcp.port, token: cfg.tcp.token } } : {}),
  };
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read pool config ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`pool config ${path} is not JSON: ${(err as Error).message}`);
  }
}
