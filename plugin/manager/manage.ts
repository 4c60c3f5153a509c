/**
 * `hmmv manage --domain NAME`: the per-domain manager the hook launches.
 *
 * Loads the tiering config (from the domain XML the hook saved, or from
 * libvirtd), connects to the manager's own QMP socket, discovers the guest RAM,
 * opens the configured memory host and runs its engine session until the guest
 * shuts down, the socket closes, or SIGTERM. The session joins the host's DRAM
 * pool daemon (the metadata's <hmmv:pool socket>, default /run/hmmv/pool.sock):
 * it reports every window and applies each pushed quota clamped to the
 * domain's min/max; without a daemon it runs on the static quota and retries
 * with backoff. On a clean stop it says goodbye, so its DRAM returns at once
 * (after a SIGKILL the daemon returns it after its grace period). Every step is logged as JSON and shown in
 * the status file. A failure never touches the guest: the manager records it
 * (state 'failed') and stays until the domain stops, so `hmmv status` shows it.
 */
import { readFileSync, rmSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { defaultEngineOptions } from '../engine/run.js';
import type { MemoryHost } from '../host/memory-host.js';
import { LibvirtConnection } from '../libvirt/connection.js';
import { tieringFromDomainXml } from '../libvirt/tiering-metadata.js';
import type { TieringConfig } from '../runtime/tiering-config.js';
import { startEngineSession, type EngineSession } from '../session/engine-session.js';
import { wallClock } from '../util/clock.js';
import { QmpClient, QmpCommands } from '../../qmp/index.js';
import { openBackend } from './backend.js';
import { registerSimBackend } from './sim-backend.js';
import { registerLinuxBackend } from './linux-backend.js';
import { registerKmodBackend } from './kmod-backend.js';
import { discoverGuest, type GuestInfo } from './guest-discovery.js';
import { TotalsRate, estimatedSlowdown } from './status-rates.js';
import { versionInfo } from '../install/version.js';
import { timedHost } from '../host/timed-host.js';
import { INCOMING_RUN_STATES, OutgoingMigrationWatch, gatedHost, waitUntilGuestRuns } from './live-migration.js';
import { incomingMarkerPath, pidfilePath } from '../runtime/paths.js';
import { removePidfileIfOwn } from '../runtime/pidfile.js';
import { writeStatus, type ManagerState, type ManagerStatus, type TieringStatus } from '../runtime/status-file.js';

export interface ManageOptions {
  domain: string;
  /** The domain XML saved by the hook; without it the manager asks libvirtd. */
  domainXmlFile?: string;
  /** How long to keep trying the QMP socket (QEMU may still be creating it). */
  connectTimeoutMs?: number;
}

async function loadConfig(opts: ManageOptions): Promise<TieringConfig> {
  const xml = opts.domainXmlFile
    ? readFileSync(opts.domainXmlFile, 'utf8')
    : await LibvirtConnection.with((c) => c.liveXml(opts.domain));
  const config = tieringFromDomainXml(xml);
  if (!config) throw new Error(`domain '${opts.domain}' has no hmmv tiering metadata: nothing to manage`);
  return config;
}

async function connectWithRetry(socket: string, timeoutMs: number, signal: AbortSignal): Promise<QmpClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await QmpClient.connect({ path: socket }, { greetingTimeoutMs: 5000 });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (Date.now() > deadline) throw new Error(`cannot connect to the QMP socket ${socket} within ${timeoutMs} ms: ${(error as Error).message}`, { cause: error });
      await wallClock.sleep(200e6, signal);
    }
  }
}

/** The time this host's hook accepted an incoming migration of the domain, once. */
function takeIncomingMarker(domain: string): string | undefined {
  try {
    const at = readFileSync(incomingMarkerPath(domain), 'utf8').trim();
    rmSync(incomingMarkerPath(domain), { force: true });
    return at || undefined;
  } catch {
    return undefined;
  }
}

function guestSummary(g: GuestInfo): NonNullable<ManagerStatus['guest']> {
  return { ramBytes: g.ramBytes, vcpus: g.vcpus.length, memdevs: g.memdevs.map((m) => m.id), ramBlocks: g.ramBlocks.map((b) => b.name) };
}

