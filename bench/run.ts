/**
 * `npm run bench`: runs the benchmarks and writes JSON (stdout and
 * out/bench.json). Not a test: figures vary with the machine's load; compare
 * ratios within one run.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { benchEngineWindow } from './engine-window.js';
import { measureSimThroughput } from './sim-throughput.js';

const SIZES = [256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024];

async function main() {
  const engine = [];
  for (const pages of SIZES) {
    process.stderr.write(`engine window: ${pages} pages...\n`);
    engine.push(await benchEngineWindow(pages));
  }
  process.stderr.write('simulator throughput...\n');
  const simulator = await measureSimThroughput();
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    engineWindow: engine,
    simulator,
    targets: { msPerWindowAt16MiPages: 100, bytesPerPage: 4 },
  };
  const json = JSON.stringify(result, null, 2);
  await mkdir('out', { recursive: true });
  await writeFile('out/bench.json.tmp', json + '\n');
  await rename('out/bench.json.tmp', 'out/bench.json');
  process.stdout.write(json + '\n');
}

await main();
