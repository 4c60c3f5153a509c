/** The ceiling: a host with enough DRAM for every VM; every page lives in DRAM. */
import { idle, type Policy } from '../machine/policy.js';

export const allDramPolicy: Policy = {
  name: 'all-dram',
  description: 'every page in DRAM (host DRAM enlarged to fit all VMs): the ceiling',
  hostDramPages: (configured, total) => Math.max(configured, total),
  firstTouchDramPages: () => Infinity,
  start: () => idle,
};
