/**
 * Fuzzing the daemon's wire protocol (fast-check): random JSON, random bytes,
 * and valid messages with fields mutated (wrong types, out-of-range numbers,
 * extra or missing fields, huge arrays), from several connections at once, in
 * any order. After every case: each reply is a valid server message, no
 * reply is an internal error, the daemon still answers, and its quotas sum to
 * at most the pool and stay within each VM's [min, max] (mins scaled only
 * when they do not fit the pool), also after reallocations.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import type { PoolDaemon } from '../../plugin/pool/daemon.js';
import { VirtualClock } from '../../plugin/sim/machine/virtual-clock.js';
import { Peer, hello, report, startDaemon, tempDir, until } from './helpers.js';

const POOL = 10_000;

/** A JSON value of any shape (small). */
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** A valid message of each kind, from a few domains. */
const validMessage = fc.oneof(
  fc.record({ d: fc.constantFrom('a', 'b', 'c'), q: fc.nat(12_000), min: fc.nat(9000), max: fc.nat(12_000), w: fc.integer({ min: 1, max: 1000 }), pages: fc.integer({ min: 0, max: 12_000 }) }).map(({ d, q, min, max, w, pages }) =>
    hello(d, { currentQuotaPages: q, minPages: min, maxPages: max, weight: w, pageCount: pages }),
  ),
  fc.record({ seq: fc.nat(1000), hot: fc.nat(8000), rate: fc.double({ min: 0, max: 1e6, noNaN: true }) }).map(({ seq, hot, rate }) => report(seq, hot, rate)),
  fc.constantFrom({ type: 'bye' }, { type: 'status' }, { type: 'subscribe' }),
);

/** A valid message with one field replaced, removed or added. */
const mutated = fc
  .tuple(
    validMessage,
    fc.oneof(
      fc.record({ op: fc.constant('set' as const), key: fc.constantFrom('type', 'protocol', 'domain', 'pageCount', 'pageSizeBytes', 'currentQuotaPages', 'minPages', 'maxPages', 'weight', 'seq', 'dramPages', 'hotSetPages', 'curve', 'histogram', 'accessesPerSec', 'migrationPagesPerSec'), value: fc.oneof(anyJson, fc.constantFrom(-1, 1e300, -1e300, 0.5, 2 ** 53, '', 'x'.repeat(300), [], [[1e12, 1e12]], [[-5, 1]], new Array(300).fill(1))) }),
      fc.record({ op: fc.constant('drop' as const), key: fc.constantFrom('type', 'domain', 'seq', 'curve', 'pageCount', 'currentQuotaPages') }),
      fc.record({ op: fc.constant('add' as const), key: fc.string({ maxLength: 8 }), value: anyJson }),
    ),
  )
  .map(([m, mut]) => {
    const out: Record<string, unknown> = { ...(m as unknown as Record<string, unknown>) };
    if (mut.op === 'drop') delete out[mut.key];
    else out[mut.key] = mut.value;
    return JSON.stringify(out);
  });

/** What a peer sends: valid, mutated, any JSON, any text, any bytes, or a frame over the size limit. */
const frame = fc.oneof(
  { weight: 4, arbitrary: validMessage.map((m) => JSON.stringify(m)) },
  { weight: 5, arbitrary: mutated },
  { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
  // Big frames as markers (expanded when sent), so a counterexample stays readable.
  { weight: 1, arbitrary: fc.constantFrom({ big: 20_000 }, { big: 200_000 }) },
);

/** The bytes of a frame: big markers become a report with a histogram of that many entries (over the size limits). */
const bytesOf = (f: string | Buffer | { big: number }): string | Buffer => (typeof f === 'object' && 'big' in f ? JSON.stringify({ ...report(0, 1), histogram: new Array(f.big).fill(7) }) : f);

describe('pool daemon under fuzzed wire messages', function () {
  this.timeout(180_000);

  it('always a valid reply or silence, never an internal error, a hang, or a quota out of bounds', async () => {
    const tmp = tempDir();
    const clock = new VirtualClock(1e12);
    let d: PoolDaemon | undefined;
    let cases = 0;
    try {
      d = await startDaemon(join(tmp.dir, 'pool.sock'), { clock, poolPages: POOL, rateLimit: { messagesPerSec: 100, burst: 100 } });
      const daemon = d;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.nat(2), frame), { minLength: 1, maxLength: 30 }), fc.boolean(), async (script, closeSome) => {
          cases++;
          const peers = await Promise.all([0, 1, 2].map(() => Peer.open(daemon.address)));
          try {
            for (const [who, data] of script) peers[who]!.ws.send(bytesOf(data));
            if (closeSome) peers[0]!.terminate();
            // The daemon still answers on every connection it kept open (and so has taken everything sent before on it).
            // It closes one only when another takes over its domain (4000 'replaced') or a frame is over ws's limit (1009).
            for (const p of peers.slice(closeSome ? 1 : 0)) {
              if (!p.closed) await p.ask({ type: 'status' }, 'state').catch((err: Error) => (p.closed ? undefined : Promise.reject(err)));
              if (p.closed) assert.ok(p.closeCode === 4000 || p.closeCode === 1009, `the daemon closed a connection with ${p.closeCode}`);
            }
            const fresh = await Peer.open(daemon.address);
            await fresh.ask({ type: 'status' }, 'state');
            fresh.terminate();
            await clock.advanceTo(clock.now() + 1e9); // refills the rate limits; lets grace periods run
            daemon.tick();
            await clock.advanceTo(clock.now() + 11e9);
            daemon.tick();
            for (const p of peers) {
              assert.deepEqual(p.invalid, [], 'the daemon sent a message its own schema refuses');
              const internal = p.messages.filter((m) => m.type === 'error' && m.code === 'internal');
              assert.deepEqual(internal, [], 'an internal error is a bug');
            }
            const s = daemon.core.state(clock.now() / 1e6);
            assert.ok(s.allocatedPages <= POOL, `allocated ${s.allocatedPages} > pool ${POOL}`);
            const minsFit = s.vms.reduce((a, v) => a + v.minPages, 0) <= POOL;
            for (const v of s.vms) {
              assert.ok(v.quotaPages <= v.maxPages && v.maxPages <= v.pageCount, `${v.domain}: quota ${v.quotaPages} over max ${v.maxPages} (size ${v.pageCount})`);
              if (minsFit) assert.ok(v.quotaPages >= v.minPages, `${v.domain}: quota ${v.quotaPages} under min ${v.minPages} though all mins fit`);
            }
          } finally {
            for (const p of peers) p.terminate();
            await until(() => daemon.core.state(clock.now() / 1e6).vms.every((v) => !v.connected), 'the connections to close');
            await clock.advanceTo(clock.now() + 20e9); // past the grace period: the next case starts from an empty pool
            daemon.tick();
          }
        }),
        { numRuns: 100, seed: 1234, endOnFailure: true },
      );
    } finally {
      await d?.close();
      tmp.cleanup();
    }
    assert.equal(cases >= 100, true);
  });
});
