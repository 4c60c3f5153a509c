/** `hmmv version` and `hmmv pool install-service|uninstall-service` (docs/deploying.md). */
import { Option, type Command } from 'commander';
import { POLICY_NAMES } from '../pool/policies.js';
import { installService, uninstallService, type ServiceInstallResult } from './service.js';
import { versionInfo, versionText } from './version.js';

function report(r: ServiceInstallResult): void {
  const lines = [...r.written.map((f) => (f.startsWith('removed ') ? f : `wrote ${f}`)), ...r.kept.map((f) => `kept ${f}`), ...r.steps];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function guarded<A extends unknown[]>(what: string, fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (error) {
      process.stderr.write(`hmmv ${what}: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

export function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description('the version, the pool protocol and metadata namespace it speaks, and where it is installed')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      process.stdout.write(opts.json ? `${JSON.stringify(versionInfo(), null, 2)}\n` : `${versionText()}\n`);
    });
}

export function registerServiceCommands(pool: Command): void {
  pool
    .command('install-service')
    .description('run the pool daemon as the systemd service hmmv-pool (unit, tmpfiles.d, logrotate, /etc/hmmv/pool.json), before libvirtd')
    .option('--dram <size>', 'DRAM the pool divides, for a new /etc/hmmv/pool.json (e.g. 64GiB)')
    .addOption(new Option('--policy <name>', 'how to divide it').choices([...POLICY_NAMES]))
    .option('--root <dir>', 'install under this directory instead of / and start nothing')
    .option('--no-start', 'write the files but do not run systemctl')
    .action(guarded('pool install-service', (opts: { dram?: string; policy?: string; root?: string; start: boolean }) => {
      report(installService({ ...opts, noStart: !opts.start }));
    }));
  pool
    .command('uninstall-service')
    .description('stop and remove the hmmv-pool service (keeps /etc/hmmv/pool.json)')
    .option('--root <dir>', 'remove from under this directory instead of /')
    .action(guarded('pool uninstall-service', (opts: { root?: string }) => report(uninstallService(opts))));
}
