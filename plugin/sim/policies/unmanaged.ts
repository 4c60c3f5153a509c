/**
 * The floor: whole-VM unmanaged placement. Pages are backed at first touch,
 * from DRAM while the host has any, then from NVM, and never move.
 */
import { idle, type Policy } from '../machine/policy.js';

export const unmanagedPolicy: Policy = {
  name: 'unmanaged',
  description: 'first touch fills DRAM, the rest lands in NVM, nothing moves: the floor',
  hostDramPages: (configured) => configured,
  firstTouchDramPages: () => Infinity,
  start: () => idle,
};
