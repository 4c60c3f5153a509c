/**
 * The nested domains of the emulated-Optane test bed: libvirt XML for the
 * tiny guest (tiny-guest/tiny.c, direct kernel boot of a multiboot ELF) and a
 * reader for what it reports on its serial port (a unix socket QEMU listens
 * on; this reader is its only client and can ask for a content check).
 */
import { connect, type Socket } from 'node:net';

export interface TinyLayout {
  memMiB: number;
  /** Guest-physical offset and length of the hot and the cold region, MiB. */
  hot: { offMiB: number; lenMiB: number };
  cold: { offMiB: number; lenMiB: number };
  /** One hot pass every passMs; a full content check every checkS seconds. */
  passMs: number;
  checkS: number;
}

export const defaultLayout: TinyLayout = {
  memMiB: 48,
  hot: { offMiB: 4, lenMiB: 8 },
  // up to 46 MiB: the BIOS keeps the top of RAM (ACPI tables)
  cold: { offMiB: 12, lenMiB: 34 },
  // A pass every 20 ms of guest time. The three nested QEMUs take about 40%
  // of the test bed's CPU with it (out/e2e-host.json host.cpuByPhase), but a
  // pass every 50 ms was tried and the kmod domain did not converge (19032
  // pages moved, its hot region 1344/704 after 470 s on an idle machine): most likely its
  // shortest rounds (tens of ms, no DAMON floor) then miss hot pages.
  passMs: 20,
  // A scheduled check every 120 s of guest time; the suite asks for one after
  // every step that could lose a write. A check reads all 42 MiB of both
  // regions: 6-11 s of guest time under nested TCG, so every 30 s (as it was)
  // spent about a fifth of each nested guest's time checking, and read the
  // whole cold region each time, which the managers see as accesses.
  checkS: 120,
};

export const serialSocketPath = (name: string) => `/run/hmmv-e2e/${name}.serial`;

/**
 * `numaPreferred`: the guest's RAM prefers that host node (libvirt numatune,
 * mode preferred): a host whose DRAM is taken puts a new VM there.
 */
