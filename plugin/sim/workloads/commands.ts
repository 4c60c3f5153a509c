/** `hmmv workloads`: the workload kinds of the simulated machine and their parameters. */
import type { Command } from 'commander';
import { WORKLOAD_KINDS } from './index.js';

export function registerWorkloadCommands(program: Command): void {
  program
    .command('workloads')
    .description('list the workload kinds of the simulated machine with their parameters and defaults')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        process.stdout.write(JSON.stringify(WORKLOAD_KINDS, null, 2) + '\n');
        return;
      }
      const lines: string[] = [];
      for (const k of WORKLOAD_KINDS) {
        lines.push(`${k.kind}: ${k.description}`);
        for (const p of k.params) {
          const def = p.default === undefined ? 'derived' : String(p.default);
          lines.push(`    ${p.name} (default ${def}): ${p.description}`);
        }
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
