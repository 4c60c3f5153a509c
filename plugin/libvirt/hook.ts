/**
 * The libvirt QEMU hook's logic: `hooks/qemu.ts` calls `runHook` with argv
 * (DOMAIN OP SUBOP EXTRA) and the domain XML libvirtd wrote to stdin.
 *
 *   prepare   validate the metadata; invalid -> non-zero exit, the error on
 *             stderr, and `virsh start` fails showing it
 *   started   launch the domain's manager, detached
 *   release   stop that manager
 *   reconnect (libvirtd restarted) launch the manager again unless it still runs
 *   migrate   (destination of a live migration) refuse, with the reason, when
 *             this host cannot honour the metadata (`migrate-check.ts`); libvirt
 *             then cancels the migration and the domain stays on its source
 *
 * A domain without hmmv metadata is left alone at once. The hook never calls
 * back into libvirtd (it would deadlock: libvirtd waits for the hook) and
 * returns fast.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchManager, stopManager } from '../runtime/launch.js';
import { QMP_DIR, RUN_DIR, domainXmlPath, incomingMarkerPath, pidfilePath, statusPath } from '../runtime/paths.js';
import { liveManager } from '../runtime/pidfile.js';
import { readStatus, writeStatus } from '../runtime/status-file.js';
import { prepareRegion, releaseRegion } from '../host/kmod/region-lifecycle.js';
import { commandlineArgs, commandlineQmpSockets, qmpServerArg } from './domain-edit.js';
import { checkKmodRam } from './kmod-ram.js';
import { TieringMetadataError, tieringFromDomainXml, type TieringConfig } from './tiering-metadata.js';
import { incomingMigrationProblems, type HostProbe } from './migrate-check.js';

export interface HookResult {
  code: number;
  /** What libvirtd shows the user when the hook fails (and logs otherwise). */
  stderr: string;
}

const ok = (stderr = ''): HookResult => ({ code: 0, stderr });

/** The domain's tiering config, with the check that its QMP socket is actually given to QEMU. */
function configOf(domain: string, xml: string): TieringConfig | undefined {
  const config = tieringFromDomainXml(xml);
  if (!config) return undefined;
  if (!commandlineQmpSockets(xml).includes(config.qmp.socket)) {
    throw new TieringMetadataError([
      `<hmmv:qmp> attribute socket: '${config.qmp.socket}' is not passed to QEMU; the domain needs ` +
        `<qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='${qmpServerArg(config.qmp.socket)}'/></qemu:commandline> ` +
        `(run 'hmmv domain enable ${domain}' to add it)`,
    ]);
  }
  return config;
}

export async function runHook(argv: readonly string[], stdinXml: string, probe?: HostProbe): Promise<HookResult> {
  const [domain, op, subop] = argv;
  if (!domain || !op) return { code: 2, stderr: 'hmmv hook: expected arguments DOMAIN OP SUBOP EXTRA (as libvirtd passes them)\n' };
  if (!['prepare', 'started', 'release', 'reconnect', 'migrate'].includes(op)) return ok();

  if (op === 'release') {
    // Stop a manager even if the metadata was removed while the domain ran.
    const stopped = await stopManager(domain);
    const reason = readStatus(domain)?.stopReason;
    for (const f of [statusPath(domain), domainXmlPath(domain), incomingMarkerPath(domain)]) rmSync(f, { force: true });
    // QEMU has exited (its pages are freed with its mapping): the region goes too.
    const region = kmodBackendOf(stdinXml) && releaseRegion(domain) === 'removed' ? `hmmv: hmmv.ko region of '${domain}' removed\n` : '';
    if (stopped === 'not-running') return ok((reason ? `hmmv: manager of '${domain}' had stopped (${reason})\n` : '') + region);
    return ok(`hmmv: manager of '${domain}' ${stopped}${reason ? ` (${reason})` : ''}\n${region}`);
  }

  let config: TieringConfig | undefined;
  try {
    config = configOf(domain, stdinXml);
  } catch (error) {
    const message = `hmmv: domain '${domain}': ${(error as Error).message}\n`;
    if (op === 'prepare') return { code: 1, stderr: message };
    if (op === 'migrate') return { code: 1, stderr: `hmmv: refusing the incoming migration of '${domain}': ${(error as Error).message}\n` };
    // Past prepare the domain is already running: never fail it, record why it is unmanaged.
    writeStatus({ domain, state: 'failed', since: new Date().toISOString(), error: (error as Error).message });
    return ok(message);
  }
  if (!config) return ok();

  if (op === 'migrate') {
    const problems = await incomingMigrationProblems(config, probe);
    if (problems.length === 0) {
      mkdirSync(RUN_DIR, { recursive: true });
      writeFileSync(incomingMarkerPath(domain), `${new Date().toISOString()}\n`);
      return ok();
    }
    return { code: 1, stderr: `hmmv: refusing the incoming migration of '${domain}': this host cannot honour its tiering metadata: ${problems.join('; ')}\n` };
  }

  if (op === 'prepare') {
    // QEMU creates the socket at start: its folder must exist (/run is a tmpfs).
    mkdirSync(path.dirname(config.qmp.socket), { recursive: true });
    mkdirSync(QMP_DIR, { recursive: true });
    if (config.backend !== 'kmod') return ok();
    // Guest RAM on hmmv.ko: the region QEMU will map must exist before it starts.
    try {
      const { ramBytes, problems } = checkKmodRam(domain, stdinXml, commandlineArgs(stdinXml));
      if (problems.length > 0) throw new TieringMetadataError(problems);
      const region = prepareRegion({ domain, ramBytes, dramQuotaBytes: config.dram.quotaBytes, slowTier: config.slowTier! });
      return ok(`hmmv: hmmv.ko region ${region.path} ready (${ramBytes} bytes, slow tier ${region.nvm})\n${region.notes.map((n) => `hmmv: ${n}\n`).join('')}`);
    } catch (error) {
      return { code: 1, stderr: `hmmv: domain '${domain}': ${(error as Error).message}\n` };
    }
  }

  // started / reconnect
  if (op === 'reconnect' && liveManager(pidfilePath(domain))) return ok();
  if (op === 'started') await stopManager(domain);
  mkdirSync(RUN_DIR, { recursive: true });
  // The XML may hold secrets (e.g. graphics passwords): root only.
  writeFileSync(domainXmlPath(domain), stdinXml, { mode: 0o600 });
  writeStatus({ domain, state: 'starting', since: new Date().toISOString(), backend: config.backend, qmpSocket: config.qmp.socket });
  const record = launchManager(domain, domainXmlPath(domain));
  return ok(`hmmv: ${op} ${subop ?? ''}: manager of '${domain}' launched (pid ${record.pid})\n`);
}

/** Whether the domain's metadata says backend='kmod' (a broken element says no). */
function kmodBackendOf(xml: string): boolean {
  try {
    return tieringFromDomainXml(xml)?.backend === 'kmod';
  } catch {
    return false;
  }
}
