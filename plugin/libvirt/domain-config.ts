/**
 * `hmmv domain enable|disable|show`: reads a defined domain's persistent XML,
 * edits it (plugin/libvirt/domain-edit.ts) and defines it again.
 *
 * A running domain: libvirt cannot add a QMP socket to a running QEMU, so the
 * change goes into the persistent definition only and takes effect at the next
 * start; asking for a live change is refused.
 */
import { defaultQmpSocket } from '../runtime/paths.js';
import { LibvirtConnection } from './connection.js';
import { commandlineQmpSockets, disableTiering, enableTiering } from './domain-edit.js';
import { TIERING_DEFAULTS, TieringMetadataError, tieringFromDomainXml, validateTieringConfig, type Backend, type TieringConfig } from './tiering-metadata.js';
import { parseSize } from './units.js';
import { regionNameFor } from '../host/kmod/region-name.js';

/** What the user may set; every field optional (an enabled domain keeps what is not given). */
export interface TieringOptions {
  dram?: string;
  dramMin?: string;
  dramMax?: string;
  weight?: string;
  nvmNode?: string;
  devdax?: string;
  windowMs?: string;
  rounds?: string;
  rate?: string;
  backend?: string;
  qmpSocket?: string;
  poolSocket?: string;
}

export interface EditResult {
  domain: string;
  changed: boolean;
  running: boolean;
  config?: TieringConfig;
  notes: string[];
}

const LIVE_REFUSAL =
  'libvirt cannot apply this to a running domain (a QMP socket can only be given to QEMU at start): ' +
  'drop --live to change the persistent definition, which takes effect at the next start';

/** Merges `opts` onto `base` (the domain's current config, if any) and validates the result. */
export function mergeTieringOptions(domain: string, base: TieringConfig | undefined, opts: TieringOptions): TieringConfig {
  const problems: string[] = [];
  const sizeOpt = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const v = parseSize(text);
    if (typeof v === 'string') problems.push(`${flag}: ${v}`);
    return typeof v === 'number' ? v : undefined;
  };
  const intOpt = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text.trim())) problems.push(`${flag}: expected a non-negative integer, got '${text}'`);
    return Number(text);
  };
  const quota = sizeOpt('--dram', opts.dram) ?? base?.dram.quotaBytes;
  if (quota === undefined) problems.push('--dram: required when enabling a domain (e.g. --dram 2GiB)');
  if (opts.nvmNode !== undefined && opts.devdax !== undefined) problems.push('--nvm-node and --devdax: give one slow tier, not both');
  if (opts.backend !== undefined && !['linux', 'kmod', 'sim'].includes(opts.backend)) problems.push(`--backend: expected 'linux', 'kmod' or 'sim', got '${opts.backend}'`);
  const min = sizeOpt('--dram-min', opts.dramMin);
  const max = sizeOpt('--dram-max', opts.dramMax);
  const weight = intOpt('--weight', opts.weight);
  const nvmNode = intOpt('--nvm-node', opts.nvmNode);
  const windowMs = intOpt('--window-ms', opts.windowMs);
  const rounds = intOpt('--rounds', opts.rounds);
  const rate = sizeOpt('--rate', opts.rate);
  if (problems.length > 0) throw new TieringMetadataError(problems);

  const slowTier = nvmNode !== undefined ? { numaNode: nvmNode } : opts.devdax !== undefined ? { devdax: opts.devdax } : base?.slowTier;
  const quotaChanged = opts.dram !== undefined;
  const config: TieringConfig = {
    backend: (opts.backend as Backend | undefined) ?? base?.backend ?? 'sim',
    dram: {
      quotaBytes: quota!,
      minBytes: min ?? (quotaChanged ? Math.min(base?.dram.minBytes ?? 0, quota!) : base?.dram.minBytes ?? 0),
      maxBytes: max ?? (quotaChanged ? Math.max(base?.dram.maxBytes ?? quota!, quota!) : base?.dram.maxBytes ?? quota!),
      weight: weight ?? base?.dram.weight ?? TIERING_DEFAULTS.weight,
    },
    tracking: {
      windowMs: windowMs ?? base?.tracking.windowMs ?? TIERING_DEFAULTS.windowMs,
      rounds: rounds ?? base?.tracking.rounds ?? TIERING_DEFAULTS.rounds,
    },
    migration: { bytesPerSecond: rate ?? base?.migration.bytesPerSecond ?? TIERING_DEFAULTS.bytesPerSecond },
    qmp: { socket: opts.qmpSocket ?? base?.qmp.socket ?? defaultQmpSocket(domain) },
    pool: { socket: opts.poolSocket ?? base?.pool.socket ?? TIERING_DEFAULTS.poolSocket },
  };
  if (slowTier) config.slowTier = slowTier;
  const flagOf: Record<string, string> = {
    '/backend': '--backend',
    '/dram/quotaBytes': '--dram',
    '/dram/minBytes': '--dram-min',
    '/dram/maxBytes': '--dram-max',
    '/dram/weight': '--weight',
    '/slowTier': '--nvm-node/--devdax',
    '/slowTier/numaNode': '--nvm-node',
    '/slowTier/devdax': '--devdax',
    '/tracking/windowMs': '--window-ms',
    '/tracking/rounds': '--rounds',
    '/migration/bytesPerSecond': '--rate',
    '/qmp/socket': '--qmp-socket',
    '/pool/socket': '--pool-socket',
  };
  return validateTieringConfig(config, (p) => flagOf[p] ?? p);
}

