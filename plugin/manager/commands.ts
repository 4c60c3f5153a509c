/** `hmmv manage` (run by the libvirt hook) and `hmmv status`. */
import type { Command } from 'commander';
import { runManager } from './manage.js';
import { listManagedDomains, type DomainStatusRow } from '../runtime/status-file.js';
import { logPath } from '../runtime/paths.js';
import { DEFAULT_POOL_SOCKET } from '../pool/commands.js';
import { poolStatusSection } from '../pool/status.js';

function formatRow(r: DomainStatusRow): string {
  const ram = r.guest ? `${(r.guest.ramBytes / 2 ** 20).toFixed(0)}MiB/${r.guest.vcpus}vcpu` : '-';
  const cols = [r.domain, r.state, r.managerAlive ? String(r.pid) : '-', r.backend ?? '-', r.qemu?.pid ? String(r.qemu.pid) : '-', ram];
  return cols.join('\t') + (r.error ? `\n\terror: ${r.error}\n\tlog: ${logPath(r.domain)}` : '');
}

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
    .description('list the domains hmmv manages and the state of their managers')
    .option('--json', 'print JSON (the domains; `hmmv pool status --json` has the pool)')
    .option('--pool-socket <path>', 'the DRAM pool daemon\'s socket', DEFAULT_POOL_SOCKET)
    .action(async (opts: { json?: boolean; poolSocket: string }) => {
      const rows = listManagedDomains();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const pool = (await poolStatusSection({ socketPath: opts.poolSocket }, 2000)).text;
      if (rows.length === 0) {
        process.stdout.write(`no managed domains\n\n${pool}\n`);
        return;
      }
      process.stdout.write(['DOMAIN\tSTATE\tMANAGER\tBACKEND\tQEMU\tGUEST', ...rows.map(formatRow)].join('\n') + `\n\n${pool}\n`);
    });
}
