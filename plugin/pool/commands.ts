/**
 * `hmmv pool` (the daemon) and `hmmv pool status`. `hmmv status` (in
 * plugin/manager/commands.ts) appends `poolStatusSection` to its domain list.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { poolOptionsFromConfig, parseSize, readConfigFile } from './config.js';
import { startPoolDaemon } from './daemon.js';
import { POLICY_NAMES } from './policies.js';
import { poolStatusSection } from './status.js';
import type { PoolEndpoint } from './client.js';
import { DEFAULT_POOL_SOCKET } from '../runtime/paths.js';

export { DEFAULT_POOL_SOCKET };

interface ServeFlags {
  config?: string;
  dram?: string;
  dramPages?: string;
  policy?: string;
  socket?: string;
  tcpPort?: string;
  tcpHost?: string;
  tokenFile?: string;
  intervalMs?: string;
  hysteresisPages?: string;
  graceMs?: string;
  settleMs?: string;
}

const int = (v: string, name: string): number => {
  if (!/^\d+$/.test(v)) throw new Error(`--${name} must be a whole number, not "${v}"`);
  return Number(v);
};

function readToken(file: string | undefined): string {
  if (file) return readFileSync(file, 'utf8').trim();
  const env = process.env['HMMV_POOL_TOKEN'];
  if (env) return env;
  throw new Error('--tcp-port needs a token: --token-file FILE or HMMV_POOL_TOKEN (at least 16 characters)');
}

/** Where `status` connects: the socket, or loopback TCP with the token. */
function endpointOf(flags: { socket?: string; url?: string; tokenFile?: string }): PoolEndpoint {
  if (flags.url) return { url: flags.url, token: readToken(flags.tokenFile) };
  return { socketPath: flags.socket ?? DEFAULT_POOL_SOCKET };
}

async function serve(flags: ServeFlags): Promise<void> {
  const raw: Record<string, unknown> = flags.config ? readConfigFile(flags.config) : {};
  const pageSize = typeof raw['pageSizeBytes'] === 'number' ? raw['pageSizeBytes'] : 4096;
  if (flags.dram !== undefined) raw['poolPages'] = Math.floor(parseSize(flags.dram) / pageSize);
  if (flags.dramPages !== undefined) raw['poolPages'] = int(flags.dramPages, 'dram-pages');
  if (raw['poolPages'] === undefined) throw new Error('the pool size is missing: give --dram SIZE (e.g. 64GiB), --dram-pages N, or poolPages in --config');
  if (flags.policy !== undefined) raw['policy'] = flags.policy;
  if (flags.socket !== undefined) raw['socketPath'] = flags.socket;
  if (flags.intervalMs !== undefined) raw['intervalMs'] = int(flags.intervalMs, 'interval-ms');
  if (flags.hysteresisPages !== undefined) raw['hysteresisPages'] = int(flags.hysteresisPages, 'hysteresis-pages');
  if (flags.graceMs !== undefined) raw['graceMs'] = int(flags.graceMs, 'grace-ms');
  if (flags.settleMs !== undefined) raw['settleMs'] = int(flags.settleMs, 'settle-ms');
  if (flags.tcpPort !== undefined)
    raw['tcp'] = { host: flags.tcpHost ?? '127.0.0.1', port: int(flags.tcpPort, 'tcp-port'), token: readToken(flags.tokenFile) };
  const opts = poolOptionsFromConfig(raw, flags.config ?? 'command line');
  const logger = pino({ name: 'hmmv-pool' }, pino.destination(2));
  const daemon = await startPoolDaemon({ ...opts, log: (m) => logger.info(m) });
  const tcp = daemon.tcpAddress;
  const where = `unix:${daemon.address.socketPath}${tcp ? ` and ${tcp.url} (dashboard: http${tcp.url.slice(2)}?token=…)` : ''}`;
  logger.info({ poolPages: opts.poolPages, policy: opts.policy }, `pool daemon listening on ${where}`);
  process.stdout.write(`hmmv pool: ${opts.poolPages} pages, policy ${opts.policy}, listening on ${where}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await daemon.close();
}

const statusFlags = (cmd: Command): Command =>
  cmd
    .option('--socket <path>', 'pool daemon socket', DEFAULT_POOL_SOCKET)
    .option('--url <ws-url>', 'pool daemon on loopback TCP instead (ws://127.0.0.1:PORT/)')
    .option('--token-file <file>', 'token for --url (or HMMV_POOL_TOKEN)')
    .option('--json', 'print the raw pool state as JSON');

async function status(flags: { socket?: string; url?: string; tokenFile?: string; json?: boolean }): Promise<void> {
  const section = await poolStatusSection(endpointOf(flags));
  process.stdout.write(flags.json ? `${JSON.stringify(section.state ?? null, null, 2)}\n` : `${section.text}\n`);
  if (!section.state) process.exitCode = 1;
}

export function registerPoolCommands(program: Command): void {
  const pool = program.command('pool').description('host-wide DRAM pool daemon shared by the per-domain managers');
  pool
    .command('serve', { isDefault: true })
    .description('run the pool daemon (the default of `hmmv pool`)')
    .option('--config <file>', 'JSON config (schemas/pool-config.schema.json)')
    .option('--dram <size>', 'DRAM the pool divides, e.g. 64GiB')
    .option('--dram-pages <n>', 'the same in pages')
    .addOption(new Option('--policy <name>', 'how to divide the pool').choices([...POLICY_NAMES]))
    .option('--socket <path>', `Unix socket, mode 0600 (default ${DEFAULT_POOL_SOCKET})`)
    .option('--tcp-port <port>', 'also listen on loopback TCP (needs a token): the dashboard for a browser')
    .option('--tcp-host <host>', 'loopback address for --tcp-port (127.0.0.1 or ::1)')
    .option('--token-file <file>', 'token for TCP clients (or HMMV_POOL_TOKEN)')
    .option('--interval-ms <ms>', 'time between reallocations')
    .option('--hysteresis-pages <n>', 'ignore quota changes smaller than this')
    .option('--grace-ms <ms>', 'how long a vanished manager keeps its DRAM')
    .option('--settle-ms <ms>', 'after start, how long quotas stay put while managers reconnect')
    .action(async (flags: ServeFlags) => {
      try {
        await serve(flags);
      } catch (err) {
        process.stderr.write(`hmmv pool: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
  statusFlags(pool.command('status').description('show the pool and each VM')).action(status);
}