export async function runManager(opts: ManageOptions): Promise<number> {
  registerSimBackend();
  registerLinuxBackend();
  registerKmodBackend();
  const log: Logger = pino({ base: { domain: opts.domain, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: true }));
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'signal: stopping');
    stop.abort(new Error(`stopped by ${sig}`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const status: ManagerStatus = { domain: opts.domain, state: 'starting', since: new Date().toISOString(), pid: process.pid };
  const setState = (state: ManagerState, extra: Partial<ManagerStatus> = {}) => {
    Object.assign(status, extra, { state, since: new Date().toISOString() });
    writeStatus(status);
  };
  const fail = (what: string, error: unknown) => {
    const message = `${what}: ${(error as Error).message ?? String(error)}`;
    log.error({ err: error }, message);
    setState('failed', { error: message });
  };

  let client: QmpClient | undefined;
  let host: MemoryHost | undefined;
  let session: EngineSession | undefined;
  let migrationWatch: OutgoingMigrationWatch | undefined;
  let exitCode = 0;
  try {
    // The version tells, after an upgrade of hmmv, which code this manager runs (docs/deploying.md).
    log.info({ argv: process.argv.slice(2), version: versionInfo().version }, 'manager starting');
    const arrivedAt = takeIncomingMarker(opts.domain);
    const config = await loadConfig(opts);
    setState('connecting', { backend: config.backend, qmpSocket: config.qmp.socket });
    log.info({ config }, 'tiering config loaded');

    client = await connectWithRetry(config.qmp.socket, opts.connectTimeoutMs ?? 30000, stop.signal);
    const qmp = new QmpCommands(client);
    // An outgoing live migration holds page moves until it ends (live-migration.ts).
    migrationWatch = new OutgoingMigrationWatch((migrationStatus, state) => {
      log.info({ migration: migrationStatus }, state === 'in-progress' ? `outgoing live migration ${migrationStatus}: page migrations paused` : `outgoing live migration ${migrationStatus}${state === 'failed' ? ': page migrations resumed' : ''}`);
      status.migration = { direction: 'outgoing', status: migrationStatus, at: new Date().toISOString() };
      writeStatus(status);
    }).attach(client);
    // The guest going away ends the manager; a lost socket is the same for us.
    client.on('SHUTDOWN', (event: unknown) => {
      log.info({ event }, 'guest SHUTDOWN event: stopping');
      stop.abort(new Error('guest shut down'));
    });
    client.on('close', (error: Error | undefined) => {
      if (!stop.signal.aborted) log.info({ reason: error?.message }, 'QMP socket closed: stopping');
      stop.abort(new Error('QMP socket closed'));
    });

    const guest = await discoverGuest(qmp);
    const qemu: NonNullable<ManagerStatus['qemu']> = { version: guest.qemuVersion, runState: guest.runState };
    if (guest.qemuPid !== undefined) qemu.pid = guest.qemuPid;
    setState('connected', { qemu, guest: guestSummary(guest) });
    const ranges = guest.ranges.map((r) => ({ ...r, gpa: `0x${r.gpa.toString(16)}`, hva: r.hva === undefined ? undefined : `0x${r.hva.toString(16)}` }));
    log.info({ qmpSocket: config.qmp.socket, qemu, guest: { ...guestSummary(guest), ranges } }, 'qmp connected');
    if (guest.layoutError) log.warn({ error: guest.layoutError }, 'guest RAM layout unknown');
    if (INCOMING_RUN_STATES.has(guest.runState ?? '')) {
      log.info({ runState: guest.runState }, 'incoming live migration: waiting for the guest to run here');
      setState('connected', { migration: { direction: 'incoming', status: guest.runState ?? 'inmigrate', at: new Date().toISOString() } });
      migrationWatch.receiving(true);
      await waitUntilGuestRuns(client, qmp, stop.signal);
      migrationWatch.receiving(false);
      status.migration = { direction: 'incoming', status: 'completed', at: new Date().toISOString() };
      log.info('incoming live migration completed: the guest runs here');
    } else if (arrivedAt) {
      // libvirt runs `started` on the destination once the migration finished;
      // MIGRATION events seen since the connect were the incoming migration's.
      migrationWatch.receiving(false);
      status.migration = { direction: 'incoming', status: 'completed', at: arrivedAt };
      log.info({ acceptedAt: arrivedAt }, 'arrived by live migration: the guest runs here');
    }

    try {
      // timed outermost: a migrate held at the gate counts as the wait it is
      const timed = timedHost(gatedHost(await openBackend({ domain: opts.domain, config, guest }), migrationWatch, stop.signal));
      host = timed.host;
      const options = defaultEngineOptions(Math.floor(config.dram.quotaBytes / host.pageSizeBytes));
      options.roundsPerWindow = config.tracking.rounds;
      options.roundIntervalNs = (config.tracking.windowMs * 1e6) / config.tracking.rounds;
      options.migrationBytesPerSec = config.migration.bytesPerSecond;
      const page = host.pageSizeBytes;
      const poolSocket = config.pool.socket;
      let lastWrite = 0;
      const rates = new TotalsRate();
      const refresh = (): void => {
        if (!session) return;
        lastWrite = Date.now();
        status.tiering = tieringStatus(session, page, host!.pageCount, poolSocket, rates);
        status.engine = session.totals();
        status.hostCalls = timed.tallies();
        status.hostDiagnostics = host!.diagnostics?.();
        writeStatus(status);
      };
      session = startEngineSession({
        name: opts.domain,
        host,
        clock: wallClock,
        engine: options,
        bounds: { minPages: Math.floor(config.dram.minBytes / page), maxPages: Math.floor(config.dram.maxBytes / page), weight: config.dram.weight },
        pool: { kind: 'daemon', endpoint: { socketPath: poolSocket }, log: (msg) => log.info({ poolSocket }, msg) },
        signal: stop.signal,
        onWindow: () => {
          // Keep the status file fresh without rewriting it every window.
          if (Date.now() - lastWrite >= 1000) refresh();
        },
        onQuota: (q) => {
          if (q.source === 'clamped') log.warn({ quota: q }, `the pool asked for ${q.requestedPages} pages, outside this domain's bounds: applying ${q.pages}`);
          refresh();
        },
        onFailure: (error) => fail('engine stopped', error),
      });
      setState('running');
      refresh();
      log.info({ backend: host.kind, pages: host.pageCount, quotaPages: options.dramQuotaPages, bounds: session.bounds, poolSocket }, 'engine running');
    } catch (error) {
      // The guest is untouched: report and wait for the domain to stop.
      fail('tiering not started (the guest runs unmanaged)', error);
    }

    await new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      else stop.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } catch (error) {
    if (!stop.signal.aborted) {
      fail('manager failed', error);
      exitCode = 1;
    }
  } finally {
    const failed = status.state === 'failed';
    if (!failed) setState('stopping');
    if (!stop.signal.aborted) stop.abort(new Error('manager exiting'));
    if (session) {
      const totals = await session.done;
      if (totals) log.info({ totals: session.totals() }, 'engine stopped');
      await session.close();
    }
    await host?.close().catch((e: unknown) => log.warn({ err: e }, 'closing the memory host failed'));
    await client?.close().catch(() => undefined);
    // The guest went on running on the migration's destination: its manager there took over.
    if (migrationWatch?.outgoing().state === 'completed') status.stopReason = 'migrated';
    if (failed) writeStatus(status);
    else setState('stopped');
    removePidfileIfOwn(pidfilePath(opts.domain), process.pid);
    log.info({ reason: status.stopReason ?? (stop.signal.reason as Error | undefined)?.message, exitCode }, 'manager stopped');
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  return exitCode;
}

function tieringStatus(session: EngineSession, pageSizeBytes: number, pageCount: number, poolSocket: string, rates: TotalsRate): TieringStatus {
  const s = session.lastSnapshot();
  const totals = session.totals();
  const rate = rates.sample(totals, Date.now());
  const out: TieringStatus = {
    pageSizeBytes,
    pageCount,
    quota: { ...session.quota() },
    staticQuotaPages: session.staticQuotaPages,
    bounds: { ...session.bounds },
    pool: { socket: poolSocket, connected: session.poolConnected() ?? false },
  };
  if (s) {
    out.window = {
      index: s.window,
      at: new Date().toISOString(),
      dramPages: s.dramPages,
      nvmPages: s.nvmPages,
      hotSetPages: s.hotSetPages,
      migratedPagesPerSec: s.migratedPagesPerSec,
      promotedPerSec: rate.promotedPerSec,
      demotedPerSec: rate.demotedPerSec,
      slowdown: estimatedSlowdown(s),
    };
  }
  if (totals['windows'] !== undefined) out.windows = totals['windows'];
  const failures = session.engine.totals().lastFailures;
  if (failures.length > 0) out.lastError = failures[failures.length - 1]!;
  return out;
}
