/**
 * Pages per temperature, by tier, kept up to date as temperatures change (window
 * pass) and pages change tier (migrator), so no window needs a pass over all
 * pages to count them. Recounted in full only when the tier map is re-read.
 */
import type { PageState } from './page-state.js';
import { TEMPERATURE_LEVELS } from './temperature.js';

export class TemperatureHistograms {
  readonly dram = new Uint32Array(TEMPERATURE_LEVELS);
  readonly nvm = new Uint32Array(TEMPERATURE_LEVELS);

  recount(state: PageState): void {
    this.dram.fill(0);
    this.nvm.fill(0);
    const { temperature, nvm, pageCount } = state;
    for (let page = 0; page < pageCount; page++) {
      if ((nvm[page >>> 5]! & (1 << (page & 31))) !== 0) this.nvm[temperature[page]!]!++;
      else this.dram[temperature[page]!]!++;
    }
  }

  /** A page in tier `inNvm` went from temperature `from` to `to`. */
  retemper(inNvm: boolean, from: number, to: number): void {
    const h = inNvm ? this.nvm : this.dram;
    h[from]!--;
    h[to]!++;
  }

  /** A page at temperature `t` changed tier. */
  changeTier(t: number, toNvm: boolean): void {
    if (toNvm) {
      this.dram[t]!--;
      this.nvm[t]!++;
    } else {
      this.nvm[t]!--;
      this.dram[t]!++;
    }
  }
}
