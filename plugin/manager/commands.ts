/** `hmmv manage` (run by the libvirt hook) and `hmmv status`. */
import type { Command } from 'commander';
import { runManager } from './manage.js';
import { listManagedDomains } from '../runtime/status-file.js';
import { DEFAULT_POOL_SOCKET } from '../runtime/paths.js';
import { poolStatusSection } from '../pool/status.js';
import { statusJson, statusTable } from './status-view.js';

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
    .description('per managed domain: manager state, DRAM quota in force and its source (pool, static, clamped), DRAM/NVM in use, hot set, migrations/s; then the pool')
    .option('--json', 'print the domains as JSON (the same fields; `hmmv pool status --json` has the pool)')
    .option('--pool-socket <path>', "the DRAM pool daemon's socket", DEFAULT_POOL_SOCKET)
    .action(async (opts: { json?: boolean; poolSocket: string }) => {
      const rows = listManagedDomains();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(statusJson(rows), null, 2)}\n`);
        return;
      }
      const pool = (await poolStatusSection({ socketPath: opts.poolSocket }, 2000)).text;
      process.stdout.write(`${rows.length === 0 ? 'no managed domains' : statusTable(rows)}\n\n${pool}\n`);
    });
}
