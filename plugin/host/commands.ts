/**
 * `hmmv host ...` subcommands: `hmmv host check` prints the linux backend's
 * capability probe for this host and exits 1 when the backend cannot run here.
 */
import type { Command } from 'commander';
import { formatProbe, probeHost } from './linux/probe.js';

export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('the memory host (the machine holding VM memory)');
  host
    .command('check')
    .description('probe this host for what the linux backend needs (DAMON vaddr, page_idle, soft-dirty, move_pages, NUMA nodes, THP)')
    .option('--json', 'print the report as JSON')
    .action((opts: { json?: boolean }) => {
      const report = probeHost();
      process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : formatProbe(report)) + '\n');
      if (!report.canRun) process.exitCode = 1;
    });
}
