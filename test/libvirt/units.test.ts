import assert from 'node:assert/strict';
import { formatSize, parseSize } from '../../plugin/libvirt/units.js';

describe('libvirt sizes', () => {
  it('reads libvirt units: binary K/M/G/T, decimal KB/MB/GB/TB, plain bytes', () => {
    assert.equal(parseSize('2GiB'), 2 * 1024 ** 3);
    assert.equal(parseSize('2G'), 2 * 1024 ** 3);
    assert.equal(parseSize('512 MiB'), 512 * 1024 ** 2);
    assert.equal(parseSize('1048576KiB'), 1024 ** 3);
    assert.equal(parseSize('3GB'), 3e9);
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('4096b'), 4096);
    assert.equal(parseSize('1tib'), 1024 ** 4);
  });

  it('says what is wrong with a bad size', () => {
    assert.match(String(parseSize('lots')), /expected a size like 2GiB.*got 'lots'/);
    assert.match(String(parseSize('2 PiB')), /unknown unit 'PiB'/);
    assert.match(String(parseSize('-1GiB')), /expected a size/);
    assert.match(String(parseSize('99999999999TiB')), /too large/);
  });

  it('writes the shortest exact form, which reads back the same', () => {
    for (const n of [4096, 4097, 1024 ** 3, 1536 * 1024 ** 2, 3 * 1024 ** 4]) assert.equal(parseSize(formatSize(n)), n);
    assert.equal(formatSize(1536 * 1024 ** 2), '1536MiB');
    assert.equal(formatSize(2 * 1024 ** 3), '2GiB');
    assert.equal(formatSize(4097), '4097');
  });
});
