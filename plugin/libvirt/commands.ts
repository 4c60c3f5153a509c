/** `hmmv domain enable|disable|show` and `hmmv hooks install|uninstall`. */
import type { Command } from 'commander';
import { DEFAULT_POOL_SOCKET } from '../runtime/paths.js';
import { LibvirtConnection } from './connection.js';
import { disableDomain, enableDomain, showDomain, type EditResult, type TieringOptions } from './domain-config.js';
import { installHook, uninstallHook, type HookInstallResult } from './hook-install.js';
import { tieringNode } from './tiering-metadata.js';
import { buildXml } from './xml-tree.js';

/** Runs a command body; an error becomes one clear line on stderr and exit code 1. */
export function guarded<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      process.stderr.write(`hmmv: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

function report(r: EditResult, verb: string): void {
  process.stdout.write(`${r.changed ? `${verb} hmmv tiering for` : 'no change to'} domain '${r.domain}'\n`);
  for (const note of r.notes) process.stdout.write(`note: ${note}\n`);
}

function reportHook(r: HookInstallResult, verb: string): void {
  process.stdout.write(`${r.changed ? verb : 'unchanged'}: ${r.path}\n${r.runs ? `it runs: ${r.runs}\n` : ''}${r.daemon}\n`);
  if (r.note) process.stderr.write(`note: ${r.note}\n`);
}

export function registerLibvirtCommands(program: Command): void {
  const domain = program.command('domain').description("edit a libvirt domain's hmmv tiering metadata");
  domain
    .command('enable <domain>')
    .description('add (or update) tiering metadata and the manager QMP socket to a defined domain')
    .option('--dram <size>', 'DRAM quota, e.g. 2GiB (required the first time)')
    .option('--dram-min <size>', 'least DRAM the pool may leave this VM')
    .option('--dram-max <size>', 'most DRAM the pool may give this VM')
    .option('--weight <n>', 'pool weight 1..10000')
    .option('--nvm-node <n>', 'slow tier: a host NUMA node')
    .option('--devdax <path>', 'slow tier: a devdax device, e.g. /dev/dax0.0')
    .option('--window-ms <ms>', 'tracking window length')
    .option('--rounds <n>', 'scan rounds per window')
    .option('--rate <size>', 'migration rate limit per second, e.g. 256MiB')
    .option('--backend <name>', "memory host: 'linux' (stock kernel), 'kmod' (guest RAM on hmmv.ko; with --devdax or --nvm-node) or 'sim' (dry run; default)")
    .option('--qmp-socket <path>', "the manager's QMP socket (default /run/hmmv/qmp/DOMAIN.sock)")
    .option('--pool-socket <path>', `the DRAM pool daemon to join (default ${DEFAULT_POOL_SOCKET})`)
    .option('--live', 'refuse unless the change can apply to the running domain now')
    .action(guarded(async (name: string, opts: TieringOptions & { live?: boolean }) => {
      report(await LibvirtConnection.with((c) => enableDomain(name, opts, c)), 'enabled');
    }));
  domain
    .command('disable <domain>')
    .description('remove the tiering metadata and the manager QMP socket')
    .option('--live', 'refuse unless the change can apply to the running domain now')
    .action(guarded(async (name: string, opts: { live?: boolean }) => {
      report(await LibvirtConnection.with((c) => disableDomain(name, opts, c)), 'disabled');
    }));
  domain
    .command('show <domain>')
    .description("print the domain's parsed tiering config (persistent definition)")
    .option('--json', 'print the parsed form as JSON')
    .action(guarded(async (name: string, opts: { json?: boolean }) => {
      const shown = await LibvirtConnection.with((c) => showDomain(name, c));
      if (opts.json) process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      else if (!shown.config) process.stdout.write(`domain '${name}' has no hmmv tiering metadata\n`);
      else process.stdout.write(`domain '${name}' (${shown.running ? 'running' : 'shut off'}):\n${buildXml([tieringNode(shown.config)]).trim()}\n`);
    }));

  const hooks = program.command('hooks').description("install hmmv's libvirt QEMU hook");
  hooks
    .command('install')
    .description('install the hook into /etc/libvirt/hooks/qemu.d/hmmv, running this copy of hmmv (refused if a non-root user could change it)')
    .option('--dir <dir>', 'hook directory', '/etc/libvirt/hooks/qemu.d')
    .option('--reload', 'send libvirtd SIGHUP so it sees the hook now')
    .action(guarded((opts: { dir: string; reload?: boolean }) => reportHook(installHook(opts), 'installed')));
  hooks
    .command('uninstall')
    .description('remove the hook')
    .option('--dir <dir>', 'hook directory', '/etc/libvirt/hooks/qemu.d')
    .option('--reload', 'send libvirtd SIGHUP so it forgets the hook now')
    .action(guarded((opts: { dir: string; reload?: boolean }) => reportHook(uninstallHook(opts), 'removed')));
}
