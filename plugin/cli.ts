#!/usr/bin/env node
/**
 * The `hmmv` command. Each area registers its own subcommands; this file only
 * assembles them.
 */
import { Command } from 'commander';
import { registerHostCommands } from './host/commands.js';
import { registerLibvirtCommands } from './libvirt/commands.js';
import { registerManagerCommands } from './manager/commands.js';
import { registerQmpCommands } from '../qmp/cli.js';
import { registerSimCommands } from './sim/experiment/sim-command.js';
import { registerScenarioCommands } from './sim/experiment/scenario-command.js';
import { registerTraceCommands } from './sim/trace/commands.js';
import { registerWorkloadCommands } from './sim/workloads/commands.js';
import { registerPoolCommands } from './pool/commands.js';
import { versionText } from './install/version.js';
import { registerServiceCommands, registerVersionCommand } from './install/commands.js';

const program = new Command();
program
  .name('hmmv')
  .description('HMM-V tiered-memory manager for QEMU/libvirt virtual machines')
  .option('-V, --version', 'the version, the pool protocol and metadata namespace it speaks, and where it is installed')
  .on('option:version', () => {
    process.stdout.write(`${versionText()}\n`);
    process.exit(0);
  });

registerLibvirtCommands(program);
registerManagerCommands(program);
registerTraceCommands(program);
registerWorkloadCommands(program);
registerSimCommands(program);
registerScenarioCommands(program);
registerQmpCommands(program);
registerPoolCommands(program);
registerServiceCommands(program.commands.find((c) => c.name() === 'pool')!);
registerHostCommands(program);
registerVersionCommand(program);

await program.parseAsync(process.argv);
