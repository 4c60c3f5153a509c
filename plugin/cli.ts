#!/usr/bin/env node
/**
 * The `hmmv` command. Each area registers its own subcommands; this file only
 * assembles them.
 */
import { Command } from 'commander';
import { registerHostCommands } from './host/commands.js';

const program = new Command();
program
  .name('hmmv')
  .description('HMM-V tiered-memory manager for QEMU/libvirt virtual machines')
  .version('0.1.0');

registerHostCommands(program);

await program.parseAsync(process.argv);