/** The domain's current config; a broken one is reported as such but does not block enable/disable. */
function currentConfig(xml: string): { config?: TieringConfig; error?: TieringMetadataError } {
  try {
    const config = tieringFromDomainXml(xml);
    return config ? { config } : {};
  } catch (error) {
    if (error instanceof TieringMetadataError) return { error };
    throw error;
  }
}

export async function enableDomain(domain: string, opts: TieringOptions & { live?: boolean }, conn: LibvirtConnection): Promise<EditResult> {
  const running = await conn.isActive(domain);
  if (opts.live && running) throw new Error(`domain '${domain}' is running: ${LIVE_REFUSAL}`);
  const xml = await conn.inactiveXml(domain);
  const current = currentConfig(xml);
  const config = mergeTieringOptions(domain, current.config, opts);
  const notes: string[] = [];
  if (current.error) notes.push(`replaced invalid tiering metadata (${current.error.problems.join('; ')})`);
  const changed = current.config === undefined || canonical(current.config) !== canonical(config) || !xml.includes(config.qmp.socket);
  if (changed) await conn.define(enableTiering(xml, config));
  if (running && changed) notes.push(`domain '${domain}' is running: the change takes effect at its next start`);
  notes.push("libvirt reports the domain as tainted (custom-argv): hmmv's QMP socket is passed through <qemu:commandline>");
  if (config.backend === 'kmod') {
    notes.push(`guest RAM is hmmv.ko's region /dev/hmmv/${regionNameFor(domain)} (memory-backend-file hmmv-ram in <qemu:commandline>); the hook creates it at each start and frees it when QEMU exits`);
  }
  return { domain, changed, running, config, notes };
}

export async function disableDomain(domain: string, opts: { live?: boolean }, conn: LibvirtConnection): Promise<EditResult> {
  const running = await conn.isActive(domain);
  if (opts.live && running) throw new Error(`domain '${domain}' is running: ${LIVE_REFUSAL}`);
  const xml = await conn.inactiveXml(domain);
  const current = currentConfig(xml);
  const changed = current.config !== undefined || current.error !== undefined || hasOurArgs(xml);
  if (changed) await conn.define(disableTiering(xml));
  const notes = running && changed ? [`domain '${domain}' is running: its manager keeps running until the domain stops`] : [];
  return { domain, changed, running, notes };
}

/** A `-qmp unix:/run/hmmv/...` argument left behind without metadata. */
function hasOurArgs(xml: string): boolean {
  return commandlineQmpSockets(xml).some((s) => s.startsWith('/run/hmmv/'));
}

export async function showDomain(domain: string, conn: LibvirtConnection): Promise<{ domain: string; running: boolean; config?: TieringConfig }> {
  const running = await conn.isActive(domain);
  const config = tieringFromDomainXml(await conn.inactiveXml(domain));
  return config ? { domain, running, config } : { domain, running };
}

/** JSON with keys sorted at every level: the same config compares equal whatever order it was built in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
