/**
 * `hmmv host ...` subcommands: `hmmv host check` prints what each real
 * backend needs and whether this host has it: the linux backend's capability
 * probe and hmmv.ko (the kmod backend). It exits 1 when neither can run here.
 */
import type { Command } from 'commander';
import { formatKmodProbe, probeKmod } from './kmod/probe.js';
import { formatProbe, probeHost } from './linux/probe.js';

export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('the memory host (the machine holding VM memory)');
  host
    .command('check')
    .description('probe this host for the linux backend (DAMON vaddr, page_idle, soft-dirty, move_pages, NUMA nodes, THP) and the kmod backend (hmmv.ko, devdax devices)')
    .option('--json', 'print the reports as JSON ({ linux, kmod })')
    .action((opts: { json?: boolean }) => {
      const linux = probeHost();
      const kmod = probeKmod();
      const text = opts.json
        ? JSON.stringify({ linux, kmod }, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2)
        : `${formatProbe(linux)}\n\n${formatKmodProbe(kmod)}`;
      process.stdout.write(text + '\n');
      if (!linux.canRun && !kmod.ready) process.exitCode = 1;
    });
}
