/** `hmmv manage` (run by the libvirt hook) and `hmmv status`. */
import type { Command } from 'commander';
import { runManager } from './manage.js';
import { listManagedDomains } from '../runtime/status-file.js';
import { DEFAULT_POOL_SOCKET } from '../runtime/paths.js';
import { poolStatusSection } from '../pool/status.js';
import { statusJson, statusTable } from './status-view.js';
import { watchStatus } from './status-watch.js';

export function registerManagerCommands(program: Command): void {
  program
    .command('manage')
    .description('run the tiering manager of one running domain (the libvirt hook starts it)')
    .requiredOption('--domain <name>', 'libvirt domain name')
    .option('--domain-xml <file>', 'domain XML to read the tiering metadata from (default: ask libvirtd)')
    .action(async (opts: { domain: string; domainXml?: string }) => {
      process.exitCode = await runManager(opts.domainXml ? { domain: opts.domain, domainXmlFile: opts.domainXml } : { domain: opts.domain });
    });

  program
    .command('status')
    .description('per managed domain: manager state, DRAM quota in force and its source (pool, static, clamped), DRAM/NVM in use, hot set, migrations, promotions and demotions per second, estimated slowdown, windows run, last error; then the pool')
    .option('--json', 'print the domains as JSON (the same fields; `hmmv pool status --json` has the pool)')
    .option('--pool-socket <path>', "the DRAM pool daemon's socket", DEFAULT_POOL_SOCKET)
    .option('-w, --watch', 'redraw every second, like top (Ctrl-C quits)')
    .option('--interval <seconds>', 'seconds between redraws with --watch', '1')
    .option('--count <n>', 'with --watch: stop after this many redraws')
    .action(async (opts: { json?: boolean; poolSocket: string; watch?: boolean; interval: string; count?: string }) => {
      try {
        await status(opts);
      } catch (error) {
        process.stderr.write(`hmmv status: ${(error as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}

/** One status, or the watch loop. */
async function status(opts: { json?: boolean; poolSocket: string; watch?: boolean; interval: string; count?: string }): Promise<void> {
  const frame = async (): Promise<string> => {
    const rows = listManagedDomains();
    const pool = (await poolStatusSection({ socketPath: opts.poolSocket }, 2000)).text;
    return `${rows.length === 0 ? 'no managed domains' : statusTable(rows)}\n\n${pool}`;
  };
  if (opts.json) {
    if (opts.watch) throw new Error('--json and --watch do not go together: use --json in a loop');
    process.stdout.write(`${JSON.stringify(statusJson(listManagedDomains()), null, 2)}\n`);
    return;
  }
  if (!opts.watch) {
    process.stdout.write(`${await frame()}\n`);
    return;
  }
  const interval = Number(opts.interval);
  if (!(interval >= 0.1)) throw new Error(`--interval must be a number of seconds, at least 0.1, not '${opts.interval}'`);
  const count = opts.count === undefined ? undefined : Number(opts.count);
  if (count !== undefined && !(Number.isInteger(count) && count > 0)) throw new Error(`--count must be a whole number above 0, not '${opts.count}'`);
  await watchStatus({ render: frame, intervalMs: interval * 1000, ...(count !== undefined ? { count } : {}) });
}
