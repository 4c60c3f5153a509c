/**
 * Where guest RAM is in 2 MiB pages: units from huge ranges against a
 * per-block reference, and PAGEMAP_SCAN on this machine's kernel against a
 * real process (the test workload, its cold region with MADV_HUGEPAGE),
 * cross-checked with its smaps.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { scanHugeRanges, unitsFromHugeRanges, type AddressRange } from '../../../plugin/host/linux/huge-pages.js';
import { parseSmaps } from '../../../plugin/host/linux/smaps.js';
import type { PagedRange } from '../../../plugin/host/linux/damon-evidence.js';
import { rng } from '../../engine/reference.js';

const MiB2 = 2n << 20n;
const PAGE = 4096n;

function referenceUnits(huge: AddressRange[], ranges: PagedRange[]): number[] {
  const out: number[] = [];
  for (const g of ranges) {
    for (let p = 0; p < g.pageCount; p++) {
      const a = g.hostVirtAddr + BigInt(p) * PAGE;
      if (a % MiB2 !== 0n || p + 512 > g.pageCount) continue;
      if (huge.some((h) => h.start <= a && a + MiB2 <= h.end)) out.push(g.firstPage + p);
    }
  }
  return out;
}

describe('linux host: huge-page units', () => {
  it('numbers every 2 MiB block wholly inside a huge range and a guest-RAM range, as a per-block reference does', () => {
    const random = rng(11);
    for (let trial = 0; trial < 200; trial++) {
      const ranges: PagedRange[] = [];
      let first = 0;
      let addr = 0x7f0000000000n + BigInt(Math.floor(random() * 1024)) * PAGE;
      for (let r = 0; r < 1 + Math.floor(random() * 3); r++) {
        const pageCount = 1 + Math.floor(random() * 3000);
        ranges.push({ firstPage: first, pageCount, hostVirtAddr: addr });
        first += pageCount;
        addr += BigInt(pageCount + Math.floor(random() * 2000)) * PAGE;
      }
      const huge: AddressRange[] = [];
      for (let a = 0x7f0000000000n; a < addr; ) {
        const len = BigInt(1 + Math.floor(random() * 4)) * MiB2;
        if (random() < 0.5) huge.push({ start: a, end: a + len });
        a += len + BigInt(Math.floor(random() * 3)) * MiB2;
      }
      assert.deepEqual(Array.from(unitsFromHugeRanges(huge, ranges)), referenceUnits(huge, ranges), `trial ${trial}`);
    }
  });

  describe('PAGEMAP_SCAN on this machine', function () {
    let dir = '';
    let proc: ChildProcessWithoutNullStreams | undefined;
    let regions: { name: string; start: bigint; pages: number }[] = [];

    before(async function () {
      const thp = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
      if (/\[never\]/.test(thp)) throw new Error(`transparent huge pages are off here (${thp.trim()}): echo madvise > /sys/kernel/mm/transparent_hugepage/enabled`);
      dir = mkdtempSync(join(tmpdir(), 'hmmv-thp-'));
      const source = fileURLToPath(new URL('../../../../test/guest/workload.c', import.meta.url));
      try {
        execFileSync('gcc', ['-O2', '-static', '-o', join(dir, 'workload'), source], { stdio: 'pipe' });
      } catch (err) {
        throw new Error(`building the workload failed (apt-get install gcc libc6-dev): ${(err as Error).message}`);
      }
      proc = spawn(join(dir, 'workload'), ['16', '16', '2048'], { env: { ...process.env, WORKLOAD_THP: '1' } });
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: proc!.stdout }).once('line', resolve);
        proc!.once('exit', (code) => reject(new Error(`workload exited (${code})`)));
      });
      const info = JSON.parse(line.replace(/^WORKLOAD /, '')) as { regions: { name: string; start: string; pages: number }[] };
      regions = info.regions.map((r) => ({ name: r.name, start: BigInt(r.start), pages: r.pages }));
    });

    after(() => {
      proc?.kill('SIGKILL');
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('finds the huge pages smaps counts, and none in regions that refused them', () => {
      const fd = openSync(`/proc/${proc!.pid}/pagemap`, 'r');
      try {
        const smaps = parseSmaps(readFileSync(`/proc/${proc!.pid}/smaps`, 'utf8'));
        for (const r of regions) {
          const end = r.start + BigInt(r.pages) * PAGE;
          const huge = scanHugeRanges(fd, r.start, end);
          const bytes = huge.reduce((n, h) => n + Number(h.end - h.start), 0);
          const vma = smaps.find((e) => e.start <= r.start && e.end >= end)!;
          assert.equal(bytes, vma.kb.get('AnonHugePages'), `${r.name}: PAGEMAP_SCAN ${bytes} bytes vs smaps`);
          for (const h of huge) assert.ok(h.start % MiB2 === 0n && h.end % MiB2 === 0n && h.start >= r.start && h.end <= end, `${r.name}: aligned and inside`);
          if (r.name !== 'cold') assert.equal(bytes, 0, 'MADV_NOHUGEPAGE regions have no huge pages');
        }
        const cold = regions.find((r) => r.name === 'cold')!;
        const units = unitsFromHugeRanges(scanHugeRanges(fd, cold.start, cold.start + BigInt(cold.pages) * PAGE), [{ firstPage: 0, pageCount: cold.pages, hostVirtAddr: cold.start }]);
        assert.ok(units.length >= 1, 'the 8 MiB MADV_HUGEPAGE region got at least one huge page');
      } finally {
        closeSync(fd);
      }
    });
  });
});
