/**
 * `hmmv qmp ...`: talk to a QEMU QMP socket by hand (debugging a manager's
 * view of a VM). Output is JSON on stdout; errors go to stderr, exit code 1.
 */
import type { Command } from 'commander';
import { QmpClient } from './client.js';
import { QmpCommands } from './commands.js';
import type { QmpAddress } from './types.js';

interface ConnectionFlags {
  socket?: string;
  tcp?: string;
  timeout: string;
}

function parseAddress(flags: ConnectionFlags): QmpAddress {
  if (flags.socket && flags.tcp) throw new Error('give either --socket or --tcp, not both');
  if (flags.socket) return { path: flags.socket };
  if (flags.tcp) {
    const m = /^(.+):(\d+)$/.exec(flags.tcp);
    if (!m) throw new Error(`--tcp must be HOST:PORT, got '${flags.tcp}'`);
    return { host: m[1]!, port: Number(m[2]) };
  }
  throw new Error('missing --socket PATH (or --tcp HOST:PORT) of the QMP server');
}

function parseTimeout(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`--timeout must be a whole number of milliseconds, got '${text}'`);
  return ms;
}

async function withClient<T>(flags: ConnectionFlags, work: (qmp: QmpCommands) => Promise<T>): Promise<void> {
  const address = parseAddress(flags);
  const timeoutMs = parseTimeout(flags.timeout);
  const client = await QmpClient.connect(address, { greetingTimeoutMs: timeoutMs || 5000, commandTimeoutMs: timeoutMs });
  try {
    const result = await work(new QmpCommands(client));
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    await client.close();
  }
}

function fail(error: unknown): void {
  process.stderr.write(`hmmv qmp: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

function connectionOptions(cmd: Command): Command {
  return cmd
    .option('-s, --socket <path>', 'QMP unix socket')
    .option('--tcp <host:port>', 'QMP TCP address')
    .option('-t, --timeout <ms>', 'per-command timeout, 0 = none', '10000');
}

export function registerQmpCommands(program: Command): void {
  const qmp = program.command('qmp').description('talk to a QEMU QMP socket');

  connectionOptions(qmp.command('run'))
    .description('run one QMP command and print its return value')
    .argument('<command>', 'QMP command name, e.g. query-status')
    .argument('[arguments]', 'command arguments as a JSON object')
    .action((command: string, argsText: string | undefined, flags: ConnectionFlags) =>
      withClient(flags, async (q) => {
        let args: Record<string, unknown> | undefined;
        if (argsText !== undefined) {
          try {
            args = JSON.parse(argsText) as Record<string, unknown>;
          } catch (error) {
            throw new Error(`arguments for '${command}' are not valid JSON: ${(error as Error).message}`);
          }
          if (typeof args !== 'object' || args === null || Array.isArray(args)) {
            throw new Error(`arguments for '${command}' must be a JSON object, got ${argsText}`);
          }
        }
        return q.run(command, args);
      }).catch(fail),
    );

  connectionOptions(qmp.command('ram-map'))
    .description('print the guest-physical RAM map: ranges → RAM block, offset and QEMU host address (info ramblock, info mtree -f, gpa2hva)')
    .action((flags: ConnectionFlags) =>
      withClient(flags, async (q) => {
        const layout = await q.guestRamLayout({ hostAddresses: true });
        return { ramBlocks: layout.ramBlocks, ranges: layout.ranges };
      }).catch(fail),
    );

  connectionOptions(qmp.command('info'))
    .description('QEMU version, run state, memory backends, memory devices, NUMA nodes and vCPU threads')
    .action((flags: ConnectionFlags) =>
      withClient(flags, async (q) => ({
        version: q.greeting.version,
        status: await q.queryStatus(),
        memdevs: await q.queryMemdev(),
        memoryDevices: await q.queryMemoryDevices(),
        numa: await q.queryNuma(),
        cpus: await q.queryCpusFast(),
      })).catch(fail),
    );
}
