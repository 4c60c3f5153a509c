/**
 * `hmmv trace ...`: convert valgrind lackey output into a trace, and show a
 * trace's header and size.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { convertLackey } from './lackey.js';
import { readTraceFile } from './reader.js';

export function registerTraceCommands(program: Command): void {
  const trace = program.command('trace').description('memory traces for the simulated machine (docs/trace-format.md)');

  trace
    .command('convert')
    .description(
      'convert valgrind lackey output (stdin) into a trace file, e.g.\n' +
        '  valgrind --tool=lackey --trace-mem=yes --log-fd=9 sort in.txt 9>&1 >/dev/null 2>&1 \\\n' +
        '    | hmmv trace convert -o sort.trace.gz --name sort',
    )
    .requiredOption('-o, --output <file>', 'trace file to write (gzip if it ends in .gz)')
    .option('-n, --name <name>', 'trace name in the header (default: the output file name)')
    .option('-e, --epoch-accesses <n>', 'recorded accesses per epoch', positiveInt, 100_000)
    .option('-c, --cache-kib <kib>', 'record only misses of an LRU cache of this many KiB (0: every access)', nonNegativeInt, 0)
    .option('--include-instructions', 'also record instruction fetches as reads', false)
    .option('--ns-per-instruction <ns>', 'CPU time per instruction, for cpu_ns_per_op', nonNegativeNumber, 0.33)
    .action(async (opts: { output: string; name?: string; epochAccesses: number; cacheKib: number; includeInstructions: boolean; nsPerInstruction: number }, cmd: Command) => {
      const name = opts.name ?? defaultName(opts.output);
      try {
        const s = await convertLackey(process.stdin, opts.output, {
          name,
          epochAccesses: opts.epochAccesses,
          cacheKib: opts.cacheKib,
          includeInstructions: opts.includeInstructions,
          nsPerInstruction: opts.nsPerInstruction,
        });
        process.stderr.write(
          `${opts.output}: ${s.lines} lackey lines, ${s.instructions} instructions, ${s.accesses} accesses recorded, ${s.pages} pages, ${s.epochs} epochs\n`,
        );
      } catch (err) {
        cmd.error(`hmmv trace convert: ${(err as Error).message}`, { exitCode: 1 });
      }
    });

  trace
    .command('info')
    .description('check a trace file and print its header and totals as JSON')
    .argument('<file>', 'trace file (plain or gzip)')
    .action((file: string, _opts: unknown, cmd: Command) => {
      try {
        const t = readTraceFile(file);
        let writes = 0;
        for (let i = 0; i < t.writes.length; i++) writes += t.writes[i]!;
        const info = { file, header: t.header, pages: t.pageCount, epochs: t.epochCount, accesses: t.totalAccesses, writeShare: t.totalAccesses ? writes / t.totalAccesses : 0 };
        process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      } catch (err) {
        cmd.error(`hmmv trace info: ${(err as Error).message}`, { exitCode: 1 });
      }
    });
}

function defaultName(output: string): string {
  const base = output.split('/').pop() ?? 'trace';
  return base.replace(/(\.trace)?(\.gz)?$/, '').replace(/[\s=]+/g, '_') || 'trace';
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer >= 0, got '${value}'`);
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got '${value}'`);
  return n;
}
