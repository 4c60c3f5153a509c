import assert from 'node:assert/strict';
import { checkTierNodes, readTopology, type Topology } from '../../../plugin/host/linux/topology.js';
import { parseNodeList } from '../../../plugin/host/linux/sysfs.js';

const node = (id: number, mem: number, distances: number[], cpus: number[] = []) => ({ id, memTotalBytes: mem, memFreeBytes: mem / 2, distances, cpus });
const twoNodes: Topology = {
  nodes: [node(0, 1 << 30, [10, 20], [0, 1]), node(1, 1 << 30, [20, 10])],
  memoryTiers: [{ name: 'memory_tier4', rank: 4, nodes: [0, 1] }],
  memoryTieringPresent: true,
};

describe('linux host: topology', () => {
  it('parses kernel node lists', () => {
    assert.deepEqual(parseNodeList('0-2,4'), [0, 1, 2, 4]);
    assert.deepEqual(parseNodeList(''), []);
    assert.throws(() => parseNodeList('0-x'), /bad node list "0-x"/);
  });

  it('reads this host: node 0 exists with memory and a distance to itself', () => {
    const topo = readTopology();
    const n0 = topo.nodes.find((n) => n.id === 0);
    assert.ok(n0, 'node 0');
    assert.ok(n0.memTotalBytes > 0 && n0.memFreeBytes <= n0.memTotalBytes);
    assert.equal(n0.distances[0], 10);
  });

  it('rejects metadata naming a node the host lacks, naming the node and what exists', () => {
    assert.throws(() => checkTierNodes(twoNodes, [0], [3]), /slow-tier \(nvm\) NUMA node 3 does not exist on this host \(online nodes: node0, node1\)/);
    assert.throws(() => checkTierNodes(twoNodes, [0], [0]), /NUMA node 0 is named both DRAM and slow tier/);
    assert.throws(() => checkTierNodes(twoNodes, [], [1]), /no DRAM NUMA node/);
    const noMem: Topology = { ...twoNodes, nodes: [twoNodes.nodes[0]!, node(1, 0, [20, 10])] };
    assert.throws(() => checkTierNodes(noMem, [0], [1]), /slow-tier \(nvm\) NUMA node 1 has no memory/);
  });

  it('warns where the kernel tiers disagree with the metadata', () => {
    assert.match(checkTierNodes(twoNodes, [0], [1]).join('\n'), /same memory tier/);
    const inverted: Topology = { ...twoNodes, memoryTiers: [{ name: 'memory_tier1', rank: 1, nodes: [1] }, { name: 'memory_tier4', rank: 4, nodes: [0] }] };
    assert.match(checkTierNodes(inverted, [0], [1]).join('\n'), /rank slow-tier node 1 \(memory_tier1\) above DRAM node 0/);
    const proper: Topology = { ...twoNodes, memoryTiers: [{ name: 'memory_tier4', rank: 4, nodes: [0] }, { name: 'memory_tier22', rank: 22, nodes: [1] }] };
    assert.deepEqual(checkTierNodes(proper, [0], [1]), []);
  });
});
