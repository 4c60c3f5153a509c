/**
 * One nested domain of the emulated-Optane host, driven the way an operator
 * drives it (virsh define, hmmv domain enable, virsh start, virsh destroy) and
 * watched from outside hmmv: its serial console (tiny guest heartbeats and
 * content checks), where its hot and cold regions are (one sample per call:
 * move_pages queries on its QEMU process for the linux backend, the module's
 * READ_TIERS on its region for the kmod backend), and its manager's status file.
 */
import { closeSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { readStatus, type ManagerStatus } from '../../plugin/runtime/status-file.js';
import { hmmv, ok, virsh, writeFile, type Timed } from './operator.js';
import { regionNameFor } from '../../plugin/host/kmod/region-name.js';
import { PageTier, readRegionTiers } from './kmod-placement.js';
import { countNodes, gpaToHva, movePagesTo, PAGE, qemuPid } from './placement.js';
import { TinyConsole, defaultLayout, serialSocketPath, tinyDomainXml, type TinyLayout } from './tiny-domain.js';

const MiB = 1 << 20;

export interface TieringPlan {
  quotaMiB: number;
  minMiB?: number;
  maxMiB?: number;
  weight?: number;
  rateMiB: number;
  windowMs: number;
  rounds: number;
}

/** Pages of a region on the DRAM node and on the NVM node (kmod: in DRAM and in the devdax tier). */
export interface Split {
  dram: number;
  nvm: number;
}

export interface Sample {
  /** Seconds since `virsh start` returned. */
  t: number;
  hot: Split;
  cold: Split;
  /** All guest RAM. */
  ram: Split;
  /** Pages that changed node since the previous sample (seen from outside). */
  changed: number;
}

/** Where the domain's RAM lives: a NUMA node per tier (linux), or an hmmv.ko region on a devdax device (kmod). */
export type Backing = { backend: 'linux' } | { backend: 'kmod'; devdax: string };


export class NestedDomain {
  console: TinyConsole | undefined;
  pid: number | undefined;
  startedAt = 0;
  startSeconds = 0;
  readySeconds: number | undefined;
  readonly samples: Sample[] = [];
  pagesChangedNode = 0;
  /** The most DRAM its manager may hold: the plan's max bound (else its quota), in pages; set by enable(). */
  maxQuotaPages: number | undefined;
  private hva: { ram: bigint; hot: bigint; cold: bigint } | undefined;
  private lastNodes: Int32Array | undefined;

  constructor(
    readonly name: string,
    readonly kernel: string,
    readonly nodes: { dram: number; nvm: number },
    readonly layout: TinyLayout = defaultLayout,
    /** Where the guest's RAM starts: 'dram' (first touch, the default) or 'nvm' (numatune preferred = the slow node). */
    readonly startOn: 'dram' | 'nvm' = 'dram',
    readonly backing: Backing = { backend: 'linux' },
  ) {}

  get backend(): 'linux' | 'kmod' {
    return this.backing.backend;
  }

  /** The hmmv.ko region of a kmod domain. */
  get region(): string {
    return regionNameFor(this.name);
  }

  get ramPages(): number {
    return (this.layout.memMiB * MiB) / PAGE;
  }
  get hotPages(): number {
    return (this.layout.hot.lenMiB * MiB) / PAGE;
  }
  get coldPages(): number {
    return (this.layout.cold.lenMiB * MiB) / PAGE;
  }

  async define(): Promise<Timed> {
    mkdirSync(path.dirname(serialSocketPath(this.name)), { recursive: true });
    const file = writeFile(`/tmp/hmmv-e2e/${this.name}.xml`, tinyDomainXml(this.name, this.kernel, this.layout, this.startOn === 'nvm' ? this.nodes.nvm : undefined));
    return ok(await virsh(['define', file]));
  }

  /** `hmmv domain enable NAME --dram ... --nvm-node N --backend linux` (or `--devdax D --backend kmod`) with the plan's pool bounds. */
  async enable(plan: TieringPlan): Promise<Timed> {
    this.maxQuotaPages = ((plan.maxMiB ?? plan.quotaMiB) * MiB) / PAGE;
    const tier = this.backing.backend === 'kmod' ? ['--devdax', this.backing.devdax, '--backend', 'kmod'] : ['--nvm-node', String(this.nodes.nvm), '--backend', 'linux'];
    const args = ['domain', 'enable', this.name, '--dram', `${plan.quotaMiB}MiB`, ...tier,
      '--window-ms', String(plan.windowMs), '--rounds', String(plan.rounds), '--rate', `${plan.rateMiB}MiB`];
    if (plan.minMiB !== undefined) args.push('--dram-min', `${plan.minMiB}MiB`);
    if (plan.maxMiB !== undefined) args.push('--dram-max', `${plan.maxMiB}MiB`);
    if (plan.weight !== undefined) args.push('--weight', String(plan.weight));
    return ok(await hmmv(args));
  }

  /** `virsh start`, then the serial console, the QEMU pid and the regions' host addresses. */
  async start(readyTimeoutMs = 90000): Promise<Timed> {
    // bounded, not expected: three nested TCG domains starting at once took 92-115 s each on a
    // loaded host, 144-150 s in a CI run beside the host group, and over 300 s in another
    const r = ok(await virsh(['start', this.name], 600000));
    this.startedAt = Date.now();
    this.startSeconds = r.seconds;
    this.console?.close();
    this.console = await TinyConsole.open(this.name);
    this.pid = qemuPid(this.name);
    this.hva = {
      ram: await gpaToHva(this.name, 0),
      hot: await gpaToHva(this.name, this.layout.hot.offMiB * MiB),
      cold: await gpaToHva(this.name, this.layout.cold.offMiB * MiB),
    };
    // pc.ram is one linear mapping from guest-physical 0 (the regions are below the PCI hole)
    if (this.hva.hot - this.hva.ram !== BigInt(this.layout.hot.offMiB * MiB)) throw new Error(`${this.name}: guest RAM is not one linear mapping`);
    await this.console.waitReady(readyTimeoutMs);
    this.readySeconds = (this.console.readyAt! - this.startedAt) / 1000;
    this.lastNodes = undefined;
    this.samples.length = 0;
    return r;
  }

  /** Moves all of the guest's RAM to `node` from outside (move_pages on the QEMU process). */
  moveAll(node: number): { moved: number; seconds: number } {
    if (!this.pid || !this.hva) throw new Error(`${this.name} is not started`);
    const t = Date.now();
    const moved = movePagesTo(this.pid, this.hva.ram, this.ramPages, node);
    return { moved, seconds: (Date.now() - t) / 1000 };
  }

  async destroy(): Promise<Timed> {
    const r = await virsh(['destroy', this.name], 60000);
    this.console?.close();
    this.console = undefined;
    return r;
  }

  /**
   * Each page's place: its NUMA node (move_pages on the QEMU process), or
   * for kmod the module's tier mapped to the same two numbers (DRAM as
   * nodes.dram, the devdax tier as nodes.nvm); negative = not present.
   */
  private async pagePlaces(): Promise<Int32Array> {
    const nodes = new Int32Array(this.ramPages);
    if (this.backing.backend === 'linux') {
      countNodes(this.pid!, this.hva!.ram, this.ramPages, nodes);
      return nodes;
    }
    const { tiers } = await readRegionTiers(this.region);
    if (tiers.length !== this.ramPages) throw new Error(`${this.name}: region '${this.region}' has ${tiers.length} pages, the domain ${this.ramPages}`);
    for (let i = 0; i < nodes.length; i++) nodes[i] = tiers[i] === PageTier.Dram ? this.nodes.dram : tiers[i] === PageTier.Nvm ? this.nodes.nvm : -2;
    return nodes;
  }

  /** Where the regions are now, seen from outside the manager. */
  async sample(): Promise<Sample> {
    if (!this.pid || !this.hva) throw new Error(`${this.name} is not started`);
    const nodes = await this.pagePlaces();
    const hotFirst = (this.layout.hot.offMiB * MiB) / PAGE;
    const coldFirst = (this.layout.cold.offMiB * MiB) / PAGE;
    const within = (first: number, count: number): Split => {
      let dram = 0;
      let nvm = 0;
      for (let i = first; i < first + count; i++) {
        if (nodes[i] === this.nodes.dram) dram++;
        else if (nodes[i] === this.nodes.nvm) nvm++;
      }
      return { dram, nvm };
    };
    let changed = 0;
    if (this.lastNodes) for (let i = 0; i < nodes.length; i++) if (nodes[i] !== this.lastNodes[i] && nodes[i]! >= 0 && this.lastNodes[i]! >= 0) changed++;
    this.lastNodes = nodes;
    this.pagesChangedNode += changed;
    const s: Sample = { t: (Date.now() - this.startedAt) / 1000, hot: within(hotFirst, this.hotPages), cold: within(coldFirst, this.coldPages), ram: within(0, this.ramPages), changed };
    this.samples.push(s);
    return s;
  }

  managerStatus(): ManagerStatus | undefined {
    return readStatus(this.name);
  }

  /** The DRAM quota the manager applies now (the pool's, or the static one). */
  quotaPages(): number | undefined {
    return this.managerStatus()?.tiering?.quota.pages;
  }

  /**
   * Flips one word of the cold region in the QEMU process (through
   * /proc/PID/mem), so a content check must fail; returns the undo.
   */
  corruptColdWord(pageInRegion = 7, wordInPage = 3): () => void {
    if (!this.pid || !this.hva) throw new Error(`${this.name} is not started`);
    const at = Number(this.hva.cold) + pageInRegion * PAGE + wordInPage * 4;
    const fd = openSync(`/proc/${this.pid}/mem`, 'r+');
    try {
      const word = Buffer.alloc(4);
      readSync(fd, word, 0, 4, at);
      const flipped = Buffer.from(word.map((b) => b ^ 0xff));
      writeSync(fd, flipped, 0, 4, at);
      return () => {
        const fd2 = openSync(`/proc/${this.pid}/mem`, 'r+');
        try {
          writeSync(fd2, word, 0, 4, at);
        } finally {
          closeSync(fd2);
        }
      };
    } finally {
      closeSync(fd);
    }
  }
}