export function tinyDomainXml(name: string, kernel: string, layout: TinyLayout = defaultLayout, numaPreferred?: number): string {
  const cmdline = `hot=${layout.hot.offMiB}M:${layout.hot.lenMiB}M cold=${layout.cold.offMiB}M:${layout.cold.lenMiB}M pass=${layout.passMs} check=${layout.checkS}`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>${layout.memMiB}</memory>
  <vcpu>1</vcpu>${numaPreferred === undefined ? '' : `\n  <numatune><memory mode='preferred' nodeset='${numaPreferred}'/></numatune>`}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${kernel}</kernel>
    <cmdline>${cmdline}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <serial type='unix'>
      <source mode='bind' path='${serialSocketPath(name)}'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

export interface TinyCheck {
  n: number;
  ms: number;
  pass: number;
  hotBad: number;
  coldBad: number;
  took: number;
  /** Check requests the guest had read when this check began. */
  asked: number;
  /** When this reader saw it (Date.now()). */
  at: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Parses `KEY=VALUE` words of a TINY line. */
function fields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of line.split(' ')) {
    const eq = w.indexOf('=');
    if (eq > 0) out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return out;
}

/** The tiny guest's serial port: its lines, heartbeats and content checks. */
export class TinyConsole {
  readonly lines: string[] = [];
  readonly checks: TinyCheck[] = [];
  readonly bad: string[] = [];
  readyAt: number | undefined;
  bootLine: string | undefined;
  lastBeat: { ms: number; pass: number; at: number } | undefined;
  /** The guest's own totals, from its latest heartbeat (a late reader misses none). */
  guestTotals = { checks: 0, hotBad: 0, coldBad: 0 };
  beats = 0;
  private buffered = '';
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly socket: Socket,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to the domain's serial socket (QEMU creates it at start; retried, bounded). */
  static open(name: string, timeoutMs = 30000): Promise<TinyConsole> {
    return TinyConsole.openPath(name, serialSocketPath(name), timeoutMs);
  }

  static async openPath(name: string, socketPath: string, timeoutMs = 30000): Promise<TinyConsole> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(socketPath);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        return new TinyConsole(name, socket);
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`cannot connect to ${name}'s serial socket ${socketPath}: ${(error as Error).message}`);
        await sleep(100);
      }
    }
  }

  private onData(s: string): void {
    this.buffered += s;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).replace(/\r$/, '');
      this.buffered = this.buffered.slice(nl + 1);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    const now = Date.now();
    if (!line.startsWith('TINY ')) return;
    const f = fields(line);
    if (line.startsWith('TINY HB ')) {
      this.beats++;
      this.lastBeat = { ms: Number(f['ms']), pass: Number(f['pass']), at: now };
      this.guestTotals = { checks: Number(f['checks']), hotBad: Number(f['hot_bad']), coldBad: Number(f['cold_bad']) };
      this.noteAsked(f['asked']);
      if (this.readyAt === undefined && f['ready'] !== undefined) this.readyAt = now - (Number(f['ms']) - Number(f['ready']));
    } else {
      this.lines.push(line);
      if (line.startsWith('TINY BOOT ')) this.bootLine = line;
      else if (line.startsWith('TINY READY ')) this.readyAt = now;
      else if (line.startsWith('TINY BAD ') || line.startsWith('TINY FAULT') || line.startsWith('TINY BADARGS')) this.bad.push(line);
      else if (line.startsWith('TINY CHECK ')) {
        this.checks.push({
          n: Number(f['n']), ms: Number(f['ms']), pass: Number(f['pass']),
          hotBad: Number(f['hot_bad']), coldBad: Number(f['cold_bad']), took: Number(f['took']), asked: Number(f['asked']), at: now,
        });
        this.noteAsked(f['asked']);
      }
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until `cond` holds (re-checked on every line), bounded. */
  async until<T>(what: string, cond: () => T | undefined | false, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = cond();
      if (v) return v;
      if (this.closed) throw new Error(`${this.name}: serial socket closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms (last lines: ${this.lines.slice(-5).join(' | ')})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  waitReady(timeoutMs: number): Promise<number> {
    return this.until('TINY READY', () => this.readyAt, timeoutMs);
  }

  /** The guest's count of check requests read, as its last heartbeat or check said (undefined: none seen yet). */
  private askedSeen: number | undefined;

  private noteAsked(value: string | undefined): void {
    if (value !== undefined) this.askedSeen = Math.max(this.askedSeen ?? 0, Number(value));
  }

  /**
   * Asks the guest for a content check now and waits for a check that began
   * after the guest read the request: the first CHECK line after asking may
   * be a check on the schedule that was already running (it would miss a
   * word changed just before asking, in the part it had verified).
   */
  async check(timeoutMs = 30000): Promise<TinyCheck> {
    const deadline = Date.now() + timeoutMs;
    // Requests are answered one at a time, so every earlier one shows in a line already seen.
    await this.until("a heartbeat (the guest's count of check requests)", () => this.askedSeen !== undefined, timeoutMs);
    const want = this.askedSeen! + 1;
    this.socket.write('c');
    return this.until(`TINY CHECK asked=${want}`, () => this.checks.find((c) => c.asked >= want), Math.max(1, deadline - Date.now()));
  }

  /** The guest still beats: a heartbeat within the last `withinMs` (nested TCG on a loaded host loses timer ticks: beats come slower than 1/s). */
  beating(withinMs = 15000): boolean {
    return this.lastBeat !== undefined && Date.now() - this.lastBeat.at < withinMs;
  }

  /** Content checks seen, and the guest's own totals (which count checks made while no reader was connected). */
  summary(): { passed: number; failed: number; guestTotals: TinyConsole['guestTotals']; badLines: string[]; beats: number; lastPass: number | undefined } {
    const failed = this.checks.filter((c) => c.hotBad > 0 || c.coldBad > 0).length;
    return { passed: this.checks.length - failed, failed, guestTotals: this.guestTotals, badLines: this.bad.slice(0, 10), beats: this.beats, lastPass: this.lastBeat?.pass };
  }

  close(): void {
    this.socket.destroy();
  }
}
