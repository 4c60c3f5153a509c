/**
 * Pool policies: time of one allocation at growing VM counts, and quality:
 * accesses/s served from DRAM by each policy (and by the static equal split)
 * against `utility`, on random Zipf-like curves of 256 temperature buckets.
 * `node dist/bench/pool-policies.js` prints JSON; `benchPoolPolicies()` is for bench/run.ts.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { curveBenefit, normalizeCurve, type CurveSegment } from '../plugin/pool/curve.js';
import { allocate, POLICY_NAMES, type VmDemand } from '../plugin/pool/policies.js';

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** A VM of `pages` pages whose hot fraction and skew are random. */
function randomVm(r: () => number, pages: number): VmDemand {
  const skew = 0.6 + r() * 0.8;
  const segs: CurveSegment[] = [];
  let left = pages;
  for (let t = 255; t >= 1 && left > 0; t--) {
    const n = Math.min(left, Math.floor((pages / 255) * (0.2 + r() * 1.6)));
    segs.push([n, 1e4 * Math.pow(t / 255, 1 / (1 - skew / 2)) * (t > 200 ? 10 : 1)]);
    left -= n;
  }
  const curve = normalizeCurve(segs);
  const hot = Math.floor(pages * (0.1 + r() * 0.5));
  return { pageCount: pages, hotSetPages: hot, minPages: 0, maxPages: pages, weight: 1 + Math.floor(r() * 3), curve };
}

export function benchPoolPolicies(): object {
  const results = [];
  for (const n of [4, 16, 64, 256]) {
    const r = rng(n * 7919);
    const vms = Array.from({ length: n }, () => randomVm(r, 262_144 + Math.floor(r() * 786_432)));
    const total = vms.reduce((s, v) => s + v.pageCount, 0);
    const pool = Math.floor(total / 2);
    const served = (q: number[]): number => q.reduce((s, x, i) => s + curveBenefit(vms[i]!.curve, x), 0);
    const best = served(allocate('utility', pool, vms));
    const row: Record<string, unknown> = { vms: n, poolPages: pool, totalPages: total };
    for (const p of POLICY_NAMES) {
      const times: number[] = [];
      let q: number[] = [];
      for (let k = 0; k < 15; k++) {
        const t0 = performance.now();
        q = allocate(p, pool, vms);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      row[p] = { medianMs: +times[7]!.toFixed(3), servedVsUtility: +(served(q) / best).toFixed(4) };
    }
    const equal = vms.map((v) => Math.min(v.pageCount, Math.floor(pool / n)));
    row['staticEqual'] = { servedVsUtility: +(served(equal) / best).toFixed(4) };
    results.push(row);
  }
  return { poolPolicies: results };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(JSON.stringify(benchPoolPolicies(), null, 2) + '\n');
}
