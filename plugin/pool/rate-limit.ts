/** Token bucket on a Clock: `ratePerSec` tokens a second, at most `burst` saved up. */
import type { Clock } from '../util/clock.js';

export class TokenBucket {
  private tokens: number;
  private lastNs: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.lastNs = clock.now();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastNs) * this.ratePerSec) / 1e9);
    this.lastNs = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
