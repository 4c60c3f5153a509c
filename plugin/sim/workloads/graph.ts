/**
 * graph: a random-walk traversal of a power-law graph stored as CSR (a vertex
 * array and an edge array), e.g. the pushes of PageRank or the steps of a
 * random-walk sampler (DeepWalk-style).
 *
 * Layout: vertex pages first (16 bytes per vertex: edge offset + property, 256
 * per page), then edge-list pages (4-byte neighbour ids, 1024 per page). With
 * the default average degree of 16 (Graph500's edge factor) a fifth of the
 * pages hold vertices.
 *
 * Popularity: vertex degrees follow a power law (a Chung-Lu graph): the vertex
 * of popularity rank r has degree ∝ (r+1)^-theta. A degree distribution
 * P(d) ∝ d^-gamma corresponds to theta = 1/(gamma - 1); social and web graphs
 * have gamma ≈ 2.1-2.5 (Barabási and Albert, Science 1999), so theta defaults
 * to 0.8 (gamma = 2.25). Ranks are scattered over vertex ids by a seeded
 * affine bijection, so popular vertices are not adjacent. A walk on such a
 * graph visits each vertex in proportion to its degree, so each step's
 * neighbour is drawn with that probability.
 *
 * One operation = one step from v to a neighbour u: read v's vertex entry, read
 * a page of v's edge list (a popular vertex's list spans many pages; its
 * start is approximated as v's id times the average degree), write u's
 * property (visited flag / pushed rank). accessesPerOp = 3 (fixed), 50 ns of
 * CPU per step (graph kernels are memory bound).
 *
 * Lines: a vertex entry is 16 B (4 per line), a neighbour id 4 B (16 per
 * line): each of the three accesses moves one line.
 *
 * What a tiering policy sees: vertex pages (a fifth of memory) take two thirds
 * of the accesses and are skewed (pages holding popular vertices are hot),
 * while edge pages are read about uniformly: a walk uses every edge equally
 * often, since it visits a vertex in proportion to its degree.
 */
import { encodeAccess, type Workload, type WorkloadSpec } from './workload.js';
import { Params, checkOutput, checkPageCount, type ParamSpec } from './params.js';
import { Prng } from './prng.js';
import { ZipfSampler, harmonic } from './zipf.js';

export const GRAPH_PARAMS: readonly ParamSpec[] = [
  { name: 'theta', default: 0.8, min: 0, max: 0.99, description: 'power-law exponent of vertex popularity (0.8: degree exponent 2.25)' },
  { name: 'avgDegree', default: 16, min: 1, max: 1024, description: 'average vertex degree (sets the share of vertex vs edge-list pages)' },
  { name: 'cpuNsPerOp', default: 50, min: 0, description: 'CPU time of one traversal step not spent waiting on memory (ns)' },
];

const VERTICES_PER_PAGE = 256;
const EDGES_PER_PAGE = 1024;

export class GraphWorkload implements Workload {
  readonly name = 'graph';
  readonly pageCount: number;
  readonly cpuNsPerOp: number;
  readonly accessesPerOp = 3;
  /** Pages [0, vertexPages) hold vertices, the rest edge lists. */
  readonly vertexPages: number;
  readonly vertexCount: number;
  readonly edgeCount: number;
  readonly theta: number;
  readonly stateBytes: number;
  private readonly zipf: ZipfSampler;
  private readonly rng: Prng;
  /** Affine bijection rank -> vertex id: (rank * mul + add) mod vertexCount. */
  private readonly mul: number;
  private readonly add: number;
  /** Edges per popularity unit: degree of rank r = edgesPerWeight * (r+1)^-theta. */
  private readonly edgesPerWeight: number;
  private readonly edgesPerVertex: number;
  private current: number;

  constructor(spec: WorkloadSpec) {
    const p = new Params('graph', GRAPH_PARAMS, spec.params);
    checkPageCount('graph', spec.pageCount, 2);
    this.pageCount = spec.pageCount;
    this.cpuNsPerOp = p.num('cpuNsPerOp');
    this.theta = p.num('theta');
    const avgDegree = p.num('avgDegree');
    const vertexBytes = 16;
    const share = vertexBytes / (vertexBytes + 4 * avgDegree);
    this.vertexPages = Math.min(spec.pageCount - 1, Math.max(1, Math.round(spec.pageCount * share)));
    this.vertexCount = this.vertexPages * VERTICES_PER_PAGE;
    this.edgeCount = (spec.pageCount - this.vertexPages) * EDGES_PER_PAGE;
    this.edgesPerVertex = this.edgeCount / this.vertexCount;
    this.edgesPerWeight = this.edgeCount / harmonic(this.vertexCount, this.theta);
    this.zipf = new ZipfSampler(this.vertexCount, this.theta);
    this.stateBytes = this.zipf.stateBytes;
    const setup = new Prng(spec.seed, 1);
    this.mul = coprimeMultiplier(this.vertexCount, setup);
    this.add = setup.nextBelow(this.vertexCount);
    this.rng = new Prng(spec.seed, 0);
    this.current = this.zipf.sample(this.rng);
  }

  /** Vertex id of popularity rank r (0 = most popular). */
  vertexOfRank(rank: number): number {
    return (rank * this.mul + this.add) % this.vertexCount;
  }

  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out, lines);
    const rng = this.rng;
    let o = 0;
    let rank = this.current;
    for (let i = 0; i < ops; i++) {
      const v = this.vertexOfRank(rank);
      out[o] = encodeAccess(Math.floor(v / VERTICES_PER_PAGE), false);
      lines[o++] = (v % VERTICES_PER_PAGE) >>> 2;
      const degree = Math.max(1, Math.round(this.edgesPerWeight * Math.pow(rank + 1, -this.theta)));
      const edge = (Math.floor(v * this.edgesPerVertex) + rng.nextBelow(degree)) % this.edgeCount;
      out[o] = encodeAccess(this.vertexPages + Math.floor(edge / EDGES_PER_PAGE), false);
      lines[o++] = (edge % EDGES_PER_PAGE) >>> 4;
      rank = this.zipf.sample(rng);
      const u = this.vertexOfRank(rank);
      out[o] = encodeAccess(Math.floor(u / VERTICES_PER_PAGE), true);
      lines[o++] = (u % VERTICES_PER_PAGE) >>> 2;
    }
    this.current = rank;
  }
}

/** An odd multiplier in [2^20, 2^21) coprime with n, so rank * mul stays exact below 2^53. */
function coprimeMultiplier(n: number, rng: Prng): number {
  for (;;) {
    const m = (1 << 20) + rng.nextBelow(1 << 20);
    if (gcd(m, n) === 1) return m;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
