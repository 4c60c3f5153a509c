/**
 * Child process of the two-build comparison (two-builds.ts): imports one
 * build's benchmark module, calls one exported function with JSON arguments
 * and prints its JSON result as the last line of stdout. Lives in the current
 * build only, so it can run a previous build's benchmarks that have no command
 * line of their own:
 *
 *   node dist/bench/run-export.js /abs/path/to/dist/bench/engine-window.js benchEngineWindow '[16777216]'
 */
import { pathToFileURL } from 'node:url';

const [modulePath, exportName, argsJson = '[]'] = process.argv.slice(2);
if (!modulePath || !exportName) {
  process.stderr.write('usage: run-export.js MODULE_FILE EXPORT_NAME [ARGS_JSON]\n');
  process.exit(2);
}
const args: unknown = JSON.parse(argsJson);
if (!Array.isArray(args)) throw new TypeError(`ARGS_JSON must be a JSON array, got ${argsJson}`);
const mod = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
const fn = mod[exportName];
if (typeof fn !== 'function') throw new TypeError(`${modulePath} has no exported function ${exportName}`);
const result: unknown = await (fn as (...a: unknown[]) => unknown)(...args);
process.stdout.write('\n' + JSON.stringify(result) + '\n');
