#!/usr/bin/env node
/**
 * The `hmmv` command. Each area registers its own subcommands; this file only
 * assembles them.
 */
import { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Each area's subcommands, with the top-level names it registers. Only the
 * area a command line names is loaded (all of them for help or an unknown
 * name): loading every area costs ~300 modules, which is seconds under TCG and
 * slows the hook-launched manager and every operator command.
 */
const AREAS: [names: readonly string[], load: () => Promise<Register>][] = [
  [['domain', 'hooks'], async () => (await import('./libvirt/commands.js')).registerLibvirtCommands],
  [['manage', 'status'], async () => (await import('./manager/commands.js')).registerManagerCommands],
  [['trace'], async () => (await import('./sim/trace/commands.js')).registerTraceCommands],
  [['workloads'], async () => (await import('./sim/workloads/commands.js')).registerWorkloadCommands],
  [['sim'], async () => (await import('./sim/experiment/sim-command.js')).registerSimCommands],
  [['scenario'], async () => (await import('./sim/experiment/scenario-command.js')).registerScenarioCommands],
  [['qmp'], async () => (await import('../qmp/cli.js')).registerQmpCommands],
  [
    ['pool'],
    async () => {
      const [{ registerPoolCommands }, { registerServiceCommands }] = await Promise.all([import('./pool/commands.js'), import('./install/commands.js')]);
      return (program) => {
        registerPoolCommands(program);
        registerServiceCommands(program.commands.find((c) => c.name() === 'pool')!);
      };
    },
  ],
  [['host'], async () => (await import('./host/commands.js')).registerHostCommands],
  [['version'], async () => (await import('./install/commands.js')).registerVersionCommand],
];

const program = new Command();
program
  .name('hmmv')
  .description('HMM-V tiered-memory manager for QEMU/libvirt virtual machines')
  .option('-V, --version', 'the version, the pool protocol and metadata namespace it speaks, and where it is installed');

const args = process.argv.slice(2);
const named = args.find((a) => !a.startsWith('-'));
if (named === undefined && args.some((a) => a === '-V' || a === '--version')) {
  const { versionText } = await import('./install/version.js');
  process.stdout.write(`${versionText()}\n`);
  process.exit(0);
}
const wanted = AREAS.filter(([names]) => named !== undefined && names.includes(named));
for (const [, load] of wanted.length > 0 ? wanted : AREAS) (await load())(program);

await program.parseAsync(process.argv);
