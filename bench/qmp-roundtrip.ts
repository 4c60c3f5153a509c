/**
 * QMP client costs against a real QEMU (TCG, paused): connect, sequential
 * round trip, pipelined throughput, the RAM-layout query and its parsing.
 * Prints one JSON object. Run: `npm run build && node dist/bench/qmp-roundtrip.js`.
 */
import { performance } from 'node:perf_hooks';
import { QmpClient } from '../qmp/client.js';
import { QmpCommands } from '../qmp/commands.js';
import { buildGuestRamMap, parseInfoMtreeFlat, parseInfoRamblock } from '../qmp/hmp-parsers.js';
import { startQemu } from '../test/helpers/qemu.js';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const round = (x: number): number => Math.round(x * 1000) / 1000;

const qemu = await startQemu();
try {
  const t0 = performance.now();
  const client = await QmpClient.connect({ path: qemu.qmpSocketPath });
  const connectMs = performance.now() - t0;
  const qmp = new QmpCommands(client);

  const sequential: number[] = [];
  for (let i = 0; i < 500; i++) {
    const s = performance.now();
    await client.execute('query-status');
    sequential.push(performance.now() - s);
  }
  sequential.sort((a, b) => a - b);

  const inFlight = 2000;
  const p0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, () => client.execute('query-status')));
  const pipelinedMs = performance.now() - p0;

  const l0 = performance.now();
  const mtreeText = await qmp.humanMonitorCommand('info mtree -f');
  const ramText = await qmp.humanMonitorCommand('info ramblock');
  const layoutQueryMs = performance.now() - l0;
  const parseRuns = 1000;
  const x0 = performance.now();
  for (let i = 0; i < parseRuns; i++) buildGuestRamMap(parseInfoMtreeFlat(mtreeText), parseInfoRamblock(ramText));
  const parseMs = (performance.now() - x0) / parseRuns;

  await client.close();
  process.stdout.write(
    JSON.stringify(
      {
        bench: 'qmp-roundtrip',
        qemu: qemu.args.includes('-S') ? 'paused (TCG)' : 'running (TCG)',
        qemuVersion: client.greeting.version,
        connectMs: round(connectMs),
        sequentialQueryStatusMs: { n: sequential.length, p50: round(percentile(sequential, 50)), p90: round(percentile(sequential, 90)), p99: round(percentile(sequential, 99)) },
        pipelined: { commands: inFlight, totalMs: round(pipelinedMs), perSecond: Math.round(inFlight / (pipelinedMs / 1000)) },
        ramLayout: { queryMs: round(layoutQueryMs), mtreeBytes: mtreeText.length, parseAndMapMs: round(parseMs) },
      },
      null,
      2,
    ) + '\n',
  );
} finally {
  await qemu.stop();
}
