/**
 * One manager as its own process, INSIDE the test-bed guest: the linux backend
 * on one workload process plus an engine session with a static quota, as
 * `hmmv manage` runs it for a domain (without QMP: the workload stands in for
 * QEMU's guest RAM). in-guest.ts starts several at once, stops one with
 * SIGTERM and kills one with SIGKILL.
 *
 *   node manager-proc.js '{"name":..,"pid":..,"ram":[..],"quotaPages":..}'
 *
 * Prints one line per event on stdout:
 *   MANAGER {"event":"opened","kdamond":N,...}
 *   MANAGER {"event":"window",...}          every window
 *   MANAGER {"event":"stopped","totals":{...}}   after SIGTERM, slot given back
 */
import { openLinuxHost } from '../../plugin/host/linux/linux-host.js';
import { startEngineSession } from '../../plugin/session/engine-session.js';
import { defaultEngineOptions } from '../../plugin/engine/run.js';
import { wallClock } from '../../plugin/util/clock.js';

interface ManagerArgs {
  name: string;
  pid: number;
  ram: { name: string; start: string; lengthBytes: number }[];
  quotaPages: number;
  runDir: string;
  roundsPerWindow?: number;
  roundIntervalMs?: number;
}

const say = (event: string, data: Record<string, unknown> = {}) => process.stdout.write(`MANAGER ${JSON.stringify({ event, ...data })}\n`);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ManagerArgs;
  const host = await openLinuxHost({
    pid: args.pid,
    ram: args.ram.map((r) => ({ name: r.name, start: BigInt(r.start), lengthBytes: r.lengthBytes })),
    dramNodes: [0],
    nvmNodes: [1],
    damon: { sampleUs: 5000, aggrUs: 100_000, updateUs: 1_000_000, minRegions: 100, maxRegions: 1000 },
    damonRegistry: { runDir: args.runDir },
  });
  say('opened', { kdamond: host.damon.index, pageCount: host.pageCount, thpBytes: host.info.thpBytes, regions: host.regions().map((r) => ({ name: r.name, firstPage: r.firstPage, pageCount: r.pageCount })) });
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort(new Error('SIGTERM')));
  const session = startEngineSession({
    name: args.name,
    host,
    clock: wallClock,
    engine: { ...defaultEngineOptions(args.quotaPages), roundsPerWindow: args.roundsPerWindow ?? 4, roundIntervalNs: (args.roundIntervalMs ?? 100) * 1e6, migrationBytesPerSec: 64 << 20 },
    signal: stop.signal,
    onWindow: (s) =>
      say('window', {
        window: s.window,
        dram: s.dramPages,
        nvm: s.nvmPages,
        quota: s.quotaPages,
        hotSet: s.hotSetPages,
        planned: s.planned,
        promoted: s.totals.promoted,
        demoted: s.totals.demoted,
        busy: s.totals.busy,
        failed: s.totals.failed,
        unitMoves: host.unitMoves,
        units: host.lastUnitCount,
        damonRestarts: host.damon.restarts,
      }),
  });
  const totals = await session.done;
  await session.close();
  const failure = session.failure();
  await host.close();
  say('stopped', { totals: session.totals(), failure: failure?.message, ok: totals !== undefined, unitMoves: host.unitMoves });
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    say('error', { message: err.message, stack: err.stack });
    process.exit(1);
  },
);
