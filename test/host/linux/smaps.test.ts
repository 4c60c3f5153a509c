/** smaps parsing on a recorded /proc/PID/smaps of the test workload with its cold region in THP. */
import assert from 'node:assert/strict';
import { parseSmaps, thpBytesIn } from '../../../plugin/host/linux/smaps.js';
import { fixtureText } from './fixtures.js';

describe('linux host: smaps', () => {
  const entries = parseSmaps(fixtureText('smaps/workload-thp.smaps'));
  const info = JSON.parse(fixtureText('smaps/workload-thp.json')) as { regions: { name: string; start: string; pages: number }[] };
  const region = (name: string) => {
    const r = info.regions.find((x) => x.name === name)!;
    return { start: BigInt(r.start), lengthBytes: r.pages * 4096 };
  };

  it('reads every mapping with its kB fields as bytes', () => {
    assert.equal(entries.length, 19);
    const cold = entries.find((e) => e.start === region('cold').start)!;
    assert.equal(cold.end - cold.start, 8n << 20n);
    assert.deepEqual([cold.kb.get('Rss'), cold.kb.get('AnonHugePages'), cold.kb.get('KernelPageSize')], [8 << 20, 8 << 20, 4096]);
  });

  it('counts THP bytes only in the mappings that overlap the given guest RAM', () => {
    assert.equal(thpBytesIn(entries, [region('cold')]), 8 << 20);
    assert.equal(thpBytesIn(entries, [region('hot-read'), region('hot-write')]), 0);
    assert.equal(thpBytesIn(entries, []), 0);
  });
});
